/**
 * Zero-configuration metrics: how a map's key and value bytes become label values and samples,
 * derived once per map from its BTF (or from its sizes when it has none).
 *
 * Keys: every member becomes a label (integers in decimal, enums by enumerator name, char arrays as
 * strings, byte arrays as hex, nested structs flattened with `_`); a scalar key is the label `key`.
 * Values: every integer, enum or float member becomes a sample; an integer array named `slots`
 * (libbpf-tools' `struct hist`) becomes a histogram; char arrays in the value become labels too
 * (libbpf-tools keep `comm` there). What cannot be exported is listed with a reason.
 */
import type { Btf } from '../../codec/btf/btf.js';
import { isCharArray, placeMember } from '../../codec/btf/codec.js';
import type { BtfType } from '../../codec/btf/types.js';
import type { MapInfo } from '../../map/info.js';
import { charArrayText, escapeLabelValue, labelName, uniqueNames } from './names.js';
import { MAX_INTEGER_BYTES, MAX_SAMPLE_BYTES, writeHex, writeI64, writeInteger, writeU64 } from './text-bytes.js';

/** Reads a label value at `offset` in a buffer. */
export type LabelReader = (bytes: Uint8Array, view: DataView, offset: number) => string;
/**
 * Writes a label value, escaped, as UTF-8 bytes into `out` at `at` and returns the position after
 * it; `out` has room for the label's `maxBytes`. The same text as `read` (escaped when `escape`).
 */
export type LabelWriter = (out: Buffer, at: number, bytes: Uint8Array, view: DataView, offset: number) => number;
/** Reads a number at `offset` in a buffer. */
export type NumberReader = (view: DataView, offset: number) => number;

/**
 * Where a plain number sits in a key or value, for the generated scrape loop (series-code.ts) to
 * read it inline: an integer of 1, 2, 4 or 8 bytes (little-endian) or a float of 4 or 8 bytes.
 */
export interface NumberLayout {
  readonly kind: 'int' | 'float';
  readonly size: number;
  readonly signed: boolean;
  /** Offset in the key or value. */
  readonly offset: number;
}

/** One label of a series. */
export interface LabelPlan {
  readonly name: string;
  /** The value as text (not escaped): the reference the byte writer must match. */
  readonly read: LabelReader;
  /** False when the reader yields only digits, signs and letters: nothing to escape. */
  readonly escape?: boolean;
  /** The value's escaped bytes, written straight into the scrape's buffer. */
  readonly write: LabelWriter;
  /** Most bytes `write` writes. */
  readonly maxBytes: number;
  /** Set when the label is an integer written in decimal: what `write` reads. */
  readonly integer?: NumberLayout;
}

/** A label value's readers: text (the reference) and bytes (the scrape's path). */
interface LabelCodec {
  readonly read: LabelReader;
  readonly write: LabelWriter;
  readonly maxBytes: number;
  readonly integer?: NumberLayout;
}

/** One value member exported as a gauge. */
export interface SamplePlan {
  /** Member path joined with `_` ('' for a scalar value). */
  readonly path: string;
  readonly read: NumberReader;
  /** Set when `read` reads a plain integer or float (not a bitfield): where it is. */
  readonly layout?: NumberLayout;
}

/** An integer array exported as a log2 histogram (slot i counts values in [2^i, 2^(i+1) - 1]). */
export interface SlotsPlan {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  readonly read: NumberReader;
  readonly elementSize: number;
}

/** A key whose last member is a bucket index: one histogram per value of the other members. */
export interface KeyBucketPlan {
  /** Reads the bucket index from a key. */
  readonly bucket: NumberReader;
  /** Name of the bucket member. */
  readonly member: string;
}

/** How one map's entries become series. */
export interface MapPlan {
  /** Labels read from the key. */
  readonly keyLabels: readonly LabelPlan[];
  /** Labels read from the value (char arrays). */
  readonly valueLabels: readonly LabelPlan[];
  readonly samples: readonly SamplePlan[];
  readonly slots: readonly SlotsPlan[];
  /** Set when the key's last member is a bucket index (ebpf_exporter's layout). */
  readonly keyBucket: KeyBucketPlan | undefined;
  /** Members left out, with why. */
  readonly skipped: readonly string[];
}

const MAX_DEPTH = 8;
/** Arrays of other element types than char/bytes export at most this many elements as labels. */
const MAX_FLAT_ELEMENTS = 16;

function hexReader(size: number, relative: number): LabelReader {
  return (bytes, _view, offset) => {
    let text = '';
    const start = offset + relative;
    for (let i = start; i < start + size; i++) text += (bytes[i] as number).toString(16).padStart(2, '0');
    return text;
  };
}

function hexCodec(size: number, relative: number): LabelCodec {
  return { read: hexReader(size, relative), write: (out, at, bytes, _view, offset) => writeHex(out, at, bytes, offset + relative, size), maxBytes: 2 * size };
}

/** A codec whose bytes are its text's (escaped when asked): for the rare kinds (floats, pointers, enum64, bitfields). */
function textCodec(read: LabelReader, escape: boolean, maxBytes: number): LabelCodec {
  return {
    read,
    write: (out, at, bytes, view, offset) => {
      const text = read(bytes, view, offset);
      return at + out.write(escape ? escapeLabelValue(text) : text, at, 'utf8');
    },
    maxBytes,
  };
}

const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * A C char array as a label: up to the NUL, escaped. ASCII (nearly every `comm`) is copied byte by
 * byte, escaping as it goes; anything else goes through `charArrayText` (UTF-8 checks, `\xNN` for
 * invalid bytes), so both paths give `escapeLabelValue(charArrayText(...))`.
 */
function charArrayCodec(relative: number, length: number): LabelCodec {
  const read: LabelReader = (bytes, _view, offset) => charArrayText(bytes, offset + relative, length);
  return {
    read,
    write: (out, at, bytes, _view, offset) => {
      const start = offset + relative;
      const limit = start + length;
      let pos = at;
      for (let i = start; i < limit; i++) {
        const b = bytes[i] as number;
        if (b === 0) break;
        if (b >= 0x80) return at + out.write(escapeLabelValue(charArrayText(bytes, start, length)), at, 'utf8');
        if (b === BACKSLASH || b === QUOTE) {
          out[pos++] = BACKSLASH;
          out[pos++] = b;
        } else if (b === NEWLINE) {
          out[pos++] = BACKSLASH;
          out[pos++] = 0x6e; // n
        } else {
          out[pos++] = b;
        }
      }
      return pos;
    },
    // An invalid byte becomes `\\xNN` (5 bytes) once escaped; nothing else grows more.
    maxBytes: 5 * length,
  };
}

/** An integer reader for `size` bytes at `relative`, as a number (64-bit values lose precision above 2^53). */
export function integerReader(size: number, signed: boolean, relative: number): NumberReader {
  switch (size) {
    case 1: return signed ? (v, o) => v.getInt8(o + relative) : (v, o) => v.getUint8(o + relative);
    case 2: return signed ? (v, o) => v.getInt16(o + relative, true) : (v, o) => v.getUint16(o + relative, true);
    case 4: return signed ? (v, o) => v.getInt32(o + relative, true) : (v, o) => v.getUint32(o + relative, true);
    case 8:
      return signed
        ? (v, o) => v.getInt32(o + relative + 4, true) * 4294967296 + v.getUint32(o + relative, true)
        : (v, o) => v.getUint32(o + relative + 4, true) * 4294967296 + v.getUint32(o + relative, true);
    default: return () => NaN;
  }
}

/** An exact decimal reader (64-bit integers as bigint text). */
function integerTextReader(size: number, signed: boolean, relative: number): LabelReader {
  if (size === 8) {
    return signed ? (_b, v, o) => v.getBigInt64(o + relative, true).toString() : (_b, v, o) => v.getBigUint64(o + relative, true).toString();
  }
  const read = integerReader(size, signed, relative);
  return (_b, v, o) => String(read(v, o));
}

/** Integers in exact decimal, digit by digit. */
function integerCodec(size: number, signed: boolean, relative: number): LabelCodec {
  const read = integerTextReader(size, signed, relative);
  if (size === 8) {
    return {
      read,
      write: signed ? (out, at, _b, v, o) => writeI64(out, at, v, o + relative) : (out, at, _b, v, o) => writeU64(out, at, v, o + relative),
      maxBytes: MAX_INTEGER_BYTES,
      integer: { kind: 'int', size, signed, offset: relative },
    };
  }
  if (size !== 1 && size !== 2 && size !== 4) return textCodec(read, false, MAX_SAMPLE_BYTES);
  const number = integerReader(size, signed, relative);
  return { read, write: (out, at, _b, v, o) => writeInteger(out, at, number(v, o)), maxBytes: MAX_INTEGER_BYTES, integer: { kind: 'int', size, signed, offset: relative } };
}

/** Enums of up to 4 bytes: each enumerator's name as escaped bytes, made once; others in decimal. */
function enumCodec(type: Extract<BtfType, { kind: 'enum' }>, read: LabelReader, relative: number): LabelCodec {
  const names = new Map<number, Buffer>();
  let longest = MAX_INTEGER_BYTES;
  for (const entry of type.values) {
    // The first enumerator with a value names it, as enumText() finds it.
    if (names.has(entry.value)) continue;
    const bytes = Buffer.from(escapeLabelValue(entry.name), 'utf8');
    names.set(entry.value, bytes);
    longest = Math.max(longest, bytes.length);
  }
  const number = integerReader(type.size, type.signed, relative);
  return {
    read,
    write: (out, at, _b, v, o) => {
      const value = number(v, o);
      const name = names.get(value);
      if (name === undefined) return writeInteger(out, at, value);
      for (let i = 0; i < name.length; i++) out[at + i] = name[i] as number;
      return at + name.length;
    },
    maxBytes: longest,
  };
}

function bitfieldReader(byteOffset: number, shift: number, bits: number): NumberReader {
  const bytes = Math.ceil((shift + bits) / 8);
  return (v, o) => {
    let value = 0;
    for (let i = bytes - 1; i >= 0; i--) value = value * 256 + v.getUint8(o + byteOffset + i);
    return Math.floor(value / 2 ** shift) % 2 ** bits;
  };
}

interface Leaf {
  readonly path: string[];
  readonly type: BtfType;
  readonly offset: number;
  readonly bitfield: { readonly bitShift: number; readonly bits: number } | undefined;
}

/** Flattens a type into its leaves (structs walked, everything else a leaf). */
function leaves(btf: Btf, typeId: number, path: string[], offset: number, out: Leaf[], skipped: string[], depth = 0): void {
  const type = btf.resolve(typeId);
  if (type.kind === 'struct' && depth < MAX_DEPTH) {
    let anonymous = 0;
    for (const member of type.members) {
      const placement = placeMember(btf, member);
      const name = member.name || `anon${anonymous++}`;
      const memberPath = member.name === '' && btf.resolve(member.type).kind === 'struct' ? path : [...path, name];
      if (placement.bitfield) {
        out.push({ path: memberPath, type: btf.resolve(member.type), offset: offset + placement.byteOffset, bitfield: placement.bitfield });
      } else {
        leaves(btf, member.type, memberPath, offset + placement.byteOffset, out, skipped, depth + 1);
      }
    }
    return;
  }
  out.push({ path, type, offset, bitfield: undefined });
}

function enumText(type: BtfType, value: bigint): string {
  if (type.kind !== 'enum' && type.kind !== 'enum64') return value.toString();
  for (const entry of type.values) if (BigInt(entry.value) === value) return entry.name;
  return value.toString();
}

/** The label codec of one key leaf, or undefined when the leaf cannot be a label. */
function labelCodecOf(btf: Btf, leaf: Leaf): LabelCodec | undefined {
  const { type, offset } = leaf;
  if (leaf.bitfield) {
    const read = bitfieldReader(offset, leaf.bitfield.bitShift, leaf.bitfield.bits);
    return textCodec((_b, v, o) => String(read(v, o)), false, MAX_SAMPLE_BYTES);
  }
  switch (type.kind) {
    case 'int':
      if (type.bool) {
        return {
          read: (b, _v, o) => (b[o + offset] ? 'true' : 'false'),
          write: (out, at, b, _v, o) => at + out.write(b[o + offset] ? 'true' : 'false', at, 'latin1'),
          maxBytes: 5,
        };
      }
      if (type.size === 1 && type.char) return charArrayCodec(offset, 1);
      return integerCodec(type.size, type.signed, offset);
    case 'enum':
    case 'enum64': {
      const size = type.size;
      const signed = type.signed;
      const read: LabelReader = (_b, v, o) => {
        const raw = size === 8 ? (signed ? v.getBigInt64(o + offset, true) : v.getBigUint64(o + offset, true)) : BigInt(integerReader(size, signed, 0)(v, o + offset));
        return enumText(type, raw);
      };
      if (type.kind === 'enum' && (size === 1 || size === 2 || size === 4)) return enumCodec(type, read, offset);
      const longest = type.values.reduce((n, entry) => Math.max(n, 2 * Buffer.byteLength(entry.name)), MAX_INTEGER_BYTES);
      return textCodec(read, true, longest);
    }
    case 'float':
      if (type.size === 8) return textCodec((_b, v, o) => String(v.getFloat64(o + offset, true)), false, MAX_SAMPLE_BYTES);
      return type.size === 4 ? textCodec((_b, v, o) => String(v.getFloat32(o + offset, true)), false, MAX_SAMPLE_BYTES) : undefined;
    case 'ptr':
      return textCodec((_b, v, o) => `0x${v.getBigUint64(o + offset, true).toString(16)}`, false, 18);
    case 'array':
      if (isCharArray(btf, type)) return charArrayCodec(offset, type.length);
      return hexCodec(btf.size(type.id), offset);
    case 'union':
    case 'struct':
      return hexCodec(type.size, offset);
    default:
      return undefined;
  }
}

/** Splits non-char arrays of a key into one label per element (when short), else keeps the leaf. */
function expandArrays(btf: Btf, leaf: Leaf): Leaf[] {
  const { type } = leaf;
  if (type.kind !== 'array' || isCharArray(btf, type)) return [leaf];
  const element = btf.resolve(type.type);
  if (element.kind === 'int' && element.size === 1) return [leaf];
  if (type.length > MAX_FLAT_ELEMENTS) return [leaf];
  const size = btf.size(type.type);
  const out: Leaf[] = [];
  for (let i = 0; i < type.length; i++) out.push({ path: [...leaf.path, String(i)], type: element, offset: leaf.offset + i * size, bitfield: undefined });
  return out;
}

function numberReaderOf(leaf: Leaf): NumberReader | undefined {
  const { type, offset } = leaf;
  if (leaf.bitfield) return bitfieldReader(offset, leaf.bitfield.bitShift, leaf.bitfield.bits);
  switch (type.kind) {
    case 'int':
      return integerReader(type.size, type.signed, offset);
    case 'enum':
    case 'enum64':
      return integerReader(type.size, type.signed, offset);
    case 'float':
      return type.size === 8 ? (v, o) => v.getFloat64(o + offset, true) : type.size === 4 ? (v, o) => v.getFloat32(o + offset, true) : undefined;
    default:
      return undefined;
  }
}

/** Where `numberReaderOf(leaf)` reads, when it reads a plain integer or float. */
function numberLayoutOf(leaf: Leaf): NumberLayout | undefined {
  const { type, offset } = leaf;
  if (leaf.bitfield) return undefined;
  if ((type.kind === 'int' || type.kind === 'enum' || type.kind === 'enum64') && [1, 2, 4, 8].includes(type.size)) return { kind: 'int', size: type.size, signed: type.signed, offset };
  if (type.kind === 'float' && (type.size === 4 || type.size === 8)) return { kind: 'float', size: type.size, signed: true, offset };
  return undefined;
}

/** Plans a map's series from its BTF, or from its sizes without BTF. */
export function planMap(info: MapInfo, btf: Btf | undefined): MapPlan {
  const skipped: string[] = [];
  const keyLabels: LabelPlan[] = [];
  const valueLabels: LabelPlan[] = [];
  const samples: SamplePlan[] = [];
  const slots: SlotsPlan[] = [];
  let keyBucket: KeyBucketPlan | undefined;

  const valueTypeId = info.btfVmlinuxValueTypeId ? 0 : info.btfValueTypeId;
  if (btf === undefined || valueTypeId === 0) {
    if (info.keySize > 0) keyLabels.push({ name: 'key', ...hexCodec(info.keySize, 0), escape: false });
    if (info.valueSize === 8) samples.push({ path: '', read: integerReader(8, false, 0), layout: { kind: 'int', size: 8, signed: false, offset: 0 } });
    else skipped.push(`value of ${info.valueSize} bytes without BTF: only 8-byte values export as numbers`);
    return { keyLabels, valueLabels, samples, slots, keyBucket, skipped };
  }

  // Keys.
  if (info.btfKeyTypeId) {
    const keyLeaves: Leaf[] = [];
    leaves(btf, info.btfKeyTypeId, [], 0, keyLeaves, skipped);
    const expanded = keyLeaves.flatMap((leaf) => expandArrays(btf, leaf));
    const last = expanded[expanded.length - 1];
    const keyIsStruct = btf.resolve(info.btfKeyTypeId).kind === 'struct';
    if (keyIsStruct && last !== undefined && expanded.length >= 1 && /^(bucket|slot)$/.test(last.path[last.path.length - 1] ?? '') && numberReaderOf(last) && last.type.kind === 'int') {
      keyBucket = { bucket: numberReaderOf(last) as NumberReader, member: last.path.join('_') };
      expanded.pop();
    }
    const names = uniqueNames(expanded.map((leaf) => labelName(leaf.path.length === 0 ? 'key' : leaf.path.join('_'))), ['le', 'cpu']);
    expanded.forEach((leaf, i) => {
      const codec = labelCodecOf(btf, leaf);
      const plain = leaf.bitfield !== undefined || (leaf.type.kind === 'int' && !(leaf.type.size === 1 && leaf.type.char)) || leaf.type.kind === 'ptr';
      if (codec) keyLabels.push({ name: names[i] as string, ...codec, escape: !plain });
      else skipped.push(`key member '${leaf.path.join('.') || 'key'}' (${leaf.type.kind}) is not a label`);
    });
  } else if (info.keySize > 0) {
    // Array maps (and .data sections) whose BTF names no key type are indexed by a u32.
    keyLabels.push({ name: 'key', ...(info.keySize === 4 ? integerCodec(4, false, 0) : hexCodec(info.keySize, 0)) });
  }

  // Values.
  const valueLeaves: Leaf[] = [];
  leaves(btf, valueTypeId, [], 0, valueLeaves, skipped);
  const valueLabelLeaves: Leaf[] = [];
  for (const leaf of valueLeaves) {
    const { type } = leaf;
    const path = leaf.path.join('_');
    if (type.kind === 'array') {
      const element = btf.resolve(type.type);
      if (isCharArray(btf, type)) {
        valueLabelLeaves.push(leaf);
      } else if (leaf.path[leaf.path.length - 1] === 'slots' && element.kind === 'int' && !element.bool) {
        slots.push({
          path: leaf.path.slice(0, -1).join('_'),
          offset: leaf.offset,
          length: type.length,
          elementSize: element.size,
          read: integerReader(element.size, element.signed, 0),
        });
      } else {
        skipped.push(`value member '${leaf.path.join('.')}' is an array (only 'slots' arrays export, as histograms)`);
      }
      continue;
    }
    const read = numberReaderOf(leaf);
    const layout = numberLayoutOf(leaf);
    if (read && !(type.kind === 'int' && type.char && type.size === 1)) samples.push({ path, read, ...(layout ? { layout } : {}) });
    else skipped.push(`value member '${leaf.path.join('.') || 'value'}' (${type.kind}) is not a number`);
  }
  const taken = keyLabels.map((label) => label.name);
  const valueNames = uniqueNames(valueLabelLeaves.map((leaf) => labelName(leaf.path.join('_'))), ['le', 'cpu', ...taken]);
  valueLabelLeaves.forEach((leaf, i) => {
    const codec = labelCodecOf(btf, leaf);
    if (codec) valueLabels.push({ name: valueNames[i] as string, ...codec });
  });
  if (keyBucket && (samples.length !== 1 || slots.length > 0)) {
    // A bucket index with anything but one count per entry is not a histogram: keep it a label.
    skipped.push(`key member '${keyBucket.member}' looks like a bucket index but the value is not one count`);
    const bucket = keyBucket.bucket;
    keyLabels.push({ name: uniqueNames([labelName(keyBucket.member)], ['le', 'cpu', ...taken])[0] as string, ...textCodec((_b, v, o) => String(bucket(v, o)), false, MAX_SAMPLE_BYTES) });
    keyBucket = undefined;
  }
  return { keyLabels, valueLabels, samples, slots, keyBucket, skipped };
}
