/**
 * Python `struct` format strings: the byte-order prefixes, the format characters and what each
 * one occupies. This table is the only place that knows a format character's size and alignment;
 * the layout and the generated code read it from here.
 */
import { arch, endianness } from 'node:os';
import { recordFormatError } from './errors.js';

/** A byte-order prefix, as in Python's `struct`: `@` native (C sizes and alignment), `=` native order with standard sizes and no padding, `<` little, `>` and `!` big. */
export type ByteOrder = '@' | '=' | '<' | '>' | '!';

/** How a format character's value is represented. */
export type ValueKind =
  | 'pad' // x: no value
  | 'int' // integers: a number up to 4 bytes, a bigint at 8 bytes (q Q, and l L n N P when native is 64-bit)
  | 'bool' // ?
  | 'char' // c: one byte
  | 'float' // e f d
  | 'bytes' // s: fixed-length byte string
  | 'pascal'; // p: length-prefixed byte string

/** Size, alignment and meaning of one format character. */
export interface FormatCode {
  /** The format character. */
  readonly code: string;
  /** How the value is represented in JavaScript. */
  readonly kind: ValueKind;
  /** Bytes with standard sizes (`=`, `<`, `>`, `!`); undefined when the code is native-only. */
  readonly standardSize: number | undefined;
  /** Bytes with native sizes (`@`): `long`, `size_t` and pointers follow the platform. */
  readonly nativeSize: number;
  /** True for signed integers (`P` is unsigned, as in Python). */
  readonly signed: boolean;
}

/** Whether this process runs on a platform with 64-bit `long` and pointers (LP64). */
const pointerSize = ['arm', 'ia32', 'mips', 'mipsel', 'ppc'].includes(arch()) ? 4 : 8;

/** True when the machine is little-endian: what `@` and `=` mean. */
export const nativeLittleEndian = endianness() === 'LE';

function entry(code: string, kind: ValueKind, standardSize: number | undefined, nativeSize: number, signed = false): FormatCode {
  return { code, kind, standardSize, nativeSize, signed };
}

/** Every format character Python's `struct` knows, keyed by character. */
export const formatCodes: ReadonlyMap<string, FormatCode> = new Map(
  [
    entry('x', 'pad', 1, 1),
    entry('c', 'char', 1, 1),
    entry('b', 'int', 1, 1, true),
    entry('B', 'int', 1, 1),
    entry('?', 'bool', 1, 1),
    entry('h', 'int', 2, 2, true),
    entry('H', 'int', 2, 2),
    entry('i', 'int', 4, 4, true),
    entry('I', 'int', 4, 4),
    entry('l', 'int', 4, pointerSize, true),
    entry('L', 'int', 4, pointerSize),
    entry('q', 'int', 8, 8, true),
    entry('Q', 'int', 8, 8),
    entry('n', 'int', undefined, pointerSize, true),
    entry('N', 'int', undefined, pointerSize),
    entry('e', 'float', 2, 2),
    entry('f', 'float', 4, 4),
    entry('d', 'float', 8, 8),
    entry('s', 'bytes', 1, 1),
    entry('p', 'pascal', 1, 1),
    entry('P', 'int', undefined, pointerSize),
  ].map((code) => [code.code, code]),
);

/** One format character with its repeat count, as written in a format string. */
export interface FormatItem {
  /** The format character's table entry. */
  readonly format: FormatCode;
  /** The repeat count (for `s` and `p`, the byte length). 1 when no count was written. */
  readonly count: number;
  /** True when the format string wrote a count (`'1Q'` is an array of one, `'Q'` a scalar). */
  readonly explicitCount: boolean;
}

/** A parsed format string: an optional byte-order prefix and its items. */
export interface ParsedFormat {
  /** The prefix the string began with, if any. */
  readonly byteOrder: ByteOrder | undefined;
  /** The items in order. */
  readonly items: readonly FormatItem[];
}

const byteOrders = new Set<string>(['@', '=', '<', '>', '!']);

/** True for a valid byte-order prefix. */
export function isByteOrder(value: unknown): value is ByteOrder {
  return typeof value === 'string' && byteOrders.has(value);
}

/**
 * Parses a format string such as `'<4Q'`, `'16s'` or `'BxH'` the way Python's `struct` does:
 * whitespace between items is ignored, a count must touch its character.
 * @param where the field path, for error messages.
 * @throws TypeError naming the field when the string is not a valid format.
 */
export function parseFormat(text: string, where: string): ParsedFormat {
  let position = 0;
  let byteOrder: ByteOrder | undefined;
  const first = text[0];
  if (isByteOrder(first)) {
    byteOrder = first;
    position = 1;
  }
  const items: FormatItem[] = [];
  const itemPattern = /\s*(?:(\d+)?([A-Za-z?])|$)/y;
  while (position < text.length) {
    itemPattern.lastIndex = position;
    const match = itemPattern.exec(text);
    if (match === null || match[0] === '') {
      throw recordFormatError(`${where}: bad format string '${text}' at character ${position + 1}`);
    }
    position = itemPattern.lastIndex;
    const character = match[2];
    if (character === undefined) break; // trailing whitespace
    const format = formatCodes.get(character);
    if (format === undefined) {
      throw recordFormatError(`${where}: unknown format character '${character}' in '${text}' (expected one of ${[...formatCodes.keys()].join(' ')})`);
    }
    const countText = match[1];
    const count = countText === undefined ? 1 : Number(countText);
    if (!Number.isSafeInteger(count)) throw recordFormatError(`${where}: repeat count ${countText} in '${text}' is too large`);
    items.push({ format, count, explicitCount: countText !== undefined });
  }
  return { byteOrder, items };
}
