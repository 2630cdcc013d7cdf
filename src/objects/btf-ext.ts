/**
 * `.BTF.ext`: the per-instruction BTF metadata clang writes beside `.BTF` in an object: function
 * info (which BTF `func` starts at an instruction), line info (which source line an instruction
 * came from) and CO-RE relocations (which instruction encodes a field offset, type id or enum
 * value of which local type).
 *
 * Layout (either byte order, as the `.BTF` section): a header `magic u16 (0xeB9F), version u8 (1),
 * flags u8 (0), hdr_len u32, func_info_off u32, func_info_len u32, line_info_off u32,
 * line_info_len u32` and, when `hdr_len >= 32`, `core_relo_off u32, core_relo_len u32`. Offsets
 * count from the end of the header. Each part is a `u32` record size, then sections: `sec_name_off
 * u32` (a string of `.BTF`), `num_info u32`, then `num_info` records. Records store instruction
 * offsets in bytes within their ELF section; this module turns them into instruction indexes
 * (bytes / 8), which is what `BPF_PROG_LOAD` and the CO-RE engine use.
 *
 * Per program: clang writes the records of a program's ELF section with indexes relative to the
 * section. A program loaded from that section starts at some index of it (several programs may
 * share a section), and the `.text` subprograms it calls are appended after it; `programExtInfo`
 * cuts and rebases the records for both, the way libbpf's `adjust_prog_btf_ext_info` does.
 */
import type { Btf } from '../codec/btf/btf.js';
import { BtfError } from '../codec/btf/errors.js';

/** `.BTF.ext` magic as read in the blob's own byte order. */
const BTF_EXT_MAGIC = 0xeb9f;
/** Header bytes up to and including `line_info_len`: the least a valid header holds. */
const HEADER_WITHOUT_CORE = 24;
/** Header bytes up to and including `core_relo_len`. */
const HEADER_WITH_CORE = 32;
/** Bytes of one BPF instruction; `.BTF.ext` offsets are in bytes. */
export const BPF_INSTRUCTION_SIZE = 8;
/** `struct bpf_func_info`: insn_off, type_id. */
export const FUNC_INFO_RECORD_SIZE = 8;
/** `struct bpf_line_info`: insn_off, file_name_off, line_off, line_col. */
export const LINE_INFO_RECORD_SIZE = 16;
/** `struct bpf_core_relo`: insn_off, type_id, access_str_off, kind. */
export const CORE_RELOCATION_RECORD_SIZE = 16;
/** `line_col` holds the line number above this many bits of column. */
const LINE_COLUMN_BITS = 10;

/**
 * CO-RE relocation kinds by number (`enum bpf_core_relo_kind`): index `n` is the name of kind `n`.
 */
export const CORE_RELOCATION_KINDS = [
  'field_byte_offset',
  'field_byte_size',
  'field_exists',
  'field_signed',
  'field_lshift_u64',
  'field_rshift_u64',
  'type_id_local',
  'type_id_target',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
] as const;

/** A CO-RE relocation kind's name (libbpf's `BPF_CORE_*` in lower case, without the prefix). */
export type CoreRelocationKind = (typeof CORE_RELOCATION_KINDS)[number];

/** One `bpf_func_info`: the BTF `func` whose body starts at an instruction. */
export interface FuncInfoRecord {
  /** Instruction index (within the ELF section as parsed; within the program once rebased). */
  readonly insn: number;
  /** The `func` type id in the object's BTF. */
  readonly typeId: number;
}

/** One `bpf_line_info`: the source line an instruction came from. */
export interface LineInfoRecord {
  /** Instruction index (within the ELF section as parsed; within the program once rebased). */
  readonly insn: number;
  /** Offset of the file name in the BTF string section (what the kernel takes). */
  readonly fileNameOffset: number;
  /** Offset of the line's text in the BTF string section (what the kernel takes). */
  readonly lineOffset: number;
  /** 1-based line number. */
  readonly line: number;
  /** 1-based column, 0 when unknown. */
  readonly column: number;
  /** The file name (resolved from `fileNameOffset`). */
  readonly fileName: string;
  /** The source line's text (resolved from `lineOffset`). */
  readonly source: string;
}

/**
 * A line record as parsed: its file name and source text are decoded from the BTF strings on
 * first read (an object has a record per few instructions, and a load reads none of the text).
 */
class ParsedLineInfo implements LineInfoRecord {
  readonly insn: number;
  readonly fileNameOffset: number;
  readonly lineOffset: number;
  readonly line: number;
  readonly column: number;
  readonly #btf: Btf;

  constructor(btf: Btf, insn: number, fileNameOffset: number, lineOffset: number, line: number, column: number) {
    this.#btf = btf;
    this.insn = insn;
    this.fileNameOffset = fileNameOffset;
    this.lineOffset = lineOffset;
    this.line = line;
    this.column = column;
  }

  get fileName(): string {
    return this.#btf.string(this.fileNameOffset);
  }

  get source(): string {
    return this.#btf.string(this.lineOffset);
  }

  /** The same record at another instruction index. */
  at(insn: number): ParsedLineInfo {
    return new ParsedLineInfo(this.#btf, insn, this.fileNameOffset, this.lineOffset, this.line, this.column);
  }
}

/** One `bpf_core_relo`: an instruction whose immediate or offset depends on kernel types. */
export interface CoreRelocationRecord {
  /** Instruction index within the ELF section. */
  readonly insn: number;
  /** The local (object BTF) root type id. */
  readonly typeId: number;
  /** The access string, e.g. `'0:1:2'`: an array index on the root, then member / element indexes. */
  readonly accessString: string;
  /** What the instruction encodes. */
  readonly kind: CoreRelocationKind;
}

/** The records of one ELF section. Each list is sorted by instruction index as clang writes it. */
export interface BtfExtSection {
  /** The ELF section's name (`'xdp'`, `'.text'`, `'tracepoint/syscalls/sys_enter_openat'`). */
  readonly name: string;
  readonly funcInfo: readonly FuncInfoRecord[];
  readonly lineInfo: readonly LineInfoRecord[];
  readonly coreRelocations: readonly CoreRelocationRecord[];
}

/** A parsed `.BTF.ext` section. */
export interface BtfExt {
  /** Header length as stored (24, 32 or more). */
  readonly headerLength: number;
  /** Byte order of the blob. */
  readonly littleEndian: boolean;
  /** Record sizes as stored (each at least the size of the record it holds). */
  readonly recordSizes: { readonly funcInfo: number; readonly lineInfo: number; readonly coreRelocation: number };
  /** Records per ELF section name. */
  readonly sections: ReadonlyMap<string, BtfExtSection>;
}

/** Options of `parseBtfExt`. */
export interface BtfExtParseOptions {
  /**
   * Instruction count of an ELF section by name, to check every record's instruction index
   * against (undefined for a section: not checked). The loader passes its section table.
   */
  readonly sectionInstructions?: (name: string) => number | undefined;
}

function truncated(message: string, byteOffset: number): BtfError {
  return new BtfError('ERR_BTF_EXT_TRUNCATED', `.BTF.ext: ${message}`, { byteOffset });
}

function badRecord(message: string, byteOffset: number, cause?: unknown): BtfError {
  return new BtfError('ERR_BTF_EXT_BAD_RECORD', `.BTF.ext: ${message}`, cause === undefined ? { byteOffset } : { byteOffset, cause });
}

/** A part of the blob (func_info, line_info or core_relo) and its minimum record size. */
interface PartSpec {
  readonly what: 'func_info' | 'line_info' | 'core_relo';
  readonly offsetField: number;
  readonly minimumRecordSize: number;
}

const PARTS: readonly PartSpec[] = [
  { what: 'func_info', offsetField: 8, minimumRecordSize: FUNC_INFO_RECORD_SIZE },
  { what: 'line_info', offsetField: 16, minimumRecordSize: LINE_INFO_RECORD_SIZE },
  { what: 'core_relo', offsetField: 24, minimumRecordSize: CORE_RELOCATION_RECORD_SIZE },
];

/**
 * Parses a `.BTF.ext` section. `btf` is the object's `.BTF` (names, file names, source lines and
 * access strings are offsets into its string section).
 *
 * @example
 * const object = readFileSync('prog.bpf.o');
 * const btf = Btf.parse(elfSection(object, '.BTF')!);
 * const ext = parseBtfExt(elfSection(object, '.BTF.ext')!, btf);
 * ext.sections.get('xdp')?.funcInfo; // [{ insn: 0, typeId: 12 }]
 * @throws BtfError (`ERR_BTF_EXT_HEADER`, `ERR_BTF_EXT_TRUNCATED`, `ERR_BTF_EXT_BAD_RECORD`) with
 * the byte offset of what is wrong.
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, options: BtfExtParseOptions = {}): BtfExt {
  if (bytes.length < 8) throw new BtfError('ERR_BTF_EXT_HEADER', `.BTF.ext: ${bytes.length} bytes is shorter than the 8-byte header start`, { byteOffset: 0 });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  if (view.getUint16(0, true) === BTF_EXT_MAGIC) le = true;
  else if (view.getUint16(0, false) === BTF_EXT_MAGIC) le = false;
  else throw new BtfError('ERR_BTF_EXT_HEADER', `.BTF.ext: bad magic 0x${view.getUint16(0, true).toString(16)} (expected 0xeb9f in either byte order)`, { byteOffset: 0 });
  const u32 = (at: number): number => view.getUint32(at, le);
  if (bytes[2] !== 1) throw new BtfError('ERR_BTF_EXT_HEADER', `.BTF.ext: unsupported version ${bytes[2]} (expected 1)`, { byteOffset: 2 });
  if (bytes[3] !== 0) throw new BtfError('ERR_BTF_EXT_HEADER', `.BTF.ext: unsupported flags 0x${(bytes[3] ?? 0).toString(16)} (expected 0)`, { byteOffset: 3 });
  const headerLength = u32(4);
  if (headerLength < HEADER_WITHOUT_CORE || headerLength > bytes.length) {
    throw new BtfError('ERR_BTF_EXT_HEADER', `.BTF.ext: hdr_len ${headerLength} outside [${HEADER_WITHOUT_CORE}, ${bytes.length}] (the header must hold func_info and line_info)`, { byteOffset: 4 });
  }
  const dataLength = bytes.length - headerLength;
  // String offsets of line records are checked here and decoded only when read.
  const checkString = (offset: number, at: number, what: string): void => {
    if (offset >= btf.header.stringLength && btf.base === undefined) throw badRecord(`${what} string offset ${offset} is not in the .BTF string section`, at);
  };
  const string = (offset: number, at: number, what: string): string => {
    try {
      return btf.string(offset);
    } catch (error) {
      throw badRecord(`${what} string offset ${offset} is not in the .BTF string section`, at, error);
    }
  };

  const sections = new Map<string, { funcInfo: FuncInfoRecord[]; lineInfo: LineInfoRecord[]; coreRelocations: CoreRelocationRecord[] }>();
  const sectionOf = (name: string): { funcInfo: FuncInfoRecord[]; lineInfo: LineInfoRecord[]; coreRelocations: CoreRelocationRecord[] } => {
    let section = sections.get(name);
    if (!section) sections.set(name, (section = { funcInfo: [], lineInfo: [], coreRelocations: [] }));
    return section;
  };
  const recordSizes = { funcInfo: FUNC_INFO_RECORD_SIZE, lineInfo: LINE_INFO_RECORD_SIZE, coreRelocation: CORE_RELOCATION_RECORD_SIZE };

  for (const part of PARTS) {
    if (part.what === 'core_relo' && headerLength < HEADER_WITH_CORE) break;
    const partOffset = u32(part.offsetField);
    const partLength = u32(part.offsetField + 4);
    if (partLength === 0) continue;
    if (partOffset % 4 !== 0) throw badRecord(`${part.what} offset ${partOffset} is not 4-byte aligned`, part.offsetField);
    if (partOffset + partLength > dataLength) {
      throw truncated(`${part.what} [${partOffset}, +${partLength}) runs past the ${dataLength} bytes after the header`, part.offsetField);
    }
    const start = headerLength + partOffset;
    const end = start + partLength;
    if (partLength < 4) throw truncated(`${part.what} has no record size`, start);
    const recordSize = u32(start);
    if (recordSize < part.minimumRecordSize || recordSize % 4 !== 0 || recordSize > partLength) {
      throw badRecord(`${part.what} record size ${recordSize} is not a multiple of 4 of at least ${part.minimumRecordSize} bytes`, start);
    }
    if (part.what === 'func_info') recordSizes.funcInfo = recordSize;
    else if (part.what === 'line_info') recordSizes.lineInfo = recordSize;
    else recordSizes.coreRelocation = recordSize;
    let at = start + 4;
    while (at < end) {
      if (at + 8 > end) throw truncated(`${part.what} section header cut off by the end of the part`, at);
      const name = string(u32(at), at, `${part.what} section name`);
      const count = u32(at + 4);
      if (count === 0) throw badRecord(`${part.what} section '${name}' has no records`, at + 4);
      if (count > (end - at - 8) / recordSize) {
        throw truncated(`${part.what} section '${name}' claims ${count} records of ${recordSize} bytes, past the end of the part`, at + 4);
      }
      const limit = options.sectionInstructions?.(name);
      const section = sectionOf(name);
      at += 8;
      for (let i = 0; i < count; i++, at += recordSize) {
        const byteOffset = u32(at);
        if (byteOffset % BPF_INSTRUCTION_SIZE !== 0) {
          throw badRecord(`${part.what} record ${i} of '${name}': instruction offset ${byteOffset} is not a multiple of ${BPF_INSTRUCTION_SIZE}`, at);
        }
        const insn = byteOffset / BPF_INSTRUCTION_SIZE;
        if (limit !== undefined && insn >= limit) {
          throw badRecord(`${part.what} record ${i} of '${name}': instruction ${insn} is past the section's ${limit} instructions`, at);
        }
        if (part.what === 'func_info') {
          section.funcInfo.push({ insn, typeId: u32(at + 4) });
        } else if (part.what === 'line_info') {
          const fileNameOffset = u32(at + 4);
          const lineOffset = u32(at + 8);
          const lineColumn = u32(at + 12);
          checkString(fileNameOffset, at + 4, 'line_info file name');
          checkString(lineOffset, at + 8, 'line_info line');
          section.lineInfo.push(new ParsedLineInfo(btf, insn, fileNameOffset, lineOffset, lineColumn >>> LINE_COLUMN_BITS, lineColumn & ((1 << LINE_COLUMN_BITS) - 1)));
        } else {
          const kindNumber = u32(at + 12);
          const kind = CORE_RELOCATION_KINDS[kindNumber];
          if (kind === undefined) {
            throw badRecord(`core_relo record ${i} of '${name}': unknown kind ${kindNumber} (known: 0..${CORE_RELOCATION_KINDS.length - 1})`, at + 12);
          }
          const accessString = string(u32(at + 8), at + 8, 'core_relo access');
          if (!/^\d+(:\d+)*$/.test(accessString)) {
            throw badRecord(`core_relo record ${i} of '${name}': access string '${accessString}' is not colon-separated indexes`, at + 8);
          }
          section.coreRelocations.push({ insn, typeId: u32(at + 4), accessString, kind });
        }
      }
    }
  }
  const frozen = new Map<string, BtfExtSection>();
  for (const [name, section] of sections) frozen.set(name, { name, ...section });
  return { headerLength, littleEndian: le, recordSizes, sections: frozen };
}

/** A run of instructions of an ELF section placed at some index of a program being assembled. */
export interface PlacedRange {
  /** The ELF section's records. */
  readonly section: BtfExtSection;
  /** First instruction of the run, as an index within the ELF section. */
  readonly start: number;
  /** Number of instructions in the run. */
  readonly count: number;
  /** Where the run's first instruction sits in the program. */
  readonly at: number;
}

/** A program's func_info and line_info, indexed by the program's own instructions. */
export interface ProgramExtInfo {
  readonly funcInfo: FuncInfoRecord[];
  readonly lineInfo: LineInfoRecord[];
}

/**
 * Builds one program's func_info and line_info from the runs it is assembled from: first the
 * program itself (`{ section, start: its first instruction in the section, count, at: 0 }`), then
 * each `.text` subprogram in the order the loader appended it (`at` = the program's length before
 * the append). Records outside each run are dropped and those inside are shifted by `at - start`,
 * as libbpf's `adjust_prog_btf_ext_info` does. The result is sorted by instruction, as
 * `BPF_PROG_LOAD` requires (func_info must start at instruction 0).
 *
 * @example
 * const info = programExtInfo([
 *   { section: ext.sections.get('xdp')!, start: 0, count: 11, at: 0 },
 *   { section: ext.sections.get('.text')!, start: 0, count: 4, at: 11 }, // add_twice appended
 * ]);
 * native load: func_info = encodeFuncInfo(info.funcInfo), line_info = encodeLineInfo(info.lineInfo)
 */
export function programExtInfo(ranges: readonly PlacedRange[]): ProgramExtInfo {
  const funcInfo: FuncInfoRecord[] = [];
  const lineInfo: LineInfoRecord[] = [];
  for (const { section, start, count, at } of ranges) {
    const shift = at - start;
    const end = start + count;
    // Records are in instruction order (as clang writes them): start at the run's first one
    // rather than scan a section that 40 programs share once per program.
    for (let i = firstAtOrAfter(section.funcInfo, start); i < section.funcInfo.length; i++) {
      const record = section.funcInfo[i] as FuncInfoRecord;
      if (record.insn >= end) {
        if (sortedRecords.get(section.funcInfo) === true) break;
        continue;
      }
      if (record.insn >= start) funcInfo.push({ ...record, insn: record.insn + shift });
    }
    for (let i = firstAtOrAfter(section.lineInfo, start); i < section.lineInfo.length; i++) {
      const record = section.lineInfo[i] as LineInfoRecord;
      if (record.insn >= end) {
        if (sortedRecords.get(section.lineInfo) === true) break;
        continue;
      }
      if (record.insn >= start) lineInfo.push(record instanceof ParsedLineInfo ? record.at(record.insn + shift) : { ...record, insn: record.insn + shift });
    }
  }
  funcInfo.sort((a, b) => a.insn - b.insn);
  // Stable sort: several line records may name the same instruction; keep clang's order.
  lineInfo.sort((a, b) => a.insn - b.insn);
  return { funcInfo, lineInfo };
}

/**
 * Index of the first record at or after instruction `insn` when the records are sorted by
 * instruction; 0 (scan everything) when they are not, so unsorted input is still handled.
 */
const sortedRecords = new WeakMap<readonly { readonly insn: number }[], boolean>();

function firstAtOrAfter(records: readonly { readonly insn: number }[], insn: number): number {
  let sorted = sortedRecords.get(records);
  if (sorted === undefined) {
    sorted = true;
    for (let i = 1; i < records.length && sorted; i++) if ((records[i] as { insn: number }).insn < (records[i - 1] as { insn: number }).insn) sorted = false;
    sortedRecords.set(records, sorted);
  }
  if (!sorted) return 0;
  let low = 0;
  let high = records.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((records[middle] as { insn: number }).insn < insn) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The CO-RE relocations of one program: those of its ELF section's run `[start, start + count)`,
 * with instruction indexes made relative to the run (so that they index the program's own
 * instructions when the run is placed at 0).
 */
export function coreRelocationsIn(section: BtfExtSection, start: number, count: number): CoreRelocationRecord[] {
  const found: CoreRelocationRecord[] = [];
  for (const record of section.coreRelocations) {
    if (record.insn >= start && record.insn < start + count) found.push({ ...record, insn: record.insn - start });
  }
  return found;
}

/**
 * `bpf_func_info` records as `BPF_PROG_LOAD` takes them (`func_info_rec_size` =
 * `FUNC_INFO_RECORD_SIZE`), in host (little-endian) byte order.
 */
export function encodeFuncInfo(records: readonly FuncInfoRecord[]): Uint8Array {
  const bytes = new Uint8Array(records.length * FUNC_INFO_RECORD_SIZE);
  const view = new DataView(bytes.buffer);
  records.forEach((record, i) => {
    view.setUint32(i * FUNC_INFO_RECORD_SIZE, record.insn, true);
    view.setUint32(i * FUNC_INFO_RECORD_SIZE + 4, record.typeId, true);
  });
  return bytes;
}

/**
 * `bpf_line_info` records as `BPF_PROG_LOAD` takes them (`line_info_rec_size` =
 * `LINE_INFO_RECORD_SIZE`), in host (little-endian) byte order. The string offsets refer to the
 * object's `.BTF` string section, so the BTF loaded with the program must keep its strings.
 */
export function encodeLineInfo(records: readonly LineInfoRecord[]): Uint8Array {
  const bytes = new Uint8Array(records.length * LINE_INFO_RECORD_SIZE);
  const view = new DataView(bytes.buffer);
  records.forEach((record, i) => {
    const at = i * LINE_INFO_RECORD_SIZE;
    view.setUint32(at, record.insn, true);
    view.setUint32(at + 4, record.fileNameOffset, true);
    view.setUint32(at + 8, record.lineOffset, true);
    view.setUint32(at + 12, ((record.line << LINE_COLUMN_BITS) | record.column) >>> 0, true);
  });
  return bytes;
}
