/**
 * The parts of an ELF64 BPF object the loader reads: sections (from the BTF module's section
 * reader), the symbol table and the relocation tables. Every offset is checked against the file.
 */
import { elfSections, type ElfSection } from '../codec/btf/elf.js';
import { BtfError } from '../codec/btf/errors.js';
import { ObjectError } from './errors.js';

export type { ElfSection };

/** Section types and flags the loader looks at. */
export const SectionType = { PROGBITS: 1, SYMTAB: 2, STRTAB: 3, NOBITS: 8, REL: 9 } as const;
export const SectionFlags = { WRITE: 1, ALLOC: 2, EXECINSTR: 4 } as const;
/** Symbol types (`st_info & 0xf`) and bindings (`st_info >> 4`). */
export const SymbolType = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3 } as const;
export const SymbolBinding = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
/** `st_shndx` of an undefined (extern) symbol. */
export const SHN_UNDEF = 0;
/** First reserved section index (SHN_ABS, SHN_COMMON, ...). */
export const SHN_LORESERVE = 0xff00;
/** BPF relocation types. */
export const RelocationType = { NONE: 0, BPF_64_64: 1, BPF_64_ABS64: 2, BPF_64_ABS32: 3, BPF_64_NODYLD32: 4, BPF_64_32: 10 } as const;

/** `e_machine` of BPF objects. */
const EM_BPF = 247;
const SYMBOL_SIZE = 24;
const REL_SIZE = 16;

/** One symbol table entry. */
export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly binding: number;
  /** `st_other & 3`: 0 default, 2 hidden. */
  readonly visibility: number;
  /** The section index the symbol is defined in (`SHN_UNDEF` for externs). */
  readonly section: number;
  /** Offset in its section. */
  readonly value: number;
  readonly size: number;
}

/** One relocation (`Elf64_Rel`; BPF objects have no addends beside the instruction's own). */
export interface ElfRelocation {
  /** Byte offset in the section it applies to. */
  readonly offset: number;
  readonly symbol: ElfSymbol;
  readonly type: number;
}

/** A parsed ELF object: sections by index and name, symbols, relocations per section. */
export class ElfObject {
  readonly bytes: Uint8Array;
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  readonly littleEndian: boolean;
  /**
   * Relocation tables by the section they apply to, read on first use: most of an object's are
   * for DWARF (`.rel.debug_str_offsets` alone has one per string), which the loader never reads,
   * as libbpf skips them.
   */
  readonly #relocationSections = new Map<number, ElfSection[]>();
  readonly #relocations = new Map<number, ElfRelocation[]>();
  readonly #byName = new Map<string, ElfSection>();

  constructor(file: Uint8Array) {
    // A plain Uint8Array over the same memory: a Node Buffer's slice() would be a view, and the
    // loader relies on slice() copying section bytes before it patches them.
    const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    this.bytes = bytes;
    try {
      this.sections = elfSections(bytes);
    } catch (error) {
      if (error instanceof BtfError) throw new ObjectError('ERR_BPFMAP_OBJECT_ELF', error.message, {}, { cause: error });
      throw error;
    }
    this.littleEndian = bytes[5] === 1;
    const machine = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(18, this.littleEndian);
    if (machine !== EM_BPF) throw new ObjectError('ERR_BPFMAP_OBJECT_ELF', `not a BPF object: e_machine is ${machine}, BPF is ${EM_BPF} (build with clang -target bpf)`);
    for (const section of this.sections) if (!this.#byName.has(section.name)) this.#byName.set(section.name, section);
    const symtab = this.sections.find((s) => s.type === SectionType.SYMTAB);
    this.symbols = symtab ? this.#readSymbols(symtab) : [];
    for (const section of this.sections) {
      if (section.type !== SectionType.REL) continue;
      const list = this.#relocationSections.get(section.info) ?? [];
      list.push(section);
      this.#relocationSections.set(section.info, list);
    }
  }

  /** The first section with this name. */
  section(name: string): ElfSection | undefined {
    return this.#byName.get(name);
  }

  /** The section at an index. */
  sectionAt(index: number): ElfSection | undefined {
    return this.sections[index];
  }

  /** A section's bytes (a view; empty for NOBITS sections such as .bss). */
  data(section: ElfSection): Uint8Array {
    if (section.type === SectionType.NOBITS) return new Uint8Array(0);
    return this.bytes.subarray(section.offset, section.offset + section.size);
  }

  /** The relocations that apply to the section at `index`, in file order. */
  relocations(index: number): readonly ElfRelocation[] {
    let list = this.#relocations.get(index);
    if (!list) {
      list = [];
      for (const section of this.#relocationSections.get(index) ?? []) list.push(...this.#readRelocations(section));
      this.#relocations.set(index, list);
    }
    return list;
  }

  #view(section: ElfSection): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + section.offset, section.size);
  }

  #string(table: ElfSection, offset: number): string {
    if (offset >= table.size) throw new ObjectError('ERR_BPFMAP_OBJECT_ELF', `string offset ${offset} is outside ${table.name || 'the string table'}`);
    const start = table.offset + offset;
    const end = this.bytes.indexOf(0, start);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, (end < 0 || end > table.offset + table.size ? table.offset + table.size : end) - start).toString('latin1');
  }

  #readSymbols(symtab: ElfSection): ElfSymbol[] {
    const strings = this.sections[symtab.link];
    if (!strings) throw new ObjectError('ERR_BPFMAP_OBJECT_ELF', `the symbol table links to section ${symtab.link}, which does not exist`);
    const view = this.#view(symtab);
    const le = this.littleEndian;
    const symbols: ElfSymbol[] = [];
    for (let at = 0, index = 0; at + SYMBOL_SIZE <= symtab.size; at += SYMBOL_SIZE, index++) {
      const info = view.getUint8(at + 4);
      symbols.push({
        index,
        name: this.#string(strings, view.getUint32(at, le)),
        type: info & 0xf,
        binding: info >> 4,
        visibility: view.getUint8(at + 5) & 3,
        section: view.getUint16(at + 6, le),
        value: Number(view.getBigUint64(at + 8, le)),
        size: Number(view.getBigUint64(at + 16, le)),
      });
    }
    return symbols;
  }

  #readRelocations(section: ElfSection): ElfRelocation[] {
    const view = this.#view(section);
    const le = this.littleEndian;
    const relocations: ElfRelocation[] = [];
    for (let at = 0; at + REL_SIZE <= section.size; at += REL_SIZE) {
      // r_info is symbol << 32 | type; read as two 32-bit halves (no BigInt per relocation).
      const symbolIndex = view.getUint32(at + (le ? 12 : 8), le);
      const type = view.getUint32(at + (le ? 8 : 12), le);
      const symbol = this.symbols[symbolIndex];
      if (!symbol) throw new ObjectError('ERR_BPFMAP_OBJECT_ELF', `relocation in ${section.name} names symbol ${symbolIndex}, which does not exist`);
      const offsetHigh = view.getUint32(at + (le ? 4 : 0), le);
      const offsetLow = view.getUint32(at + (le ? 0 : 4), le);
      relocations.push({ offset: offsetHigh * 2 ** 32 + offsetLow, symbol, type });
    }
    return relocations;
  }
}
