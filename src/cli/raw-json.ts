/**
 * The fast path of `dump -j` for maps printed raw. Every raw entry of a map has the same JSON
 * text but for its hex digits (`,{"key":["0x01",...],"value":[...]}`), so the encoder fills its
 * output chunk with copies of that template once, and per entry only patches two digit bytes
 * per map byte. The text is exactly what `EntryPrinter.json` builds (and bpftool prints).
 *
 * A dump runs this once per process, so what counts is how fast it is before V8 has optimized
 * it: the per-entry patch is a generated function with every offset a constant (no inner loops,
 * no offset tables to read), which V8's first tiers run in about 2/3 of the instructions of the
 * loop version and its optimizing tier compiles quickly. Entries too wide for that (long keys,
 * many CPUs) take the loop.
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

/**
 * Bytes of output handed to the writer at a time: enough to make the write syscalls few, small
 * enough that first touching the chunk's pages stays cheap (a page fault costs ~10 µs on the
 * development VM, so a 1 MiB chunk took 3 ms to fill).
 */
const CHUNK_BYTES = 1 << 18;

/** Digit pairs per entry up to which the per-entry patch is generated straight-line code. */
const MAX_GENERATED_PAIRS = 64;

/**
 * Writes the digits of one entry into `chunk` at `base`: key bytes from `keys` at `keyOffset`,
 * value bytes from `values` at `valueOffset`.
 */
type PatchEntry = (chunk: Uint8Array, base: number, keys: Uint8Array, keyOffset: number, values: Uint8Array, valueOffset: number) => void;

/** The per-entry patch for these digit offsets, as a loop over the offset tables. */
function loopPatch(keyDigits: Int32Array, valueDigits: Int32Array, valueSources: Int32Array): PatchEntry {
  return (chunk, base, keys, keyOffset, values, valueOffset) => {
    for (let i = 0; i < keyDigits.length; i++) {
      const byte = keys[keyOffset + i] as number;
      const at = base + (keyDigits[i] as number);
      chunk[at] = HIGH_DIGIT[byte] as number;
      chunk[at + 1] = LOW_DIGIT[byte] as number;
    }
    for (let i = 0; i < valueDigits.length; i++) {
      const byte = values[valueOffset + (valueSources[i] as number)] as number;
      const at = base + (valueDigits[i] as number);
      chunk[at] = HIGH_DIGIT[byte] as number;
      chunk[at + 1] = LOW_DIGIT[byte] as number;
    }
  };
}

/** The same patch as straight-line code: one line per map byte, offsets as literals. */
function generatedPatch(keyDigits: Int32Array, valueDigits: Int32Array, valueSources: Int32Array): PatchEntry {
  let body = 'let byte;\n';
  keyDigits.forEach((at, i) => {
    body += `byte = keys[keyOffset + ${i}]; chunk[base + ${at}] = high[byte]; chunk[base + ${at + 1}] = low[byte];\n`;
  });
  valueDigits.forEach((at, i) => {
    body += `byte = values[valueOffset + ${valueSources[i] as number}]; chunk[base + ${at}] = high[byte]; chunk[base + ${at + 1}] = low[byte];\n`;
  });
  // Only numbers from the offset tables go into the source: nothing from the map or the user.
  const factory = new Function('high', 'low', `return (chunk, base, keys, keyOffset, values, valueOffset) => {\n${body}};`) as
    (high: Uint8Array, low: Uint8Array) => PatchEntry;
  return factory(HIGH_DIGIT, LOW_DIGIT);
}

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
  readonly #patch: PatchEntry;
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
    const keyDigits = Int32Array.from(digitOffsets.slice(0, shape.keySize));
    const valueDigits = Int32Array.from(digitOffsets.slice(shape.keySize));
    // Per-CPU values sit every cpuStride bytes: digit pair i shows byte i % valueSize of CPU i / valueSize.
    const valueSources = Int32Array.from(valueDigits, (_, i) =>
      shape.valueSize === 0 ? 0 : Math.floor(i / shape.valueSize) * shape.cpuStride + (i % shape.valueSize));
    this.#patch = digitOffsets.length <= MAX_GENERATED_PAIRS
      ? generatedPatch(keyDigits, valueDigits, valueSources)
      : loopPatch(keyDigits, valueDigits, valueSources);
    this.#entriesPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / template.length));
    // One chunk, reused: the writer has written it out when writeBytes returns, and each entry
    // overwrites every digit of its slot.
    // Filled by doubling copies: a dump builds this once, and ten thousand small writes of the
    // template would take longer than a few memcpy calls.
    // (Buffer.from, not chunk.write: the first Buffer#write of a process costs milliseconds.)
    const chunk = Buffer.allocUnsafe(this.#entriesPerChunk * template.length);
    chunk.set(Buffer.from(template, 'latin1'));
    let filled = template.length;
    while (filled < chunk.length) {
      const copied = Math.min(filled, chunk.length - filled);
      chunk.copyWithin(filled, 0, copied);
      filled += copied;
    }
    this.#chunk = chunk;
  }

  /** Number of entries written. */
  get count(): number {
    return this.#count;
  }

  /** Appends one entry. */
  entry(keys: Uint8Array, keyOffset: number, values: Uint8Array, valueOffset: number): void {
    this.entries(keys, keyOffset, 0, values, valueOffset, 0, 1);
  }

  /**
   * Appends `count` entries of a batch: entry i has its key at `keyOffset + i * keyStride` of
   * `keys` and its value at `valueOffset + i * valueStride` of `values`.
   */
  entries(keys: Uint8Array, keyOffset: number, keyStride: number, values: Uint8Array, valueOffset: number, valueStride: number, count: number): void {
    const chunk = this.#chunk;
    const patch = this.#patch;
    const templateLength = this.#templateLength;
    let index = 0;
    while (index < count) {
      if (this.#entriesInChunk === this.#entriesPerChunk) this.#flush();
      // '[' opens the array instead of the first entry's separator.
      if (this.#count === 0) chunk[0] = 0x5b;
      const fits = Math.min(count - index, this.#entriesPerChunk - this.#entriesInChunk);
      let base = this.#entriesInChunk * templateLength;
      for (const end = index + fits; index < end; index++, base += templateLength) {
        patch(chunk, base, keys, keyOffset + index * keyStride, values, valueOffset + index * valueStride);
      }
      this.#entriesInChunk += fits;
      this.#count += fits;
    }
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
