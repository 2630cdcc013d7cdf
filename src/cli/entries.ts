/**
 * How map entries print: bpftool's JSON shape (`key`/`value` arrays of "0x.." strings, per-CPU
 * `values` with `cpu`, and `formatted` when a formatter decodes the bytes) and bpftool's text
 * layout (`key: 01 00 00 00  value: ...`, 16 bytes a line in groups of 8).
 *
 * Entries are read from raw buffers at an offset, so that `dump` prints straight from batch
 * buffers without copying; the JSON text of raw entries is built from lookup tables because it is
 * the hot path of dumping millions of entries.
 */
import { toJson } from './output.js';

const HEX_PAIRS: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const HEX_JSON: readonly string[] = HEX_PAIRS.map((pair) => `"0x${pair}"`);

/** Sizes that say how a map's keys and values sit in buffers. */
export interface EntryShape {
  /** Bytes of a key (0 for queues and stacks). */
  readonly keySize: number;
  /** Bytes of one value (of one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  /** Per-CPU maps print one value per possible CPU. */
  readonly perCpu: boolean;
  /** Possible CPUs (1 when not per-CPU). */
  readonly cpus: number;
  /** Bytes between one CPU's value and the next (roundup(valueSize, 8)). */
  readonly cpuStride: number;
}

/** Decodes keys and values for the `formatted` member (BTF, records). */
export interface EntryFormatter {
  /** The decoded key (JSON-ready: numbers, bigints, strings, arrays, objects); absent when the key has no type. */
  readonly key?: (bytes: Uint8Array, offset: number) => unknown;
  /** One decoded value (one CPU's value for per-CPU maps). */
  readonly value: (bytes: Uint8Array, offset: number) => unknown;
}

/** `["0x01","0x00"]`: bytes as bpftool's JSON array of hex strings. */
export function hexJsonArray(bytes: Uint8Array, offset: number, length: number): string {
  if (length === 0) return '[]';
  let text = '[';
  const end = offset + length;
  for (let i = offset; i < end; i++) text += (i === offset ? '' : ',') + HEX_JSON[bytes[i] as number];
  return `${text}]`;
}

/** The same bytes as an array of strings, for documents built with `toJson`. */
export function hexStrings(bytes: Uint8Array, offset = 0, length = bytes.length - offset): string[] {
  const strings = new Array<string>(length);
  for (let i = 0; i < length; i++) strings[i] = `0x${HEX_PAIRS[bytes[offset + i] as number]}`;
  return strings;
}

/** bpftool's `fprint_hex`: `01 02 ... 08  09 ...`, a new line every 16 bytes. */
export function hexText(bytes: Uint8Array, offset = 0, length = bytes.length - offset): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    if (i > 0) text += i % 16 === 0 ? '\n' : i % 8 === 0 ? '  ' : ' ';
    text += HEX_PAIRS[bytes[offset + i] as number];
  }
  return text;
}

/** Bytes on one line, bpftool's grouping without its line breaks: `01 02 ... 08  09 ...`. */
export function hexLine(bytes: Uint8Array, offset = 0, length = bytes.length - offset): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    if (i > 0) text += i % 8 === 0 ? '  ' : ' ';
    text += HEX_PAIRS[bytes[offset + i] as number];
  }
  return text;
}

/** Prints entries of one map in bpftool's shapes. */
export class EntryPrinter {
  /** True when keys or values are too long for one line (bpftool's `break_names`). */
  readonly #breakNames: boolean;
  readonly #singleLine: boolean;

  constructor(
    readonly shape: EntryShape,
    readonly formatter: EntryFormatter | undefined = undefined,
    /** Indentation of pretty JSON ('' for compact). */
    readonly indent = '',
  ) {
    this.#breakNames = shape.keySize > 16 || shape.valueSize > 16;
    this.#singleLine = shape.keySize + shape.valueSize <= 24 && !this.#breakNames;
  }

  /** The entry as an object (for `lookup`, `peek`, and pretty output). */
  object(keys: Uint8Array, keyOffset: number, values: Uint8Array, valueOffset: number): Record<string, unknown> {
    const { keySize, valueSize, perCpu, cpus, cpuStride } = this.shape;
    const entry: Record<string, unknown> = { key: hexStrings(keys, keyOffset, keySize) };
    if (perCpu) {
      const perCpuValues: Array<{ cpu: number; value: string[] }> = [];
      for (let cpu = 0; cpu < cpus; cpu++) perCpuValues.push({ cpu, value: hexStrings(values, valueOffset + cpu * cpuStride, valueSize) });
      entry.values = perCpuValues;
    } else {
      entry.value = hexStrings(values, valueOffset, valueSize);
    }
    const formatted = this.formatted(keys, keyOffset, values, valueOffset);
    if (formatted !== undefined) entry.formatted = formatted;
    return entry;
  }

  /** The `formatted` member, or undefined without a formatter. */
  formatted(keys: Uint8Array, keyOffset: number, values: Uint8Array, valueOffset: number): Record<string, unknown> | undefined {
    const formatter = this.formatter;
    if (formatter === undefined) return undefined;
    const { keySize, perCpu, cpus, cpuStride } = this.shape;
    const formatted: Record<string, unknown> = {};
    if (keySize > 0 && formatter.key !== undefined) formatted.key = formatter.key(keys, keyOffset);
    if (perCpu) {
      const perCpuValues: Array<{ cpu: number; value: unknown }> = [];
      for (let cpu = 0; cpu < cpus; cpu++) perCpuValues.push({ cpu, value: formatter.value(values, valueOffset + cpu * cpuStride) });
      formatted.values = perCpuValues;
    } else {
      formatted.value = formatter.value(values, valueOffset);
    }
    return formatted;
  }

  /** The entry as JSON text; raw compact entries take the fast path. */
  json(keys: Uint8Array, keyOffset: number, values: Uint8Array, valueOffset: number, depth = 1): string {
    if (this.indent !== '' || this.formatter !== undefined) {
      return toJson(this.object(keys, keyOffset, values, valueOffset), this.indent, depth);
    }
    const { keySize, valueSize, perCpu, cpus, cpuStride } = this.shape;
    const key = hexJsonArray(keys, keyOffset, keySize);
    if (!perCpu) return `{"key":${key},"value":${hexJsonArray(values, valueOffset, valueSize)}}`;
    let text = `{"key":${key},"values":[`;
    for (let cpu = 0; cpu < cpus; cpu++) {
      text += `${cpu === 0 ? '' : ','}{"cpu":${cpu},"value":${hexJsonArray(values, valueOffset + cpu * cpuStride, valueSize)}}`;
    }
    return `${text}]}`;
  }

  /** The entry as bpftool's text lines (without the final newline). */
  text(keys: Uint8Array, keyOffset: number, values: Uint8Array, valueOffset: number): string {
    const { keySize, valueSize, perCpu, cpus, cpuStride } = this.shape;
    const key = hexText(keys, keyOffset, keySize);
    // Queues and stacks have no key: bpftool prints the value alone.
    if (keySize === 0 && !perCpu) return `value: ${hexText(values, valueOffset, valueSize)}`;
    if (!perCpu) {
      const gap = this.#breakNames ? '\n' : ' ';
      return `key:${gap}${key}${this.#singleLine ? '  ' : '\n'}value:${gap}${hexText(values, valueOffset, valueSize)}`;
    }
    let text = `key:\n${key}`;
    const gap = valueSize > 16 ? '\n' : ' ';
    for (let cpu = 0; cpu < cpus; cpu++) {
      text += `\nvalue (CPU ${String(cpu).padStart(2, '0')}):${gap}${hexText(values, valueOffset + cpu * cpuStride, valueSize)}`;
    }
    return text;
  }
}

/** bpftool's closing line of a dump. */
export function foundLine(count: number): string {
  return `Found ${count} element${count === 1 ? '' : 's'}`;
}
