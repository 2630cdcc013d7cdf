/**
 * Function symbols of an ELF64 binary or shared library, turned into the file offsets that
 * uprobes take: `st_value - sh_addr + sh_offset` of the section that holds the function, as
 * libbpf computes it. `.symtab` is searched first (unstripped binaries), then `.dynsym`
 * (exported functions of stripped ones). Every offset read is bounds-checked.
 */

/** A function found in a binary. */
export interface ElfFunction {
  readonly name: string;
  /** The function's virtual address (st_value). */
  readonly address: bigint;
  /** Where its first instruction lies in the file: what a uprobe's offset means. */
  readonly fileOffset: bigint;
  readonly size: bigint;
}

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const SYMBOL_SIZE = 24;

/** A section header of an ELF64 file, named from its section-name table ('' when unreadable). */
export interface ElfSection {
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly address: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
}

/** Why a file is not a readable ELF64 binary; the message says where. */
export class ElfFormatError extends Error {
  override readonly name = 'ElfFormatError';
}

/**
 * The section headers of an ELF64 file, its byte order and its e_machine. Sections' contents are
 * not checked here: each reader checks the bounds of the sections it reads.
 * @throws ElfFormatError when the file is not ELF64 or its header table is out of bounds.
 */
export function elfSections(file: Uint8Array): { sections: ElfSection[]; le: boolean; view: DataView; machine: number } {
  if (file.length < 0x40 || file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) throw new ElfFormatError('not an ELF file (bad magic)');
  if (file[4] !== 2) throw new ElfFormatError(`only ELF64 binaries are supported (EI_CLASS ${file[4]})`);
  const le = file[5] === 1;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const tableOffset = Number(view.getBigUint64(0x28, le));
  const entrySize = view.getUint16(0x3a, le);
  const count = view.getUint16(0x3c, le);
  const namesIndex = view.getUint16(0x3e, le);
  if (entrySize < 0x40 || tableOffset + count * entrySize > file.length) throw new ElfFormatError('the section header table runs past the end of the file');
  const headers: Array<Omit<ElfSection, 'name'> & { nameOffset: number }> = [];
  for (let i = 0; i < count; i++) {
    const at = tableOffset + i * entrySize;
    headers.push({
      nameOffset: view.getUint32(at, le), type: view.getUint32(at + 4, le), flags: view.getBigUint64(at + 8, le), address: view.getBigUint64(at + 16, le),
      offset: Number(view.getBigUint64(at + 24, le)), size: Number(view.getBigUint64(at + 32, le)), link: view.getUint32(at + 40, le),
    });
  }
  const names = headers[namesIndex];
  const sections = headers.map(({ nameOffset, ...header }) => ({ ...header, name: (names && readName(file, names, nameOffset)) ?? '' }));
  return { sections, le, view, machine: view.getUint16(0x12, le) };
}

function readName(file: Uint8Array, strings: { readonly offset: number; readonly size: number }, nameOffset: number): string | undefined {
  if (nameOffset >= strings.size || strings.offset + strings.size > file.length) return undefined;
  const start = strings.offset + nameOffset;
  const limit = strings.offset + strings.size;
  let end = start;
  while (end < limit && file[end] !== 0) end++;
  return Buffer.from(file.buffer, file.byteOffset + start, end - start).toString('latin1');
}

/**
 * Every defined function of an ELF64 file's symbol tables (`.symtab` first, then `.dynsym`),
 * versions stripped from names (`malloc@@GLIBC_2.2.5` is `malloc`). A name may repeat.
 * @throws ElfFormatError when the file is not ELF64 or its tables are out of bounds.
 */
export function* elfFunctions(file: Uint8Array): Generator<ElfFunction> {
  const { sections: headers, le, view } = elfSections(file);
  headers.forEach((header, i) => {
    if ((header.type === SHT_SYMTAB || header.type === SHT_DYNSYM) && header.offset + header.size > file.length) throw new ElfFormatError(`section ${i} runs past the end of the file`);
  });
  for (const tableType of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const table of headers.filter((h) => h.type === tableType)) {
      const strings = headers[table.link];
      if (!strings) continue;
      for (let at = table.offset; at + SYMBOL_SIZE <= table.offset + table.size; at += SYMBOL_SIZE) {
        const symbolType = file[at + 4]! & 0xf;
        if (symbolType !== STT_FUNC && symbolType !== STT_GNU_IFUNC) continue;
        const sectionIndex = view.getUint16(at + 6, le);
        if (sectionIndex === SHN_UNDEF || sectionIndex >= SHN_LORESERVE) continue;
        const symbolName = readName(file, strings, view.getUint32(at, le));
        const section = headers[sectionIndex];
        if (symbolName === undefined || symbolName === '' || !section) continue;
        const address = view.getBigUint64(at + 8, le);
        if (address < section.address) continue;
        const versionAt = symbolName.indexOf('@');
        yield {
          name: versionAt < 0 ? symbolName : symbolName.slice(0, versionAt),
          address,
          fileOffset: address - section.address + BigInt(section.offset),
          size: view.getBigUint64(at + 16, le),
        };
      }
    }
  }
}

/**
 * Finds function `name` in an ELF64 file's symbol tables (`name@VERSION` and `name@@VERSION`
 * symbols match `name` too). Undefined when there is no defined function of that name.
 * @throws ElfFormatError when the file is not ELF64 or its tables are out of bounds.
 */
export function findElfFunction(file: Uint8Array, name: string): ElfFunction | undefined {
  for (const found of elfFunctions(file)) if (found.name === name) return found;
  return undefined;
}
