/**
 * The fast path of `dump -j` for maps printed raw. Every raw entry of a map has the same JSON
 * text but for its hex digits (`,{"key":["0x01",...],"value":[...]}`), so the encoder fills its
 * output chunk with copies of that template once, and per entry only patches two digit bytes
 * per map byte. The text is exactly what `EntryPrinter.json` builds (and bpftool prints).
 */
import { hexJsonArray, type EntryShape } from './entries.js';
import type { Writer } from './output.js';

/** ASCII codes of the two hex digits of every byte value. */
const HIGH_DIGIT = new Uint8Array(256);
const LOW_DIGIT = new Uint8Array(256);
for (let byte = 0; byte < 256; byte++) {
  const digits = byte.toString(16).padStart(2, '0');
  HIGH_DIGIT[byte] = digits.charCodeAt(0);
  LOW_DIGIT[byte] = digits.charCodeAt(1);
}

/** Bytes of output handed to the writer at a time. */
const CHUNK_BYTES = 1 << 20;

/** The text of one entry of all-zero bytes, with a leading ',' to separate it from the last. */
function entryTemplate(shape: EntryShape): string {
  const { keySize, valueSize, perCpu, cpus } = shape;
  const zeros = new Uint8Array(Math.max(keySize, valueSize));
  const key = hexJsonArray(zeros, 0, keySize);
  const value = hexJsonArray(zeros, 0, valueSize);
  if (!perCpu) return `,{"key":${key},"value":${value}}`;
  const values = Array.from({ length: cpus }, (_, cpu) => `{"cpu":${cpu},"value":${value}}`).join(',');
  return `,{"key":${key},"values":[${values}]}`;
}

/** Streams a JSON array of raw entries as bytes. */
export class RawJsonArrayEncoder {
  readonly #templateLength: number;
  /** Offsets (within a template) of the high digit of each key byte. */
  readonly #keyDigits: Int32Array;
  /** Offsets of the high digit of each value byte, CPU after CPU. */
  readonly #valueDigits: Int32Array;
  /** Where in an entry's value buffer the byte of each value digit pair is. */
  readonly #valueSourceOffsets: Int32Array;
  readonly #entriesPerChunk: number;
  readonly #chunk: Buffer;
  #entriesInChunk = 0;
  #count = 0;

  constructor(readonly shape: EntryShape, readonly writer: Writer) {
    const template = entryTemplate(shape);
    this.#templateLength = template.length;
    // Each "0x00" token contributes a digit pair; they come in the order the bytes are written.
    const digitOffsets: number[] = [];
    for (let at = template.indexOf('"0x'); at >= 0; at = template.indexOf('"0x', at + 1)) digitOffsets.push(at + 3);
    this.#keyDigits = Int32Array.from(digitOffsets.slice(0, shape.keySize));
    this.#valueDigits = Int32Array.from(digitOffsets.slice(shape.keySize));
    // Per-CPU values sit every cpuStride bytes: digit pair i shows byte i % valueSize of CPU i / valueSize.
    this.#valueSourceOffsets = Int32Array.from(this.#valueDigits, (_, i) =>
      shape.valueSize === 0 ? 0 : Math.floor(i / shape.valueSize) * shape.cpuStride + (i % shape.valueSize));
    this.#entriesPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / template.length));
    // One chunk, reused: the writer has written it out when writeBytes returns, and each entry
    // overwrites every digit of its slot.
    this.#chunk = Buffer.alloc(this.#entriesPerChunk * template.length);
    for (let i = 0; i < this.#entriesPerChunk; i++) this.#chunk.write(template, i * template.length, 'latin1');
  }

  /** Number of entries written. */
  get count(): number {
    return this.#count;
  }

  /** Appends one entry. */
  entry(keys: Uint8Array, keyOffset: number, values: Uint8Array, valueOffset: number): void {
    if (this.#entriesInChunk === this.#entriesPerChunk) this.#flush();
    const chunk = this.#chunk;
    const base = this.#entriesInChunk * this.#templateLength;
    if (this.#count === 0) chunk[base] = 0x5b; // '[' opens the array instead of the separator.
    const keyDigits = this.#keyDigits;
    for (let i = 0; i < keyDigits.length; i++) {
      const byte = keys[keyOffset + i] as number;
      const at = base + (keyDigits[i] as number);
      chunk[at] = HIGH_DIGIT[byte] as number;
      chunk[at + 1] = LOW_DIGIT[byte] as number;
    }
    const valueDigits = this.#valueDigits;
    for (let i = 0; i < valueDigits.length; i++) {
      const byte = values[valueOffset + (this.#valueSourceOffsets[i] as number)] as number;
      const at = base + (valueDigits[i] as number);
      chunk[at] = HIGH_DIGIT[byte] as number;
      chunk[at + 1] = LOW_DIGIT[byte] as number;
    }
    this.#entriesInChunk++;
    this.#count++;
  }

  /** Closes the array and hands everything to the writer. */
  close(end = '\n'): void {
    this.#flush();
    this.writer.write(this.#count === 0 ? `[]${end}` : `]${end}`);
  }

  #flush(): void {
    if (this.#entriesInChunk === 0) return;
    this.writer.writeBytes(this.#chunk.subarray(0, this.#entriesInChunk * this.#templateLength));
    this.#chunk[0] = 0x2c; // The '[' of the first entry becomes the separator again.
    this.#entriesInChunk = 0;
  }
}
