/**
 * Finds the `.BTF` section of an ELF64 object (what `clang -g -target bpf` writes), reading the
 * section headers directly: no dependency on libelf, and every offset is bounds-checked.
 */
import { BtfError } from './errors.js';

/** One ELF section header, the fields needed to find a section's bytes. */
export interface ElfSection {
  readonly name: string;
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  /** Index in the section header table (symbols and relocations refer to sections by it). */
  readonly index: number;
  /** `sh_flags` (SHF_WRITE 1, SHF_ALLOC 2, SHF_EXECINSTR 4). */
  readonly flags: number;
  /** `sh_link`: the symbol table of a relocation section, the string table of a symbol table. */
  readonly link: number;
  /** `sh_info`: the section a relocation section applies to. */
  readonly info: number;
  /** `sh_entsize`: bytes of one entry of a table section. */
  readonly entrySize: number;
  /** True for little-endian files. */
  readonly littleEndian: boolean;
}

/** ELF64 `e_ident` and header field offsets. */
const ELF_CLASS64 = 2;
const E_SHOFF = 0x28;
const E_SHENTSIZE = 0x3a;
const E_SHNUM = 0x3c;
const E_SHSTRNDX = 0x3e;
const ELF64_HEADER_SIZE = 0x40;
const ELF64_SECTION_HEADER_SIZE = 0x40;
/** Section type of sections without file bytes (.bss). */
const SHT_NOBITS = 8;

function elfError(message: string, byteOffset?: number): BtfError {
  return new BtfError('ERR_BTF_ELF', `ELF: ${message}`, byteOffset === undefined ? {} : { byteOffset });
}

/**
 * Lists the sections of an ELF64 file (either byte order).
 * @throws BtfError (`ERR_BTF_ELF`) when the file is not ELF64 or its headers run out of bounds.
 */
export function elfSections(file: Uint8Array): ElfSection[] {
  if (file.length < ELF64_HEADER_SIZE || file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) {
    throw elfError('not an ELF file (bad magic)', 0);
  }
  if (file[4] !== ELF_CLASS64) throw elfError(`only ELF64 is supported (EI_CLASS ${file[4]})`, 4);
  const le = file[5] === 1;
  if (!le && file[5] !== 2) throw elfError(`bad EI_DATA ${file[5]}`, 5);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const u64 = (at: number): number => {
    const value = view.getBigUint64(at, le);
    if (value > BigInt(file.length)) throw elfError(`offset ${value} points past the end of the ${file.length}-byte file`, at);
    return Number(value);
  };
  const tableOffset = u64(E_SHOFF);
  const entrySize = view.getUint16(E_SHENTSIZE, le);
  const count = view.getUint16(E_SHNUM, le);
  const namesIndex = view.getUint16(E_SHSTRNDX, le);
  if (count === 0) throw elfError('no section headers (or more than 65535, which is not supported)', E_SHNUM);
  if (entrySize < ELF64_SECTION_HEADER_SIZE) throw elfError(`section header size ${entrySize} is too small`, E_SHENTSIZE);
  if (tableOffset + count * entrySize > file.length) throw elfError('section header table runs past the end of the file', E_SHOFF);
  const raw = [];
  for (let i = 0; i < count; i++) {
    const at = tableOffset + i * entrySize;
    const type = view.getUint32(at + 4, le);
    const offset = u64(at + 24);
    const size = u64(at + 32);
    if (type !== SHT_NOBITS && offset + size > file.length) throw elfError(`section ${i} runs past the end of the file`, at);
    raw.push({
      nameOffset: view.getUint32(at, le),
      type,
      offset,
      size,
      flags: Number(view.getBigUint64(at + 8, le) & 0xffffffffn),
      link: view.getUint32(at + 40, le),
      info: view.getUint32(at + 44, le),
      entrySize: Number(view.getBigUint64(at + 56, le) & 0xffffffffn),
    });
  }
  const names = raw[namesIndex];
  if (!names) throw elfError(`e_shstrndx ${namesIndex} is not a section`, E_SHSTRNDX);
  return raw.map(({ nameOffset, type, offset, size, flags, link, info, entrySize }, index) => {
    const start = names.offset + nameOffset;
    let end = start;
    while (end < names.offset + names.size && file[end] !== 0) end++;
    if (nameOffset >= names.size) throw elfError(`section name offset ${nameOffset} is outside the name table`);
    const name = Buffer.from(file.buffer, file.byteOffset + start, end - start).toString('latin1');
    return { name, type, offset, size, index, flags, link, info, entrySize, littleEndian: le };
  });
}

/**
 * The bytes of a named section (a view, not a copy), or undefined when there is none.
 * @throws BtfError (`ERR_BTF_ELF`) when the file is not a valid ELF64 file.
 */
export function elfSection(file: Uint8Array, name: string): Uint8Array | undefined {
  const section = elfSections(file).find((s) => s.name === name);
  return section && section.type !== SHT_NOBITS ? file.subarray(section.offset, section.offset + section.size) : undefined;
}
