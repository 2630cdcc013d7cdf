/**
 * `Btf`: a parsed BTF blob and the queries on it (type by id / name / kind, size and alignment,
 * member lookup).
 *
 * Parsing is lazy so that vmlinux (≈130k types) opens in a few milliseconds: `parse` checks the
 * header and walks the type section once to record where each type starts (validating every
 * record's extent), and a type becomes an object only when asked for. The name index is built on
 * the first query by name. Every read is bounds-checked: malformed input throws `BtfError` with the
 * type id and byte offset, never reads out of range and never loops (reference chains are bounded).
 */
import { BtfError } from './errors.js';
import {
  BTF_KIND_NAMES,
  BTF_VOID,
  type BtfComposite,
  type BtfKindName,
  type BtfMember,
  type BtfType,
  type BtfTypeOfKind,
} from './types.js';

/** BTF magic as read in the blob's own byte order. */
const BTF_MAGIC = 0xeb9f;
/** The fixed part of `struct btf_header`; newer kernels may use a longer header. */
const MIN_HEADER_LENGTH = 24;
/** Bytes of `struct btf_type` before the kind-specific data. */
const TYPE_RECORD_LENGTH = 12;
/** The kernel's own bound on reference chains (MAX_RESOLVE_DEPTH is 32); generous but finite. */
const MAX_CHAIN = 64;
/** Pointer size of the BPF target. */
export const BTF_POINTER_SIZE = 8;
/** True on little-endian hosts, where a little-endian blob can be read as 32-bit words directly. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * Lookups by name answered by scanning the blob before the name index is built: a scan costs
 * one search of the string section and one pass over the records' name offsets (a few ms on a
 * cold vmlinux), the index one string and one Map entry per type (over 100 ms cold), so a
 * process that asks a handful of names, as a loader does, never pays for the index.
 */
const SCANS_BEFORE_INDEX = 16;

/**
 * Words of a type record without its vlen entries, per kind number (-1: unknown kind), and words
 * per vlen entry: `extraLength` in 32-bit words, for `indexWords`.
 */
const RECORD_WORDS = Int8Array.from({ length: 32 }, (_, kind) => {
  const fixed = extraLength(kind, 0);
  return fixed < 0 ? -1 : 3 + fixed / 4;
});
const WORDS_PER_VLEN = Int8Array.from({ length: 32 }, (_, kind) => Math.max(0, extraLength(kind, 1) - extraLength(kind, 0)) / 4);

/** Bytes of kind-specific data after the 12-byte record, per kind number. */
function extraLength(kind: number, vlen: number): number {
  switch (kind) {
    case 1: case 14: case 17: return 4; // int, var, decl_tag
    case 3: return 12; // array
    case 4: case 5: case 15: case 19: return vlen * 12; // struct, union, datasec, enum64
    case 6: case 13: return vlen * 8; // enum, func_proto
    case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16: case 18: return 0;
    default: return -1;
  }
}

/** Options for `Btf.parse`. */
export interface BtfParseOptions {
  /** The base BTF of split BTF (a kernel module's BTF is split over vmlinux). */
  readonly base?: Btf;
}

/** The header fields of a parsed blob. */
export interface BtfHeader {
  readonly version: number;
  readonly flags: number;
  /** Header length as stored (24 or more). */
  readonly headerLength: number;
  readonly typeOffset: number;
  readonly typeLength: number;
  readonly stringOffset: number;
  readonly stringLength: number;
  /** Byte order of the blob. */
  readonly littleEndian: boolean;
}

/** Where a member sits inside a struct, after anonymous members are looked through. */
export interface BtfMemberLocation {
  readonly member: BtfMember;
  /** Bit offset from the start of the outer type. */
  readonly bitOffset: number;
}

/**
 * A parsed BTF blob.
 *
 * @example
 * const vmlinux = Btf.parse(readFileSync('/sys/kernel/btf/vmlinux'));
 * const task = vmlinux.typeByName('task_struct', 'struct');
 * vmlinux.size(task.id); // bytes
 */
export class Btf {
  /** The blob (not copied: do not modify it). */
  readonly bytes: Uint8Array;
  /** The parsed header. */
  readonly header: BtfHeader;
  /** The base of split BTF, if any. */
  readonly base: Btf | undefined;
  /** The first type id this blob defines (1, or one past the base's last id). */
  readonly firstTypeId: number;
  /** The last type id this blob defines. */
  readonly lastTypeId: number;

  private readonly view: DataView;
  private readonly text: Buffer;
  private readonly le: boolean;
  /**
   * The blob as 32-bit words when they can be read directly (a 4-byte aligned blob in the host's
   * byte order, as vmlinux read from sysfs is): the passes over every record read these instead
   * of calling DataView, which an unoptimized (cold) loop pays for on each of vmlinux's records.
   */
  private readonly words: Uint32Array | undefined;
  /** Absolute byte offset of each local type record, indexed by `id - firstTypeId`. */
  private readonly recordOffsets: Uint32Array;
  private readonly decoded: (BtfType | undefined)[];
  private readonly stringStart: number;
  private readonly stringEnd: number;
  /** String offsets below this belong to the base. */
  private readonly stringBase: number;
  private nameIndex: Map<string, number | number[]> | undefined;
  /** Lookups by name answered by a scan so far (see `SCANS_BEFORE_INDEX`). */
  private nameScans = 0;

  private constructor(bytes: Uint8Array, base: Btf | undefined) {
    this.bytes = bytes;
    this.base = base;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < MIN_HEADER_LENGTH) {
      throw new BtfError('ERR_BTF_HEADER', `blob of ${bytes.length} bytes is shorter than the ${MIN_HEADER_LENGTH}-byte header`, { byteOffset: 0 });
    }
    const magicLe = this.view.getUint16(0, true);
    if (magicLe === BTF_MAGIC) this.le = true;
    else if (this.view.getUint16(0, false) === BTF_MAGIC) this.le = false;
    else throw new BtfError('ERR_BTF_HEADER', `bad magic 0x${magicLe.toString(16)} (expected 0xeb9f in either byte order)`, { byteOffset: 0 });
    const version = bytes[2] ?? 0;
    if (version !== 1) throw new BtfError('ERR_BTF_HEADER', `unsupported version ${version}`, { byteOffset: 2 });
    const headerLength = this.u32(4);
    if (headerLength < MIN_HEADER_LENGTH || headerLength > bytes.length) {
      throw new BtfError('ERR_BTF_HEADER', `hdr_len ${headerLength} outside [${MIN_HEADER_LENGTH}, ${bytes.length}]`, { byteOffset: 4 });
    }
    const header: BtfHeader = {
      version,
      flags: bytes[3] ?? 0,
      headerLength,
      typeOffset: this.u32(8),
      typeLength: this.u32(12),
      stringOffset: this.u32(16),
      stringLength: this.u32(20),
      littleEndian: this.le,
    };
    this.header = header;
    const dataLength = bytes.length - headerLength;
    const section = (what: string, offset: number, length: number, field: number): void => {
      if (offset + length > dataLength) {
        throw new BtfError('ERR_BTF_TRUNCATED', `${what} section [${offset}, +${length}) runs past the data (${dataLength} bytes after the header)`, { byteOffset: field });
      }
    };
    section('type', header.typeOffset, header.typeLength, 8);
    section('string', header.stringOffset, header.stringLength, 16);
    if (header.typeOffset % 4 !== 0) throw new BtfError('ERR_BTF_HEADER', `type_off ${header.typeOffset} is not 4-byte aligned`, { byteOffset: 8 });
    this.stringStart = headerLength + header.stringOffset;
    this.stringEnd = this.stringStart + header.stringLength;
    this.stringBase = base ? base.stringBase + base.header.stringLength : 0;
    if (!base && (header.stringLength === 0 || bytes[this.stringStart] !== 0)) {
      throw new BtfError('ERR_BTF_BAD_STRING', 'the string section must start with the empty string', { byteOffset: this.stringStart });
    }
    if (this.stringEnd > this.stringStart && bytes[this.stringEnd - 1] !== 0) {
      throw new BtfError('ERR_BTF_BAD_STRING', 'the string section does not end with NUL', { byteOffset: this.stringEnd - 1 });
    }
    this.firstTypeId = base ? base.lastTypeId + 1 : 1;
    this.words = this.le === HOST_LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2) : undefined;
    const typeStart = headerLength + header.typeOffset;
    const wordAligned = this.words !== undefined && typeStart % 4 === 0 && header.typeLength % 4 === 0;
    this.recordOffsets = wordAligned ? this.indexWords(this.words as Uint32Array, typeStart, header.typeLength) : this.indexRecords(typeStart, header.typeLength);
    this.lastTypeId = this.firstTypeId + this.recordOffsets.length - 1;
    this.decoded = new Array<BtfType | undefined>(this.recordOffsets.length);
  }

  /**
   * Parses a BTF blob (either byte order, any header length). With `base`, parses split BTF
   * whose ids and strings continue the base's.
   * @throws BtfError when the header or a type record is malformed.
   */
  static parse(bytes: Uint8Array, options: BtfParseOptions = {}): Btf {
    return new Btf(bytes, options.base);
  }

  /**
   * Byte offset of a type's record in `bytes` (its 12-byte header, then its kind data), for
   * loaders that patch a copy of the blob in place (an object's DATASEC sizes and offsets).
   * @throws BtfError (`ERR_BTF_NOT_FOUND`) for ids outside this blob (the base's included).
   */
  recordOffset(id: number): number {
    const offset = id >= this.firstTypeId ? this.recordOffsets[id - this.firstTypeId] : undefined;
    if (offset === undefined) throw new BtfError('ERR_BTF_NOT_FOUND', `no type with id ${id} in this blob (ids ${this.firstTypeId}..${this.lastTypeId})`, { typeId: id });
    return offset;
  }

  /** The number of types this blob defines (not counting void or the base's). */
  get typeCount(): number {
    return this.recordOffsets.length;
  }

  private u32(offset: number): number {
    return this.view.getUint32(offset, this.le);
  }

  /**
   * `indexRecords` over 32-bit words: the same pass and the same checks, with record lengths
   * counted in words from two small tables (so that the loop, which runs once per type of vmlinux
   * before any of it is optimized, stays a few operations long). Anything unusual (an unknown
   * kind, a record past the end) is left to `indexRecords`, which says what is wrong.
   */
  private indexWords(words: Uint32Array, start: number, length: number): Uint32Array {
    const offsets = new Uint32Array(Math.floor(length / TYPE_RECORD_LENGTH));
    const end = (start + length) >>> 2;
    let count = 0;
    let word = start >>> 2;
    while (word < end) {
      const info = words[word + 1] as number;
      const kind = (info >>> 24) & 0x1f;
      const next = word + (RECORD_WORDS[kind] as number) + (info & 0xffff) * (WORDS_PER_VLEN[kind] as number);
      // An unknown kind's -1 words, or a record running past the section (its info word too).
      if (next <= word || next > end) return this.indexRecords(start, length);
      offsets[count++] = word * 4;
      word = next;
    }
    return offsets.subarray(0, count);
  }

  /** One pass over the type section recording record offsets; checks each record's extent. */
  private indexRecords(start: number, length: number): Uint32Array {
    const end = start + length;
    const offsets = new Uint32Array(Math.floor(length / TYPE_RECORD_LENGTH));
    let count = 0;
    let offset = start;
    while (offset < end) {
      if (offset + TYPE_RECORD_LENGTH > end) {
        throw new BtfError('ERR_BTF_TRUNCATED', `type record cut off by the end of the type section`, { typeId: this.firstTypeId + count, byteOffset: offset });
      }
      const info = this.u32(offset + 4);
      const kind = (info >>> 24) & 0x1f;
      const extra = extraLength(kind, info & 0xffff);
      if (extra < 0) throw new BtfError('ERR_BTF_BAD_TYPE', `unknown kind ${kind}`, { typeId: this.firstTypeId + count, byteOffset: offset + 4 });
      const next = offset + TYPE_RECORD_LENGTH + extra;
      if (next > end) {
        throw new BtfError('ERR_BTF_TRUNCATED', `${BTF_KIND_NAMES[kind]} with vlen ${info & 0xffff} needs ${extra} bytes past the end of the type section`, { typeId: this.firstTypeId + count, byteOffset: offset });
      }
      offsets[count++] = offset;
      offset = next;
    }
    return offsets.subarray(0, count);
  }

  /**
   * The string at a string-section offset (split BTF: offsets below the base's string length
   * are the base's).
   * @throws BtfError when the offset is outside the string section.
   */
  string(offset: number, typeId?: number): string {
    if (offset < this.stringBase) return (this.base as Btf).string(offset, typeId);
    const start = this.stringStart + offset - this.stringBase;
    if (start >= this.stringEnd) {
      throw new BtfError('ERR_BTF_BAD_STRING', `string offset ${offset} is outside the string section (${this.header.stringLength} bytes)`, typeId === undefined ? {} : { typeId });
    }
    if (this.bytes[start] === 0) return '';
    // The section ends with NUL (checked in the constructor), so indexOf always finds one.
    return this.text.toString('latin1', start, this.text.indexOf(0, start));
  }

  /** True when `id` names a type of this blob, its base, or void. */
  has(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id <= this.lastTypeId;
  }

  /**
   * The type with this id (0 is void).
   * @throws BtfError (`ERR_BTF_NOT_FOUND`) for ids outside the blob, or when the record is malformed.
   */
  type(id: number): BtfType {
    if (id === 0) return BTF_VOID;
    if (id < this.firstTypeId) {
      if (this.base && id > 0) return this.base.type(id);
    } else {
      const index = id - this.firstTypeId;
      const cached = this.decoded[index];
      if (cached) return cached;
      const offset = this.recordOffsets[index];
      if (offset !== undefined) {
        const type = this.decode(id, offset);
        this.decoded[index] = type;
        return type;
      }
    }
    throw new BtfError('ERR_BTF_NOT_FOUND', `no type with id ${id} (ids run 1..${this.lastTypeId})`, Number.isInteger(id) ? { typeId: id } : {});
  }

  /** The type with this id if it has the given kind. @throws BtfError otherwise. */
  typeOfKind<K extends BtfType['kind']>(id: number, kind: K): BtfTypeOfKind<K> {
    const type = this.type(id);
    if (type.kind !== kind) throw new BtfError('ERR_BTF_BAD_REFERENCE', `expected a ${kind}, found a ${type.kind}`, { typeId: id });
    return type as BtfTypeOfKind<K>;
  }

  /** Every type of this blob (not the base's), in id order. */
  *types(): IterableIterator<BtfType> {
    for (let id = this.firstTypeId; id <= this.lastTypeId; id++) yield this.type(id);
  }

  /** Kind of a type without decoding it (cheap; for scans over vmlinux). */
  kindOf(id: number): BtfType['kind'] {
    if (id === 0) return 'void';
    if (id < this.firstTypeId && this.base) return this.base.kindOf(id);
    const offset = this.recordOffsets[id - this.firstTypeId];
    if (offset === undefined) throw new BtfError('ERR_BTF_NOT_FOUND', `no type with id ${id}`, { typeId: id });
    return BTF_KIND_NAMES[(this.u32(offset + 4) >>> 24) & 0x1f] as BtfKindName;
  }

  /** Ids of all types of a kind (this blob and its base). */
  idsOfKind(kind: BtfKindName): number[] {
    const ids = this.base ? this.base.idsOfKind(kind) : [];
    for (let id = this.firstTypeId; id <= this.lastTypeId; id++) if (this.kindOf(id) === kind) ids.push(id);
    return ids;
  }

  /** Types with this name (and kind), base first, in id order. */
  typesByName<K extends BtfType['kind']>(name: string, kind?: K): BtfTypeOfKind<K>[] {
    const found: BtfTypeOfKind<K>[] = this.base ? this.base.typesByName(name, kind) : [];
    let ids: readonly number[];
    if (name !== '' && !this.nameIndex && this.nameScans < SCANS_BEFORE_INDEX) {
      this.nameScans++;
      // The name and its terminating NUL: exact matches only.
      ids = this.idsWithNameAt(Buffer.from(`${name}\0`, 'latin1'));
    } else {
      const entry = this.names().get(name);
      ids = entry === undefined ? [] : typeof entry === 'number' ? [entry] : entry;
    }
    for (const id of ids) {
      const type = this.type(id);
      if (kind === undefined || type.kind === kind) found.push(type as BtfTypeOfKind<K>);
    }
    return found;
  }

  /**
   * The first type with this name (and kind).
   * @throws BtfError (`ERR_BTF_NOT_FOUND`) when there is none.
   */
  typeByName<K extends BtfType['kind']>(name: string, kind?: K): BtfTypeOfKind<K> {
    const [first] = this.typesByName(name, kind);
    if (!first) throw new BtfError('ERR_BTF_NOT_FOUND', `no ${kind ?? 'type'} named '${name}'`);
    return first;
  }

  /**
   * Ids of this blob's own types (not the base's) whose name starts with `prefix`, in id order
   * (CO-RE's candidate search, which also matches flavored names). No type and no name is
   * decoded: see `idsWithNameAt`.
   */
  idsWithNamePrefix(prefix: string): number[] {
    return prefix === '' ? [] : this.idsWithNameAt(Buffer.from(prefix, 'latin1'));
  }

  /**
   * Ids of this blob's own types whose name starts with `wanted`'s bytes, in id order. A name
   * starts with them only where they occur in the string section, so a native search of the
   * section gives every string offset such a name can have (occurrences inside longer strings
   * included: BTF may point a name into another string), and one pass compares each record's
   * name offset with those, as integers.
   */
  private idsWithNameAt(wanted: Uint8Array): number[] {
    const ids: number[] = [];
    const starts = new Set<number>();
    // Split BTF names strings of its base too (module BTF reuses vmlinux's).
    for (let blob: Btf | undefined = this; blob; blob = blob.base) blob.occurrences(wanted, starts);
    if (starts.size === 0) return ids;
    const only = starts.size === 1 ? (starts.values().next().value as number) : -1;
    const records = this.recordOffsets;
    const words = this.words;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as number;
      const nameOffset = words ? (words[record >>> 2] as number) : this.u32(record);
      if (only >= 0 ? nameOffset === only : starts.has(nameOffset)) ids.push(this.firstTypeId + i);
    }
    return ids;
  }

  /** Adds the string offset of every occurrence of `wanted` in this blob's own string section. */
  private occurrences(wanted: Uint8Array, starts: Set<number>): void {
    for (let at = this.text.indexOf(wanted, this.stringStart); at >= 0 && at + wanted.length <= this.stringEnd; at = this.text.indexOf(wanted, at + 1)) {
      starts.add(at - this.stringStart + this.stringBase);
    }
  }

  private names(): Map<string, number | number[]> {
    if (this.nameIndex) return this.nameIndex;
    const index = new Map<string, number | number[]>();
    for (let i = 0; i < this.recordOffsets.length; i++) {
      const nameOffset = this.u32(this.recordOffsets[i] as number);
      if (nameOffset === 0) continue;
      const id = this.firstTypeId + i;
      const name = this.string(nameOffset, id);
      const entry = index.get(name);
      if (entry === undefined) index.set(name, id);
      else if (typeof entry === 'number') index.set(name, [entry, id]);
      else entry.push(id);
    }
    this.nameIndex = index;
    return index;
  }

  private bad(id: number, offset: number, kind: string, name: string, message: string, at = offset): never {
    throw new BtfError('ERR_BTF_BAD_TYPE', `${kind} '${name}': ${message}`, { typeId: id, byteOffset: at });
  }

  /** Reads a type id at `byteOffset` and checks that it exists. */
  private ref(byteOffset: number, referrer: number): number {
    const id = this.u32(byteOffset);
    if (id > this.lastTypeId) {
      throw new BtfError('ERR_BTF_BAD_REFERENCE', `refers to type ${id}, past the last type ${this.lastTypeId}`, { typeId: referrer, byteOffset });
    }
    return id;
  }

  private decode(id: number, offset: number): BtfType {
    const info = this.u32(offset + 4);
    const kind = BTF_KIND_NAMES[(info >>> 24) & 0x1f] as BtfKindName;
    const vlen = info & 0xffff;
    const kindFlag = info >>> 31 === 1;
    const name = this.string(this.u32(offset), id);
    const sizeOrType = this.u32(offset + 8);
    const data = offset + TYPE_RECORD_LENGTH;
    switch (kind) {
      case 'int': {
        const encoding = this.u32(data);
        const bits = encoding & 0xff;
        const bitOffset = (encoding >>> 16) & 0xff;
        const flags = (encoding >>> 24) & 0xf;
        if (![1, 2, 4, 8, 16].includes(sizeOrType)) this.bad(id, offset, kind, name, `size ${sizeOrType} is not 1, 2, 4, 8 or 16`);
        if (bits === 0 || bits + bitOffset > sizeOrType * 8) this.bad(id, offset, kind, name, `${bits} bits at bit ${bitOffset} do not fit ${sizeOrType} bytes`, data);
        return { kind, id, name, size: sizeOrType, bits, bitOffset, signed: (flags & 1) !== 0, char: (flags & 2) !== 0, bool: (flags & 4) !== 0 };
      }
      case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
        return { kind, id, name, type: this.ref(offset + 8, id) };
      case 'array':
        return { kind, id, name, type: this.ref(data, id), indexType: this.ref(data + 4, id), length: this.u32(data + 8) };
      case 'struct': case 'union': {
        const members: BtfMember[] = new Array<BtfMember>(vlen);
        for (let i = 0; i < vlen; i++) {
          const at = data + i * 12;
          const rawOffset = this.u32(at + 8);
          members[i] = ({
            name: this.string(this.u32(at), id),
            type: this.ref(at + 4, id),
            bitOffset: kindFlag ? rawOffset & 0xffffff : rawOffset,
            bitfieldSize: kindFlag ? rawOffset >>> 24 : 0,
          });
        }
        return { kind, id, name, size: sizeOrType, members: members };
      }
      case 'enum': {
        if (![1, 2, 4, 8].includes(sizeOrType)) this.bad(id, offset, kind, name, `size ${sizeOrType} is not 1, 2, 4 or 8`);
        const values = new Array<{ name: string; value: number }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const at = data + i * 8;
          const value = kindFlag ? this.view.getInt32(at + 4, this.le) : this.u32(at + 4);
          values[i] = { name: this.string(this.u32(at), id), value };
        }
        return { kind, id, name, size: sizeOrType, signed: kindFlag, values: values };
      }
      case 'enum64': {
        if (![1, 2, 4, 8].includes(sizeOrType)) this.bad(id, offset, kind, name, `size ${sizeOrType} is not 1, 2, 4 or 8`);
        const values = new Array<{ name: string; value: bigint }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const at = data + i * 12;
          const raw = (BigInt(this.u32(at + 8)) << 32n) | BigInt(this.u32(at + 4));
          values[i] = { name: this.string(this.u32(at), id), value: kindFlag ? BigInt.asIntN(64, raw) : raw };
        }
        return { kind, id, name, size: sizeOrType, signed: kindFlag, values: values };
      }
      case 'fwd':
        return { kind, id, name, union: kindFlag };
      case 'func':
        return { kind, id, name, type: this.ref(offset + 8, id), linkage: vlen };
      case 'func_proto': {
        const params = new Array<{ name: string; type: number }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const at = data + i * 8;
          params[i] = { name: this.string(this.u32(at), id), type: this.ref(at + 4, id) };
        }
        return { kind, id, name, returnType: this.ref(offset + 8, id), params: params };
      }
      case 'var':
        return { kind, id, name, type: this.ref(offset + 8, id), linkage: this.u32(data) };
      case 'datasec': {
        const vars = new Array<{ type: number; offset: number; size: number }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const at = data + i * 12;
          vars[i] = { type: this.ref(at, id), offset: this.u32(at + 4), size: this.u32(at + 8) };
        }
        return { kind, id, name, size: sizeOrType, vars: vars };
      }
      case 'float':
        if (![2, 4, 8, 12, 16].includes(sizeOrType)) this.bad(id, offset, kind, name, `size ${sizeOrType} is not 2, 4, 8, 12 or 16`);
        return { kind, id, name, size: sizeOrType };
      case 'decl_tag':
        return { kind, id, name, type: this.ref(offset + 8, id), componentIndex: this.view.getInt32(data, this.le) };
    }
  }

  /**
   * Follows typedef, const, volatile, restrict and type_tag to the underlying type.
   * @throws BtfError (`ERR_BTF_CYCLE`) on a cyclic or absurdly long chain.
   */
  resolve(id: number): BtfType {
    let type = this.type(id);
    for (let hops = 0; hops < MAX_CHAIN; hops++) {
      switch (type.kind) {
        case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag':
          type = this.type(type.type);
          break;
        default:
          return type;
      }
    }
    throw new BtfError('ERR_BTF_CYCLE', `reference chain longer than ${MAX_CHAIN} (a cycle?)`, { typeId: id });
  }

  /**
   * Size in bytes of a value of this type.
   * @throws BtfError for types without a size (void, functions, forward declarations) or cycles.
   */
  size(id: number, depth = 0): number {
    if (depth > MAX_CHAIN) throw new BtfError('ERR_BTF_CYCLE', `type nesting deeper than ${MAX_CHAIN} (a cycle?)`, { typeId: id });
    const type = this.type(id);
    switch (type.kind) {
      case 'int': case 'enum': case 'enum64': case 'struct': case 'union': case 'datasec': case 'float':
        return type.size;
      case 'ptr':
        return BTF_POINTER_SIZE;
      case 'array': {
        const total = type.length * this.size(type.type, depth + 1);
        if (total > 0xffffffff) throw new BtfError('ERR_BTF_BAD_TYPE', `array of ${type.length} elements is larger than 4 GiB`, { typeId: id });
        return total;
      }
      case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag': case 'var':
        return this.size(type.type, depth + 1);
      default:
        throw new BtfError('ERR_BTF_BAD_TYPE', `a ${type.kind} has no size`, { typeId: id });
    }
  }

  /**
   * Alignment in bytes (libbpf's `btf__align_of`: a struct whose members are not naturally
   * aligned, or whose size is not a multiple of its alignment, is packed and aligns to 1).
   */
  alignment(id: number, depth = 0): number {
    if (depth > MAX_CHAIN) throw new BtfError('ERR_BTF_CYCLE', `type nesting deeper than ${MAX_CHAIN} (a cycle?)`, { typeId: id });
    const type = this.type(id);
    switch (type.kind) {
      case 'int': case 'enum': case 'enum64': case 'float':
        return Math.min(BTF_POINTER_SIZE, type.size);
      case 'ptr':
        return BTF_POINTER_SIZE;
      case 'array': case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag': case 'var':
        return this.alignment(type.type, depth + 1);
      case 'struct': case 'union': {
        let maxAlign = 1;
        for (const member of type.members) {
          const align = this.alignment(member.type, depth + 1);
          maxAlign = Math.max(maxAlign, align);
          if (member.bitfieldSize === 0 && member.bitOffset % (8 * align) !== 0) return 1;
        }
        return type.size % maxAlign === 0 ? maxAlign : 1;
      }
      default:
        throw new BtfError('ERR_BTF_BAD_TYPE', `a ${type.kind} has no alignment`, { typeId: id });
    }
  }

  /**
   * Finds a member by name or dotted path (`'hdr.len'`), looking through anonymous structs and
   * unions as C does. Returns undefined when there is no such member.
   */
  findMember(id: number, path: string): BtfMemberLocation | undefined {
    let typeId = id;
    let bitOffset = 0;
    let found: BtfMemberLocation | undefined;
    for (const part of path.split('.')) {
      const composite = this.resolve(typeId);
      if (composite.kind !== 'struct' && composite.kind !== 'union') return undefined;
      const location = this.memberIn(composite, part, 0);
      if (!location) return undefined;
      bitOffset += location.bitOffset;
      found = { member: location.member, bitOffset };
      typeId = location.member.type;
    }
    return found;
  }

  private memberIn(composite: BtfComposite, name: string, depth: number): BtfMemberLocation | undefined {
    if (depth > MAX_CHAIN) throw new BtfError('ERR_BTF_CYCLE', 'anonymous members nest too deeply (a cycle?)', { typeId: composite.id });
    for (const member of composite.members) {
      if (member.name === name) return { member, bitOffset: member.bitOffset };
      if (member.name === '') {
        const inner = this.resolve(member.type);
        if (inner.kind === 'struct' || inner.kind === 'union') {
          const location = this.memberIn(inner, name, depth + 1);
          if (location) return { member: location.member, bitOffset: member.bitOffset + location.bitOffset };
        }
      }
    }
    return undefined;
  }
}
