/**
 * The exposition writer: Prometheus text 0.0.4 and OpenMetrics 1.0, produced in chunks as a scrape
 * reads maps, never as one string.
 *
 * A family's lines must be contiguous, but one pass over a map feeds several families (one per value
 * member). So families are opened in order and written at will: the first family still open streams
 * straight to the output, later ones collect their lines until every family before them is closed.
 */
import { escapeHelp, goFloat, sampleValue } from './names.js';

/** The two exposition formats. */
export type ExpositionFormat = 'text' | 'openmetrics';

/** Content-Type of each format. */
export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/**
 * The format an `Accept` header asks for: OpenMetrics when `application/openmetrics-text` (version
 * 1.0.0 or unversioned) is preferred at least as much as any text/plain entry, text otherwise.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let openMetrics = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().split(';').map((piece) => piece.trim());
    let q = 1;
    let version: string | undefined;
    for (const param of params) {
      const [key, value] = param.split('=').map((piece) => piece.trim());
      if (key === 'q' && value !== undefined) q = Number(value);
      if (key === 'version') version = value;
    }
    if (!(q > 0)) continue;
    if (type === 'application/openmetrics-text' && (version === undefined || version === '1.0.0')) openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain' || type === '*/*') text = Math.max(text, q);
  }
  return openMetrics >= 0 && openMetrics >= text ? 'openmetrics' : 'text';
}

/** Metric family types. `info` is written as a gauge of 1 in the text format. */
export type FamilyType = 'gauge' | 'counter' | 'histogram' | 'info' | 'untyped';

/** Where finished chunks go (each a buffer the sink may keep). */
export type ChunkSink = (chunk: Buffer) => void;

/** Bytes of an exposition chunk: what a scrape hands on at a time. */
export const CHUNK_SIZE = 64 * 1024;

/** Gives a chunk of `size` bytes to fill: a fresh buffer, or one a finished scrape gave back. */
export type ChunkAllocator = (size: number) => Buffer;

const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
const allocateFresh: ChunkAllocator = (size) => Buffer.allocUnsafeSlow(size);

/**
 * The exposition's bytes, written straight into fixed-size chunks: no string ropes to flatten and
 * collect, which is what dominates a scrape of 100k+ series otherwise. Text goes in with `write`;
 * the hot path makes room with `room(n)` and writes into `bytes` at `at` itself.
 *
 * A chunk that is full is handed to `full` and never written again by this buffer; the next one
 * comes from `allocate` when something is written (so a family that writes nothing costs none).
 */
export class ChunkBuffer {
  /** The chunk being filled, a DataView over it, and the position in it. */
  bytes: Buffer = EMPTY;
  view: DataView = EMPTY_VIEW;
  at = 0;

  constructor(readonly size: number, readonly full: (chunk: Buffer) => void, readonly allocate: ChunkAllocator = allocateFresh) {}

  /** Makes room for `n` more bytes at `at` (flushing the chunk when it is too full). */
  room(n: number): void {
    if (this.at + n > this.bytes.length) this.#spill(n);
  }

  #spill(n: number): void {
    this.flush();
    // Larger than a chunk (one huge line): a buffer of its own size.
    const bytes = n > this.size ? Buffer.allocUnsafeSlow(n) : this.allocate(this.size);
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  write(text: string): void {
    // A UTF-8 character is at most 3 bytes per UTF-16 unit.
    this.room(text.length * 3);
    this.at += this.bytes.write(text, this.at, 'utf8');
  }

  flush(): void {
    if (this.at === 0) return;
    this.full(this.bytes.subarray(0, this.at));
    this.bytes = EMPTY;
    this.view = EMPTY_VIEW;
    this.at = 0;
  }
}

/**
 * An idle ChunkBuffer, made again by each exposition. V8 keeps the hidden class of ChunkBuffer
 * instances (reached through weak field transitions) only while some instance is alive, and the
 * optimized scrape loop depends on it: a full garbage collection between scrapes, with no
 * collection running, threw that code away ("weak objects" in --trace-deopt), and the next scrape
 * ran at about 3x its CPU time while V8 compiled it again. Made fresh (not once at start) so that
 * it has the class that the latest instances have; it holds nothing of a scrape (no chunk, a sink
 * that drops what it is given, the default allocator rather than an exporter's pool).
 */
let idleChunkBuffer: ChunkBuffer | undefined;
const dropChunk = (): void => undefined;

/** Writes one scrape's exposition. */
export class ExpositionWriter {
  readonly openMetrics: boolean;
  readonly #out: ChunkBuffer;
  readonly #families: FamilyWriter[] = [];
  /** Index of the first family not yet closed: the one that streams. */
  #live = 0;
  #finished = false;

  /** Chunks come from `allocate` (default: fresh buffers). */
  constructor(readonly format: ExpositionFormat, sink: ChunkSink, readonly allocate: ChunkAllocator = allocateFresh) {
    this.openMetrics = format === 'openmetrics';
    this.#out = new ChunkBuffer(CHUNK_SIZE, sink, allocate);
    idleChunkBuffer = new ChunkBuffer(CHUNK_SIZE, dropChunk);
  }

  /**
   * Opens a family. `name` is the full name; a counter's sample name is `name` in the text format
   * (as client_golang writes it) and `<name without _total>_total` in OpenMetrics.
   */
  family(name: string, type: FamilyType, help: string): FamilyWriter {
    if (this.#finished) throw new Error('the exposition is finished');
    const family = new FamilyWriter(this, this.#families.length, name, type, help);
    this.#families.push(family);
    return family;
  }

  /** @internal Text written by a family: streamed when it is live, kept otherwise. */
  write(family: FamilyWriter, text: string): void {
    if (family.index === this.#live) this.#out.write(text);
    else family.keep(text);
  }

  /** @internal Where a family's bytes go now: the output when it is live, its own chunks otherwise. */
  target(family: FamilyWriter): ChunkBuffer {
    return family.index === this.#live ? this.#out : family.keptBuffer;
  }

  /** @internal A family is done: flush the ones that were waiting on it. */
  closed(family: FamilyWriter): void {
    if (family.index !== this.#live) return;
    for (this.#live++; this.#live < this.#families.length; this.#live++) {
      const next = this.#families[this.#live] as FamilyWriter;
      // Kept chunks go out whole, after what the live buffer holds.
      const kept = next.takeKept();
      if (kept.length > 0) {
        this.#out.flush();
        for (const chunk of kept) this.#out.full(chunk);
      }
      if (!next.isClosed) break;
    }
  }

  /** Closes every family still open, writes `# EOF` for OpenMetrics, flushes the last chunk. */
  finish(): void {
    if (this.#finished) return;
    for (const family of this.#families) family.close();
    this.#finished = true;
    if (this.openMetrics) this.#out.write('# EOF\n');
    this.#out.flush();
  }
}

/** One metric family of a scrape. */
export class FamilyWriter {
  /** The name of samples (counters in OpenMetrics: with `_total`). */
  readonly sampleName: string;
  /** `sampleName` as UTF-8, for the byte path. */
  readonly sampleNameBytes: Buffer;
  #kept: Buffer[] = [];
  /** @internal Lines written while an earlier family is still open. */
  readonly keptBuffer: ChunkBuffer;
  #closed = false;

  constructor(
    readonly writer: ExpositionWriter,
    readonly index: number,
    readonly name: string,
    readonly type: FamilyType,
    help: string,
  ) {
    this.keptBuffer = new ChunkBuffer(CHUNK_SIZE, (chunk) => this.#kept.push(chunk), writer.allocate);
    const openMetrics = writer.openMetrics;
    let typeName = name;
    let sampleName = name;
    if (type === 'counter' && openMetrics) {
      typeName = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
      sampleName = `${typeName}_total`;
    } else if (type === 'info') {
      typeName = name.endsWith('_info') ? name.slice(0, -'_info'.length) : name;
      sampleName = `${typeName}_info`;
      if (!openMetrics) typeName = sampleName;
    }
    this.sampleName = sampleName;
    this.sampleNameBytes = Buffer.from(sampleName, 'utf8');
    const writtenType = type === 'info' && !openMetrics ? 'gauge' : type === 'untyped' && openMetrics ? 'unknown' : type;
    writer.write(this, `# HELP ${typeName} ${escapeHelp(help, openMetrics)}\n# TYPE ${typeName} ${writtenType}\n`);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** One sample of the family's own name; `labels` is `{...}` text or ''. */
  sample(labels: string, value: number): void {
    this.writer.write(this, `${this.sampleName}${labels} ${sampleValue(value)}\n`);
  }

  /**
   * Where this family's bytes go now (the byte path: make room, write at `at`, move `at`). Ask
   * again for each line: a family becomes live when the ones before it close.
   */
  target(): ChunkBuffer {
    return this.writer.target(this);
  }

  /** One sample whose value is already text (exact 64-bit integers, for instance). */
  sampleText(labels: string, value: string): void {
    this.writer.write(this, `${this.sampleName}${labels} ${value}\n`);
  }

  /**
   * One histogram: `labels` is the inner label text (`a="x",b="y"` or ''), `bounds` the upper
   * bounds in increasing order, `cumulative` the cumulative counts at each bound, `count` the
   * total (the `+Inf` bucket), `sum` the `_sum` sample (left out when undefined: not known).
   */
  histogram(labels: string, bounds: readonly number[], cumulative: readonly number[], count: number, sum: number | undefined): void {
    const prefix = labels === '' ? '{' : `{${labels},`;
    const plain = labels === '' ? '' : `{${labels}}`;
    let text = '';
    for (let i = 0; i < bounds.length; i++) {
      text += `${this.name}_bucket${prefix}le="${goFloat(bounds[i] as number)}"} ${sampleValue(cumulative[i] as number)}\n`;
    }
    text += `${this.name}_bucket${prefix}le="+Inf"} ${sampleValue(count)}\n`;
    if (sum !== undefined) text += `${this.name}_sum${plain} ${sampleValue(sum)}\n`;
    text += `${this.name}_count${plain} ${sampleValue(count)}\n`;
    this.writer.write(this, text);
  }

  /** @internal */
  keep(text: string): void {
    this.keptBuffer.write(text);
  }

  /** @internal */
  takeKept(): Buffer[] {
    this.keptBuffer.flush();
    const kept = this.#kept;
    this.#kept = [];
    return kept;
  }

  /** Ends the family: nothing more may be written to it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.writer.closed(this);
  }
}
