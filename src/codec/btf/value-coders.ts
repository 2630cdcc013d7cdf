/** The value-level coders BTF codecs are built from: scalars (integers, enums, floats, raw bytes) and the errors of encoding. */
import { describe } from '../codec.js';
import { BtfError } from './errors.js';
import type { BtfEnum, BtfEnum64 } from './types.js';
import { bitsAreBig } from './type-layout.js';

/** The value-level coder a BTF codec is built from: offsets are absolute within the buffer. */
export interface Coder {
  readonly size: number;
  decode(view: DataView, offset: number): unknown;
  encode(value: unknown, view: DataView, offset: number): void;
}

export function fail(kind: 'type' | 'range' | 'field' | 'union', message: string): never {
  const error = kind === 'range' ? new RangeError(message) : new TypeError(message);
  throw Object.assign(error, { code: VALUE_ERROR_CODES[kind] });
}

/** Codes of the value errors BTF codecs throw (malformed BTF itself is a `BtfError`). */
const VALUE_ERROR_CODES = {
  type: 'ERR_BPFMAP_BTF_TYPE',
  range: 'ERR_BPFMAP_BTF_RANGE',
  field: 'ERR_BPFMAP_UNKNOWN_FIELD',
  union: 'ERR_BPFMAP_BTF_UNION',
} as const;

/** Prefixes an encode error with the field it happened in (`.items[1].tag: ...`). */
export function within(step: string, error: unknown): never {
  if (error instanceof Error && !(error instanceof BtfError)) {
    error.message = error.message.startsWith('.') || error.message.startsWith('[') ? `${step}${error.message}` : `${step}: ${error.message}`;
  }
  throw error;
}

/** Converts a number or bigint to a bigint in [min, max], or throws naming the range. */
export function toBigInt(value: unknown, min: bigint, max: bigint, what: string): bigint {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
  else return fail('type', `expected ${what} (a bigint or integer), got ${describe(value)}`);
  if (big < min || big > max) fail('range', `${big} does not fit ${what} [${min}, ${max}]`);
  return big;
}

export function toInteger(value: unknown, min: number, max: number, what: string): number {
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) return fail('type', `expected ${what} (an integer), got ${describe(value)}`);
  if (number < min || number > max) fail('range', `${String(value)} does not fit ${what} [${min}, ${max}]`);
  return number;
}

/** Reads `count` bytes as an unsigned integer in the blob's byte order. */
export function readUnsigned(view: DataView, offset: number, count: number, le: boolean): bigint {
  let value = 0n;
  for (let i = 0; i < count; i++) {
    const byte = BigInt(view.getUint8(offset + (le ? count - 1 - i : i)));
    value = (value << 8n) | byte;
  }
  return value;
}

export function writeUnsigned(view: DataView, offset: number, count: number, le: boolean, value: bigint): void {
  for (let i = 0; i < count; i++) {
    view.setUint8(offset + (le ? i : count - 1 - i), Number(value & 0xffn));
    value >>= 8n;
  }
}

/** Numbers ↔ the raw unsigned bits of an integer field, for enums and bitfields. */
export interface IntegerShape {
  readonly bits: number;
  readonly signed: boolean;
}

/** Decodes raw unsigned bits to number/bigint per the shape. */
export function fromRaw(raw: bigint, shape: IntegerShape): number | bigint {
  const value = shape.signed ? BigInt.asIntN(shape.bits, raw) : raw;
  return bitsAreBig(shape.bits) ? value : Number(value);
}

/** Encodes a number/bigint to raw unsigned bits, range-checked for the shape. */
export function toRaw(value: unknown, shape: IntegerShape, what: string): bigint {
  const bits = BigInt(shape.bits);
  const min = shape.signed ? -(1n << (bits - 1n)) : 0n;
  const max = shape.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  return BigInt.asUintN(shape.bits, toBigInt(value, min, max, what));
}

/** Enumerator names by raw unsigned value, and back. */
interface EnumTable {
  readonly byRaw: Map<bigint, string>;
  readonly byName: Map<string, bigint>;
}

export function enumTable(type: BtfEnum | BtfEnum64): EnumTable {
  const bits = type.size * 8;
  const byRaw = new Map<bigint, string>();
  const byName = new Map<string, bigint>();
  for (const { name, value } of type.values) {
    const raw = BigInt.asUintN(bits, BigInt(value));
    if (!byRaw.has(raw)) byRaw.set(raw, name);
    byName.set(name, raw);
  }
  return { byRaw, byName };
}

function enumDescription(type: BtfEnum | BtfEnum64): string {
  const names = type.values.map((v) => v.name);
  return `enum ${type.name || '(anonymous)'} (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})`;
}

export function decodeEnumRaw(raw: bigint, type: BtfEnum | BtfEnum64, table: EnumTable): string | number | bigint {
  return table.byRaw.get(raw) ?? fromRaw(raw, { bits: type.size * 8, signed: type.signed });
}

export function encodeEnumRaw(value: unknown, type: BtfEnum | BtfEnum64, table: EnumTable, bits: number): bigint {
  if (typeof value === 'string') {
    const raw = table.byName.get(value);
    if (raw === undefined) fail('range', `'${value}' is not an enumerator of ${enumDescription(type)}`);
    return BigInt.asUintN(bits, raw);
  }
  const signed = type.signed || (typeof value === 'number' && value < 0) || (typeof value === 'bigint' && value < 0n);
  return toRaw(value, { bits, signed }, `${enumDescription(type)} as a ${bits}-bit number`);
}


export function rawBytes(size: number): Coder {
  return {
    size,
    decode: (view, offset) => new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + size)),
    encode: (value, view, offset) => {
      if (!(value instanceof Uint8Array) || value.length !== size) fail('type', `expected a Uint8Array of ${size} bytes, got ${describe(value)}`);
      for (let i = 0; i < size; i++) view.setUint8(offset + i, value[i] as number);
    },
  };
}

/** IEEE 754 binary16 → number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** number → IEEE 754 binary16 (round to nearest even through float32). */
export function numberToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (((bits >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const m = (mantissa | 0x800000) >>> (1 - exponent);
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  const rounded = (exponent << 10) + ((mantissa + 0xfff + ((mantissa >>> 13) & 1)) >>> 13);
  return sign | rounded;
}
