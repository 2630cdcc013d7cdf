/**
 * Generates a record's encoder: one function, built once with `new Function`, that checks every
 * value and writes it at a constant offset.
 *
 * It writes into a scratch buffer of the record's size and copies that into the target only when
 * every value passed its check, so a bad value leaves the target untouched. Pad bytes are never
 * written in the scratch buffer, so they stay zero.
 */
import { bufferError } from './errors.js';
import { dataViewAccessor, fieldPathPart, integerBounds, loopShape, offsetExpression } from './emit.js';
import type { RecordLayout, ScalarLayout, ValueLayout } from './layout.js';
import { runtime } from './runtime.js';
import { findUnknownField, unknownFieldError } from '../field-names.js';

/** A generated encoder. */
export type Encoder = (value: unknown, target: Uint8Array, offset: number) => void;

/**
 * A field path in generated code: a prefix expression, an index expression (`-1` for none) and a
 * constant suffix, joined only when a check throws.
 */
interface PathCode {
  readonly prefix: string;
  readonly index: string;
  readonly suffix: string;
}

function pathArguments(path: PathCode): string {
  return `${path.prefix}, ${path.index}, ${JSON.stringify(path.suffix)}`;
}

function extendPath(path: PathCode, part: string): PathCode {
  return { ...path, suffix: path.suffix + part };
}

/** The path as one string expression (for passing into a loop helper). */
function pathString(path: PathCode): string {
  if (path.index === '-1') return `${path.prefix} + ${JSON.stringify(path.suffix)}`;
  return `${path.prefix} + "[" + ${path.index} + "]" + ${JSON.stringify(path.suffix)}`;
}

class EncoderSource {
  readonly helpers: string[] = [];
  /** The field names of each struct, declared once as `FIELDS<n>` constants. */
  readonly fieldLists: string[][] = [];
  private variables = 0;

  private scalar(scalar: ScalarLayout, input: string, base: string, origin: number, path: PathCode): string {
    const at = offsetExpression(base, scalar.offset - origin);
    const where = pathArguments(path);
    const le = String(scalar.littleEndian);
    const accessor = dataViewAccessor(scalar);
    if (accessor !== undefined) {
      let checked: string;
      if (scalar.format.kind === 'int') {
        const { min, max } = integerBounds(scalar);
        checked = `${scalar.size === 8 ? 'checkBigInt' : 'checkInt'}(${input}, ${min}, ${max}, ${where})`;
      } else {
        checked = `${scalar.size === 4 ? 'checkFloat' : 'checkDouble'}(${input}, ${where})`;
      }
      return scalar.size === 1 ? `w.set${accessor}(${at}, ${checked});` : `w.set${accessor}(${at}, ${checked}, ${le});`;
    }
    switch (scalar.format.kind) {
      case 'float':
        return `w.setUint16(${at}, checkHalf(${input}, ${where}), ${le});`;
      case 'bool':
        return `w.setUint8(${at}, checkBool(${input}, ${where}));`;
      case 'char':
        return `w.setUint8(${at}, checkChar(${input}, ${where}));`;
      case 'bytes':
        return `writeBytes(wb, ${at}, ${scalar.size}, ${input}, ${where});`;
      case 'pascal':
        return `writePascal(wb, ${at}, ${scalar.size}, ${input}, ${where});`;
      default:
        throw new Error(`no encoder for format '${scalar.format.code}'`);
    }
  }

  /** Statements that check `input` and write it at offsets counted from `base` (record offset `origin`). */
  value(value: ValueLayout, input: string, base: string, origin: number, path: PathCode): string {
    switch (value.kind) {
      case 'scalar':
        return this.scalar(value, input, base, origin, path);
      case 'struct': {
        const object = `object${this.variables++}`;
        const names = `FIELDS${this.fieldLists.length}`;
        this.fieldLists.push(value.fields.map((field) => field.name));
        const fields = value.fields.map((field) =>
          this.value(field.value, `${object}[${JSON.stringify(field.name)}]`, base, origin, extendPath(path, fieldPathPart(field.name))),
        );
        // An extra or misspelled field would be ignored: count the value's keys (a for-in loop
        // allocates nothing) and look for the culprit only when the count is off. A misspelling
        // with the count right leaves a field missing, and `encode` looks then (`unknownFieldIn`).
        return [
          `{`,
          `const ${object} = checkObject(${input}, ${pathArguments(path)});`,
          `let ${object}Keys = 0;`,
          `for (const _ in ${object}) ${object}Keys++;`,
          `if (${object}Keys !== ${value.fields.length}) checkFieldNames(${object}, ${names}, ${pathArguments(path)});`,
          ...fields,
          `}`,
        ].join('\n');
      }
      case 'array': {
        const array = `array${this.variables++}`;
        const check = `const ${array} = checkArray(${input}, ${value.elements.length}, ${pathArguments(path)});`;
        const loop = loopShape(value);
        const [first] = value.elements;
        if (loop === undefined || first === undefined) {
          const elements = value.elements.map((element, index) => this.value(element, `${array}[${index}]`, base, origin, extendPath(path, `[${index}]`)));
          return `{\n${check}\n${elements.join('\n')}\n}`;
        }
        const helper = `encodeArray${this.helpers.length}`;
        this.helpers.push('');
        const slot = this.helpers.length - 1;
        const element = this.value(first, 'items[i]', 'e', loop.start, { prefix: 'path', index: 'i', suffix: '' });
        this.helpers[slot] =
          `function ${helper}(w, wb, b, items, path) {\n` +
          `  for (let i = 0, e = b; i < ${value.elements.length}; i++, e += ${loop.stride}) {\n${element}\n  }\n}`;
        return `{\n${check}\n${helper}(w, wb, ${offsetExpression(base, loop.start - origin)}, ${array}, ${pathString(path)});\n}`;
      }
    }
  }
}

/** Records up to this size are copied to the target in 32-bit words; larger ones with `set`. */
const WORD_COPY_LIMIT = 256;

/**
 * Statements that copy the checked scratch bytes to `target[offset]`. For small records a
 * TypedArray `set` costs more than the encoding itself, so they are copied word by word through a
 * DataView kept while callers pass the same target (a map's scratch buffer).
 */
function copyToTarget(size: number): string[] {
  if (size > WORD_COPY_LIMIT) return [`  target.set(scratchBytes, offset);`];
  const wholeWords = size - (size % 4);
  return [
    `  if (target !== viewedTarget) { targetView = new DataView(target.buffer, target.byteOffset, target.byteLength); viewedTarget = target; }`,
    `  for (let i = 0; i < ${wholeWords}; i += 4) targetView.setUint32(offset + i, scratch.getUint32(i));`,
    ...(wholeWords < size ? [`  for (let i = ${wholeWords}; i < ${size}; i++) target[offset + i] = scratchBytes[i];`] : []),
  ];
}

/**
 * The source text of a record's encoder (exported for tests and for reading).
 * @param rootName the name error paths start with (`'value'`, `'key'`).
 */
export function encoderSource(layout: RecordLayout, rootName: string): string {
  const source = new EncoderSource();
  const body = layout.root === undefined ? '' : source.value(layout.root, 'input', 'b', 0, { prefix: JSON.stringify(rootName), index: '-1', suffix: '' });
  return [
    `'use strict';`,
    `const { ${Object.keys(runtime).join(', ')} } = runtime;`,
    `const scratchBytes = new Uint8Array(${layout.size});`,
    `const scratch = new DataView(scratchBytes.buffer);`,
    // A getter on the value could encode with this same record while we are in the scratch buffer.
    `let scratchInUse = false;`,
    `let viewedTarget = null;`,
    `let targetView = null;`,
    ...source.fieldLists.map((names, index) => `const FIELDS${index} = ${JSON.stringify(names)};`),
    ...source.helpers,
    `function write(w, wb, input) {`,
    `const b = 0;`,
    body,
    `}`,
    `return function encode(input, target, offset) {`,
    `  if (!(target instanceof Uint8Array)) throw new TypeError('encode: target must be a Uint8Array');`,
    `  if (!(offset >= 0 && offset + ${layout.size} <= target.length && Number.isInteger(offset))) throw bufferError('encode', ${layout.size}, target.length, offset);`,
    `  if (scratchInUse) {`,
    `    const ownBytes = new Uint8Array(${layout.size});`,
    `    try { write(new DataView(ownBytes.buffer), ownBytes, input); } catch (error) { throw explainFailure(error, input); }`,
    `    target.set(ownBytes, offset);`,
    `    return;`,
    `  }`,
    `  scratchInUse = true;`,
    `  try { write(scratch, scratchBytes, input); } catch (error) { throw explainFailure(error, input); } finally { scratchInUse = false; }`,
    ...copyToTarget(layout.size),
    `};`,
  ].join('\n');
}

/** Builds a record's encoder. */
export function compileEncoder(layout: RecordLayout, rootName: string): Encoder {
  const factory = new Function('runtime', 'bufferError', 'explainFailure', encoderSource(layout, rootName)) as (
    rt: typeof runtime,
    error: typeof bufferError,
    explain: (error: unknown, input: unknown) => unknown,
  ) => Encoder;
  const root = layout.root;
  // Only when encoding failed: a misspelled field shows up as the right name missing, so name
  // the misspelling instead (an unknown field is reported before any value error).
  const explainFailure = (error: unknown, input: unknown): unknown => {
    if (root === undefined) return error;
    try {
      return unknownFieldIn(root, input, rootName) ?? error;
    } catch {
      return error; // a getter that throws while we look: report what failed first
    }
  };
  return factory(runtime, bufferError, explainFailure);
}

/**
 * The first field of `value`, at any depth, that its struct in `layout` does not have, as an
 * `ERR_BPFMAP_UNKNOWN_FIELD` error; undefined when there is none.
 */
export function unknownFieldIn(layout: ValueLayout, value: unknown, path: string): TypeError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (layout.kind === 'struct') {
    if (Array.isArray(value) || ArrayBuffer.isView(value)) return undefined;
    const names = layout.fields.map((field) => field.name);
    const unknown = findUnknownField(value, names);
    if (unknown !== undefined) return unknownFieldError(path, unknown, 'the struct', names);
    for (const field of layout.fields) {
      const inner = unknownFieldIn(field.value, (value as Record<string, unknown>)[field.name], path + fieldPathPart(field.name));
      if (inner !== undefined) return inner;
    }
  } else if (layout.kind === 'array' && Array.isArray(value)) {
    for (let index = 0; index < layout.elements.length && index < value.length; index++) {
      const inner = unknownFieldIn(layout.elements[index]!, value[index], `${path}[${index}]`);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}
