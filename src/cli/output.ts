/**
 * Output: a buffered stdout writer and a JSON serializer that keeps 64-bit integers exact.
 *
 * JSON numbers: bigints are written as bare digits (`18446744073709551615`), the same text a C
 * program such as bpftool prints, so `jq` and Python read them exactly; JavaScript readers must
 * parse with a bigint-aware reader (or `JSON.parse` with a reviver on the source text) to keep
 * them exact. Floats are written in the shortest form that reads back to the same double;
 * NaN and infinities, which JSON cannot spell, are written as the strings "NaN", "Infinity" and
 * "-Infinity". See docs/cli.md.
 */

import { writeSync } from 'node:fs';

/** Bytes buffered before a write to stdout: big enough to amortize the syscall. */
const FLUSH_THRESHOLD = 1 << 18;

/** Blocks the thread for a moment (while a full pipe drains). */
function pause(milliseconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, milliseconds);
}

/**
 * Writes all of `bytes` to `fd` before returning, so the caller may reuse the buffer at once.
 * Node leaves a stdout pipe non-blocking: EAGAIN means the reader is behind, so wait and retry.
 */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      pause(1);
    }
  }
}

/**
 * A buffered, synchronous writer on a file descriptor (stdout by default). Every write has
 * reached the fd when `flush()` or `writeBytes()` returns. Call `flush()` before exiting.
 */
export class Writer {
  #chunks: string[] = [];
  #buffered = 0;

  constructor(readonly fd = 1) {}

  /** Appends text; writes through when enough is buffered. */
  write(text: string): void {
    this.#chunks.push(text);
    this.#buffered += text.length;
    if (this.#buffered >= FLUSH_THRESHOLD) this.flush();
  }

  /** Appends a line. */
  line(text = ''): void {
    this.write(`${text}\n`);
  }

  /** Writes bytes after whatever text is buffered; `bytes` may be reused once this returns. */
  writeBytes(bytes: Uint8Array): void {
    this.flush();
    writeFully(this.fd, bytes);
  }

  /** Writes everything buffered. */
  flush(): void {
    if (this.#chunks.length === 0) return;
    const text = this.#chunks.join('');
    this.#chunks = [];
    this.#buffered = 0;
    writeFully(this.fd, Buffer.from(text, 'utf8'));
  }
}

/** The text of a number JSON can hold exactly, or a string JSON readers will not misread. */
function numberText(value: number): string {
  if (Number.isFinite(value)) return JSON.stringify(value);
  return JSON.stringify(String(value));
}

/**
 * Serializes a value as JSON: bigints as bare digits, non-finite floats as strings, `undefined`
 * members left out (array holes as null). With `indent`, nested levels are indented by it.
 */
export function toJson(value: unknown, indent = '', depth = 0): string {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      return numberText(value);
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'object':
      break;
    default:
      return 'null';
  }
  if (value === null) return 'null';
  const inner = indent ? `\n${indent.repeat(depth + 1)}` : '';
  const close = indent ? `\n${indent.repeat(depth)}` : '';
  const colon = indent ? ': ' : ':';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${inner}${value.map((item) => toJson(item, indent, depth + 1)).join(`,${inner}`)}${close}]`;
  }
  const members: string[] = [];
  for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
    if (member === undefined) continue;
    members.push(`${JSON.stringify(key)}${colon}${toJson(member, indent, depth + 1)}`);
  }
  if (members.length === 0) return '{}';
  return `{${inner}${members.join(`,${inner}`)}${close}}`;
}

/** How a command prints: JSON or text, with the writer to print to. */
export class Output {
  /** Indentation for pretty JSON (bpftool indents by four spaces). */
  readonly indent: string;

  constructor(
    /** True for `-j`/`-p`. */
    readonly json: boolean,
    /** True for `-p`. */
    readonly pretty: boolean,
    readonly writer: Writer = new Writer(),
  ) {
    this.indent = pretty ? '    ' : '';
  }

  /** Prints one JSON document on its own line. */
  document(value: unknown): void {
    this.writer.line(toJson(value, this.indent));
  }

  /** Prints a line of text. */
  line(text = ''): void {
    this.writer.line(text);
  }

  /** bpftool prints `null` for a JSON command that succeeds with nothing to say. */
  done(): void {
    if (this.json) this.writer.line('null');
  }

  /**
   * Streams a JSON array of items whose JSON text the caller builds: `[` now, the items as they
   * come, `]` at `close()`. Memory stays constant however many items pass through.
   */
  jsonArray(): JsonArrayStream {
    return new JsonArrayStream(this.writer, this.indent);
  }

  /** Flushes buffered output. */
  flush(): void {
    this.writer.flush();
  }
}

/** A JSON array written item by item. */
export class JsonArrayStream {
  #count = 0;
  readonly #separator: string;
  readonly #first: string;

  constructor(readonly writer: Writer, readonly indent: string) {
    this.#first = indent ? `[\n${indent}` : '[';
    this.#separator = indent ? `,\n${indent}` : ',';
  }

  /** The indentation an item's nested levels need to line up inside the array. */
  get itemDepth(): number {
    return 1;
  }

  /** Appends an item given as JSON text. */
  item(jsonText: string): void {
    this.writer.write(this.#count++ === 0 ? this.#first : this.#separator);
    this.writer.write(jsonText);
  }

  /** How many items were written. */
  get count(): number {
    return this.#count;
  }

  /** Ends the array (and the line, unless `end` says otherwise: an array nested in a document). */
  close(end = '\n'): void {
    if (this.#count === 0) this.writer.write(`[]${end}`);
    else this.writer.write(this.indent ? `\n]${end}` : `]${end}`);
  }
}
