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

const DEFAULT_CHUNK = 64 * 1024;

/**
 * UTF-8 text written straight into fixed-size buffers: no string ropes to flatten and collect,
 * which is what dominates a scrape of 100k+ series otherwise.
 */
class ChunkBuffer {
  #current: Buffer;
  #offset = 0;

  constructor(readonly size: number, readonly full: (chunk: Buffer) => void) {
    this.#current = Buffer.allocUnsafe(size);
  }

  write(text: string): void {
    // A UTF-8 character is at most 3 bytes per UTF-16 unit.
    if (this.#offset + text.length * 3 > this.size) {
      this.flush();
      if (text.length * 3 > this.size) {
        this.full(Buffer.from(text, 'utf8'));
        return;
      }
    }
    this.#offset += this.#current.write(text, this.#offset, 'utf8');
  }

  flush(): void {
    if (this.#offset === 0) return;
    this.full(this.#current.subarray(0, this.#offset));
    this.#current = Buffer.allocUnsafe(this.size);
    this.#offset = 0;
  }
}

/** Writes one scrape's exposition. */
export class ExpositionWriter {
  readonly openMetrics: boolean;
  readonly #out: ChunkBuffer;
  readonly #families: FamilyWriter[] = [];
  /** Index of the first family not yet closed: the one that streams. */
  #live = 0;
  #finished = false;

  constructor(readonly format: ExpositionFormat, sink: ChunkSink, chunkSize = DEFAULT_CHUNK) {
    this.openMetrics = format === 'openmetrics';
    this.#out = new ChunkBuffer(chunkSize, sink);
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
  #kept: Buffer[] = [];
  readonly #keptBuffer = new ChunkBuffer(DEFAULT_CHUNK, (chunk) => this.#kept.push(chunk));
  #closed = false;

  constructor(
    readonly writer: ExpositionWriter,
    readonly index: number,
    readonly name: string,
    readonly type: FamilyType,
    help: string,
  ) {
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
    this.#keptBuffer.write(text);
  }

  /** @internal */
  takeKept(): Buffer[] {
    this.#keptBuffer.flush();
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
