/**
 * Generates a record's decoder: one JavaScript function, built once with `new Function`, that reads
 * every value with a DataView accessor at a constant offset and builds the object literal in one
 * expression. Large uniform arrays become loops in helper functions; nothing interprets the layout
 * at run time.
 */
import { bufferError } from './errors.js';
import { dataViewAccessor, loopShape, offsetExpression } from './emit.js';
import type { RecordLayout, ScalarLayout, ValueLayout } from './layout.js';
import { runtime } from './runtime.js';

/** How `s`, `p` and `c` values decode: as bytes (`Uint8Array`) or as NUL-trimmed UTF-8 text. */
export type StringMode = 'bytes' | 'text';

/** A generated decoder. */
export type Decoder = (source: Uint8Array, offset: number) => unknown;

class DecoderSource {
  readonly helpers: string[] = [];

  constructor(private readonly strings: StringMode) {}

  scalar(scalar: ScalarLayout, base: string, origin: number): string {
    const at = offsetExpression(base, scalar.offset - origin);
    const accessor = dataViewAccessor(scalar);
    const le = String(scalar.littleEndian);
    if (accessor !== undefined) return scalar.size === 1 ? `v.get${accessor}(${at})` : `v.get${accessor}(${at}, ${le})`;
    const text = this.strings === 'text';
    switch (scalar.format.kind) {
      case 'float':
        return `readHalf(v, ${at}, ${le})`;
      case 'bool':
        return `(v.getUint8(${at}) !== 0)`;
      case 'char':
        return text ? `String.fromCharCode(v.getUint8(${at}))` : `readCharBytes(v, ${at})`;
      case 'bytes':
        return `${text ? 'readText' : 'readBytes'}(v, ${at}, ${scalar.size})`;
      case 'pascal':
        return `${text ? 'readPascalText' : 'readPascalBytes'}(v, ${at}, ${scalar.size})`;
      default:
        throw new Error(`no decoder for format '${scalar.format.code}'`);
    }
  }

  /** An expression for `value` whose offsets count from `base`, which sits at record offset `origin`. */
  value(value: ValueLayout, base: string, origin: number): string {
    switch (value.kind) {
      case 'scalar':
        return this.scalar(value, base, origin);
      case 'struct':
        return `{${value.fields.map((field) => `${JSON.stringify(field.name)}: ${this.value(field.value, base, origin)}`).join(', ')}}`;
      case 'array': {
        const loop = loopShape(value);
        const [first] = value.elements;
        if (loop === undefined || first === undefined) return `[${value.elements.map((element) => this.value(element, base, origin)).join(', ')}]`;
        const helper = `decodeArray${this.helpers.length}`;
        // Reserve the slot before generating the element, which may add helpers of its own.
        this.helpers.push('');
        const index = this.helpers.length - 1;
        this.helpers[index] =
          `function ${helper}(v, b) {\n` +
          `  const out = [];\n` +
          `  for (let i = 0, e = b; i < ${value.elements.length}; i++, e += ${loop.stride}) out.push(${this.value(first, 'e', loop.start)});\n` +
          `  return out;\n}`;
        return `${helper}(v, ${offsetExpression(base, loop.start - origin)})`;
      }
    }
  }
}

/** The source text of a record's decoder (exported for tests and for reading). */
export function decoderSource(layout: RecordLayout, strings: StringMode): string {
  const source = new DecoderSource(strings);
  const body = layout.root === undefined ? 'undefined' : source.value(layout.root, 'b', 0);
  return [
    `'use strict';`,
    `const { ${Object.keys(runtime).join(', ')} } = runtime;`,
    // A DataView over the last source array, kept while callers pass the same array (a map's
    // scratch or batch buffer): reading .buffer and .byteOffset on every call costs more than
    // the decode itself.
    `let viewedArray = null;`,
    `let v = null;`,
    ...source.helpers,
    `return function decode(source, offset) {`,
    `  if (source !== viewedArray) { v = new DataView(source.buffer, source.byteOffset, source.byteLength); viewedArray = source; }`,
    `  if (!(offset >= 0 && offset + ${layout.size} <= source.length && Number.isInteger(offset))) throw bufferError('decode', ${layout.size}, source.length, offset);`,
    `  const b = offset;`,
    `  return ${body};`,
    `};`,
  ].join('\n');
}

/** Builds a record's decoder. */
export function compileDecoder(layout: RecordLayout, strings: StringMode): Decoder {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generating the decoder is the point
  const factory = new Function('runtime', 'bufferError', decoderSource(layout, strings)) as (
    rt: typeof runtime,
    error: typeof bufferError,
  ) => Decoder;
  return factory(runtime, bufferError);
}
