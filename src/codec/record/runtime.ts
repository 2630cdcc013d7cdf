/**
 * The small functions generated record code calls: value checks that throw with the field path,
 * half-precision floats (which DataView lacks before Node 24), and byte strings.
 *
 * Checks take the path in pieces (`prefix`, `index`, `suffix`) and join them only when they throw,
 * so that a loop over a large array builds no strings on the success path. An `index` below 0
 * means "no index".
 */
import { fieldRangeError, fieldTypeError } from './errors.js';
import { findUnknownField, unknownFieldError } from '../field-names.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8');

/** Joins a field path from its pieces. */
export function joinPath(prefix: string, index: number, suffix: string): string {
  return index < 0 ? prefix + suffix : `${prefix}[${index}]${suffix}`;
}

function typeError(expected: string, actual: unknown, prefix: string, index: number, suffix: string): TypeError {
  return fieldTypeError(joinPath(prefix, index, suffix), expected, actual);
}

/** Checks an integer of up to 4 bytes; accepts a number or a bigint in range. */
export function checkInt(value: unknown, min: number, max: number, prefix: string, index: number, suffix: string): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw typeError('an integer', value, prefix, index, suffix);
  } else if (typeof value === 'bigint') {
    if (value < BigInt(min) || value > BigInt(max)) {
      throw fieldRangeError(joinPath(prefix, index, suffix), `an integer in [${min}, ${max}]`, `${value}n`);
    }
    return Number(value);
  } else {
    throw typeError('an integer', value, prefix, index, suffix);
  }
  if (value < min || value > max) throw fieldRangeError(joinPath(prefix, index, suffix), `an integer in [${min}, ${max}]`, String(value));
  return value;
}

/** Checks an 8-byte integer: a bigint, or a number that is a safe integer. */
export function checkBigInt(value: unknown, min: bigint, max: bigint, prefix: string, index: number, suffix: string): bigint {
  let big: bigint;
  if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw typeError('a bigint or an integer', value, prefix, index, suffix);
    if (!Number.isSafeInteger(value)) {
      throw fieldRangeError(joinPath(prefix, index, suffix), 'a bigint or a safe integer (pass a bigint above 2^53)', String(value));
    }
    big = BigInt(value);
  } else {
    throw typeError('a bigint or an integer', value, prefix, index, suffix);
  }
  if (big < min || big > max) {
    throw fieldRangeError(joinPath(prefix, index, suffix), `an integer in [${min}, ${max}]`, typeof value === 'number' ? String(value) : `${big}n`);
  }
  return big;
}

/** Checks a `?` value: a boolean, written as 0 or 1. */
export function checkBool(value: unknown, prefix: string, index: number, suffix: string): number {
  if (typeof value !== 'boolean') throw typeError('a boolean', value, prefix, index, suffix);
  return value ? 1 : 0;
}

/** Checks a `d` value. */
export function checkDouble(value: unknown, prefix: string, index: number, suffix: string): number {
  if (typeof value !== 'number') throw typeError('a number', value, prefix, index, suffix);
  return value;
}

/** Checks an `f` value: a finite number must stay finite as a 32-bit float, as Python requires. */
export function checkFloat(value: unknown, prefix: string, index: number, suffix: string): number {
  if (typeof value !== 'number') throw typeError('a number', value, prefix, index, suffix);
  if (Number.isFinite(value) && !Number.isFinite(Math.fround(value))) {
    throw fieldRangeError(joinPath(prefix, index, suffix), 'a number within the 32-bit float range (±3.4028234663852886e38)', String(value));
  }
  return value;
}

function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  return fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

/** The IEEE 754 binary16 bits of a number (round half to even), or -1 when it overflows. */
export function halfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude === Infinity) return sign | 0x7c00;
  if (magnitude === 0) return sign;
  let exponent = Math.floor(Math.log2(magnitude));
  // log2 can be off by one near powers of two.
  if (2 ** exponent > magnitude) exponent -= 1;
  else if (2 ** (exponent + 1) <= magnitude) exponent += 1;
  if (exponent < -14) {
    // Subnormal: counts of 2^-24. A count that rounds up to 1024 is the smallest normal's bits.
    return sign | roundHalfEven(magnitude / 2 ** -24);
  }
  let mantissa = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent += 1;
  }
  if (exponent > 15) return -1;
  return sign | ((exponent + 15) << 10) | mantissa;
}

/** Checks an `e` value and returns its binary16 bits. */
export function checkHalf(value: unknown, prefix: string, index: number, suffix: string): number {
  if (typeof value !== 'number') throw typeError('a number', value, prefix, index, suffix);
  const bits = halfBits(value);
  if (bits < 0) throw fieldRangeError(joinPath(prefix, index, suffix), 'a number within the 16-bit float range (±65504)', String(value));
  return bits;
}

/** Reads a binary16 float. */
export function readHalf(view: DataView, offset: number, littleEndian: boolean): number {
  const bits = view.getUint16(offset, littleEndian);
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Checks a value that must be a non-null, non-array object (a struct). */
export function checkObject(value: unknown, prefix: string, index: number, suffix: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw typeError('an object', value, prefix, index, suffix);
  }
  return value as Record<string, unknown>;
}

/**
 * Called when a struct value has more or fewer keys than the struct has fields: throws
 * `ERR_BPFMAP_UNKNOWN_FIELD` for the first key that is not a field (fewer keys, or extra keys
 * that are `undefined`, are left to the field checks).
 */
export function checkFieldNames(value: object, names: readonly string[], prefix: string, index: number, suffix: string): void {
  const unknown = findUnknownField(value, names);
  if (unknown !== undefined) throw unknownFieldError(joinPath(prefix, index, suffix), unknown, 'the struct', names);
}

/** Checks a value that must be an array (or typed array) of exactly `length` elements. */
export function checkArray(value: unknown, length: number, prefix: string, index: number, suffix: string): ArrayLike<unknown> {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    throw typeError(`an array of ${length}`, value, prefix, index, suffix);
  }
  const actual = (value as ArrayLike<unknown>).length;
  if (actual !== length) {
    throw fieldRangeError(joinPath(prefix, index, suffix), `${length} elements`, `${actual}${actual > length ? ' (too many)' : ' (too few)'}`);
  }
  return value as ArrayLike<unknown>;
}

/** Copies `length` bytes at `offset` of a view into a new array. */
export function readBytes(view: DataView, offset: number, length: number): Uint8Array {
  const copy = new Uint8Array(length);
  copy.set(new Uint8Array(view.buffer, view.byteOffset + offset, length));
  return copy;
}

/** Reads `length` bytes as UTF-8 text up to the first NUL. */
export function readText(view: DataView, offset: number, length: number): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, length);
  const end = bytes.indexOf(0);
  return textDecoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** The data of a `p` string: its length byte, capped by the field's room. */
export function pascalLength(view: DataView, offset: number, size: number): number {
  return size === 0 ? 0 : Math.min(view.getUint8(offset), size - 1);
}

/** Reads a `p` string as bytes. */
export function readPascalBytes(view: DataView, offset: number, size: number): Uint8Array {
  return readBytes(view, offset + 1, pascalLength(view, offset, size));
}

/** Reads a `p` string as UTF-8 text. */
export function readPascalText(view: DataView, offset: number, size: number): string {
  return textDecoder.decode(new Uint8Array(view.buffer, view.byteOffset + offset + 1, pascalLength(view, offset, size)));
}

/** Writes a byte string (a `Uint8Array` or UTF-8 text) of up to `room` bytes; returns its length. */
function putString(target: Uint8Array, offset: number, room: number, value: unknown, prefix: string, index: number, suffix: string): number {
  if (value instanceof Uint8Array) {
    if (value.length > room) throw fieldRangeError(joinPath(prefix, index, suffix), `at most ${room} bytes`, `${value.length} bytes`);
    target.set(value, offset);
    return value.length;
  }
  if (typeof value === 'string') {
    const { read, written } = textEncoder.encodeInto(value, target.subarray(offset, offset + room));
    if (read < value.length) {
      throw fieldRangeError(joinPath(prefix, index, suffix), `at most ${room} bytes of UTF-8`, `${textEncoder.encode(value).length} bytes`);
    }
    return written;
  }
  throw typeError('a Uint8Array or a string', value, prefix, index, suffix);
}

/** Writes an `s` string, padding with NUL bytes as Python does. */
export function writeBytes(target: Uint8Array, offset: number, size: number, value: unknown, prefix: string, index: number, suffix: string): void {
  const written = putString(target, offset, size, value, prefix, index, suffix);
  target.fill(0, offset + written, offset + size);
}

/** Writes a `p` string: a length byte, then the data, then NUL padding. */
export function writePascal(target: Uint8Array, offset: number, size: number, value: unknown, prefix: string, index: number, suffix: string): void {
  if (size === 0) {
    putString(target, offset, 0, value, prefix, index, suffix);
    return;
  }
  const written = putString(target, offset + 1, Math.min(size - 1, 255), value, prefix, index, suffix);
  target[offset] = written;
  target.fill(0, offset + 1 + written, offset + size);
}

/** Checks a `c` value (a one-byte `Uint8Array`, or a one-character string below U+0100) and returns the byte. */
export function checkChar(value: unknown, prefix: string, index: number, suffix: string): number {
  if (value instanceof Uint8Array && value.length === 1) return value[0] as number;
  if (typeof value === 'string' && value.length === 1 && value.charCodeAt(0) < 0x100) return value.charCodeAt(0);
  throw typeError('a Uint8Array of 1 byte or a one-character string below U+0100', value, prefix, index, suffix);
}

/** Reads a `c` value as a one-byte array. */
export function readCharBytes(view: DataView, offset: number): Uint8Array {
  return Uint8Array.of(view.getUint8(offset));
}

/** Everything generated code may call, passed to it by name. */
export const runtime = {
  checkInt,
  checkBigInt,
  checkBool,
  checkDouble,
  checkFloat,
  checkHalf,
  readHalf,
  checkObject,
  checkFieldNames,
  checkArray,
  readBytes,
  readText,
  readPascalBytes,
  readPascalText,
  writeBytes,
  writePascal,
  checkChar,
  readCharBytes,
};
