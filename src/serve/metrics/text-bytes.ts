/**
 * Exposition text written as bytes: decimal integers, hex, and short byte copies straight into a
 * Buffer at a position, so a scrape's hot path builds no JavaScript string per label or line.
 *
 * Every writer takes `(out, at, ...)` and returns the position after what it wrote; the caller has
 * made room first (each writer says how many bytes it may write at most). The text is the same
 * as what `String()`, `BigInt.prototype.toString()` and `sampleValue()` give for the same values:
 * the byte path is only a faster way to the same output.
 */
import { sampleValue } from './names.js';

/** Most bytes a decimal 64-bit integer takes (`-9223372036854775808`, `18446744073709551615`). */
export const MAX_INTEGER_BYTES = 20;
/** Most bytes `writeSampleValue` writes: `sampleValue()` of any double (`-1.7976931348623157e+308`). */
export const MAX_SAMPLE_BYTES = 24;

const ZERO = 0x30;
const MINUS = 0x2d;
const TWO_POW_32 = 4294967296;
/** Above this, a u64's high word makes the value inexact as a double: BigInt formats it. */
const SAFE_HIGH_WORD = 0x200000;

/** Decimal digits of a safe integer of 2^32 or more (no sign): at least 10; smaller ones go to writeUint32. */
function digitCount(value: number): number {
  let digits = 10;
  for (let limit = 10000000000; value >= limit && digits < 16; limit *= 10) digits++;
  return digits;
}

/** Tens and ones digit of 0..99 as ASCII: a division by 100 gives two digits. */
const TENS = Uint8Array.from({ length: 100 }, (_, i) => ZERO + Math.floor(i / 10));
const ONES = Uint8Array.from({ length: 100 }, (_, i) => ZERO + (i % 10));

/**
 * Writes an integer from 0 to 2^32 - 1 in decimal: the common case, small enough for the
 * generated scrape loop to have it inlined.
 */
export function writeUint32(out: Uint8Array, at: number, value: number): number {
  // Compared here rather than through digitCount, whose loop for longer numbers keeps V8 from
  // inlining it into the scrape loop.
  const digits = value < 100000
    ? (value < 100 ? (value < 10 ? 1 : 2) : value < 1000 ? 3 : value < 10000 ? 4 : 5)
    : value < 10000000 ? (value < 1000000 ? 6 : 7) : value < 100000000 ? 8 : value < 1000000000 ? 9 : 10;
  const end = at + digits;
  let i = end;
  // Two digits per division (half the divisions, the slow part); unsigned 32-bit arithmetic:
  // `>>> 0` keeps the quotient an integer without Math.floor.
  let n = value >>> 0;
  while (n >= 100) {
    const q = (n / 100) >>> 0;
    const pair = n - q * 100;
    out[--i] = ONES[pair] as number;
    out[--i] = TENS[pair] as number;
    n = q;
  }
  if (n >= 10) {
    out[i - 1] = ONES[n] as number;
    out[i - 2] = TENS[n] as number;
  } else {
    out[i - 1] = ZERO + n;
  }
  return end;
}

/** Writes a non-negative safe integer in decimal. */
export function writeUnsigned(out: Uint8Array, at: number, value: number): number {
  if (value < TWO_POW_32) return writeUint32(out, at, value);
  const end = at + digitCount(value);
  let i = end;
  // Above 2^32: the remainder is exact for doubles, and (n - r) / 10 is an exact division.
  let n = value;
  do {
    const r = n % 10;
    out[--i] = ZERO + r;
    n = (n - r) / 10;
  } while (n !== 0);
  return end;
}

/** Writes a safe integer (either sign) in decimal; -0 as `0`, as `String(-0)` does. */
export function writeInteger(out: Uint8Array, at: number, value: number): number {
  if (value < 0) {
    out[at] = MINUS;
    return writeUnsigned(out, at + 1, -value);
  }
  return writeUnsigned(out, at, value);
}

/** Writes ASCII text (digits, exponent forms, `NaN`...) byte by byte. */
export function writeAscii(out: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/**
 * Writes a sample value as `sampleValue()` does: integers up to 2^53 digit by digit, anything
 * else (fractions, larger values, infinities, NaN) through its text, which is ASCII.
 */
export function writeSampleValue(out: Uint8Array, at: number, value: number): number {
  if (Number.isSafeInteger(value)) return writeInteger(out, at, value);
  return writeAscii(out, at, sampleValue(value));
}

/** Writes the u64 at `offset` (little-endian) exactly, as `getBigUint64().toString()` would. */
export function writeU64(out: Uint8Array, at: number, view: DataView, offset: number): number {
  const high = view.getUint32(offset + 4, true);
  if (high < SAFE_HIGH_WORD) return writeUnsigned(out, at, high * TWO_POW_32 + view.getUint32(offset, true));
  return writeAscii(out, at, view.getBigUint64(offset, true).toString());
}

/** Writes the i64 at `offset` (little-endian) exactly, as `getBigInt64().toString()` would. */
export function writeI64(out: Uint8Array, at: number, view: DataView, offset: number): number {
  const high = view.getInt32(offset + 4, true);
  if (high < SAFE_HIGH_WORD && high >= -SAFE_HIGH_WORD) return writeInteger(out, at, high * TWO_POW_32 + view.getUint32(offset, true));
  return writeAscii(out, at, view.getBigInt64(offset, true).toString());
}

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Writes `length` bytes from `bytes[start]` as lowercase hex (two characters each). */
export function writeHex(out: Uint8Array, at: number, bytes: Uint8Array, start: number, length: number): number {
  for (let i = 0; i < length; i++) {
    const b = bytes[start + i] as number;
    out[at++] = HEX[b >>> 4] as number;
    out[at++] = HEX[b & 15] as number;
  }
  return at;
}

/** Bytes with a DataView over the same memory: what `copyBytes` copies from and to. */
export interface ByteSpan {
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/** A span over `bytes`. */
export function byteSpan(bytes: Uint8Array): ByteSpan {
  return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/**
 * Copies `length` bytes, four at a time through DataViews (which do unaligned 32-bit loads and
 * stores), the rest byte by byte. For the 5 to 60 bytes of a name or a label set this is about 3x
 * faster than a byte loop, and unlike `Buffer.copy` (which makes a view per call) it allocates
 * nothing.
 */
export function copyBytes(out: Uint8Array, outView: DataView, at: number, from: Uint8Array, fromView: DataView, start: number, length: number): number {
  let i = 0;
  for (; i + 4 <= length; i += 4) outView.setUint32(at + i, fromView.getUint32(start + i, true), true);
  for (; i < length; i++) out[at + i] = from[start + i] as number;
  return at + length;
}

/** Bytes past the end that `copyWords` may write (and read): callers leave this much slack. */
export const WORD_SLACK = 7;

/**
 * Copies `length` bytes as whole 8-byte words, about twice as fast as `copyBytes` for the names
 * and label sets of every line. It writes and reads up to `WORD_SLACK` bytes past the end, so both
 * buffers need that slack, and what it writes there is left for the next bytes to overwrite.
 *
 * The words go through `getFloat64` / `setFloat64`, which keep every bit of a double except a
 * NaN's (an engine may pick its NaN bits). The source must be text: valid UTF-8 and zero bytes.
 * A NaN word needs 0x7f or 0xff at its top byte and 0xf0-0xff just below it: 0xff never occurs
 * in UTF-8, and a byte from 0xf0 up is a lead byte that a continuation byte (0x80-0xbf), never
 * 0x7f, follows. So text words are never NaNs, and the copy is exact.
 */
export function copyWords(outView: DataView, at: number, fromView: DataView, start: number, length: number): number {
  for (let i = 0; i < length; i += 8) outView.setFloat64(at + i, fromView.getFloat64(start + i, true), true);
  return at + length;
}

/** Text padded for `copyWords`: its bytes, a view, and the text's own length. */
export interface WordSpan extends ByteSpan {
  readonly length: number;
}

/**
 * `text` as UTF-8 followed by zero bytes up to a multiple of 8, to be copied with `copyWords`;
 * `length` is the text's own length.
 */
export function wordSpan(text: string): WordSpan {
  const length = Buffer.byteLength(text, 'utf8');
  const bytes = Buffer.alloc(Math.max(8, (length + 7) & ~7));
  bytes.write(text, 0, 'utf8');
  return { ...byteSpan(bytes), length };
}
