/**
 * `BpfRecord`: a codec described by a pybpfmap-style template of Python `struct` formats, with a
 * decoder and an encoder generated once per record.
 */
import type { Codec } from '../codec.js';
import { describe } from '../codec.js';
import { compileDecoder, type Decoder, type StringMode } from './decoder.js';
import { compileEncoder, type Encoder } from './encoder.js';
import { recordFormatError } from './errors.js';
import { isByteOrder, type ByteOrder } from './format.js';
import { firstOffset, layoutRecord, type RecordLayout, type ValueLayout } from './layout.js';
import type { Template } from './template.js';
import type { InferRecord } from './infer.js';

/** A value a record decodes to (and encodes from). */
export type RecordValue = number | bigint | boolean | string | Uint8Array | readonly RecordValue[] | RecordObject;

/** A decoded struct. */
export interface RecordObject {
  [field: string]: RecordValue;
}

/** Options of a record. */
export interface BpfRecordOptions {
  /**
   * Byte order, sizes and alignment, as Python's `struct` prefixes: `'='` (the default, as in
   * pybpfmap: native order, standard sizes, no padding), `'@'` (native, with C's sizes and
   * alignment: use it to match a C struct), `'<'`, `'>'`, `'!'`.
   */
  readonly byteOrder?: ByteOrder;
  /** How `s`, `p` and `c` decode: `'bytes'` (default, `Uint8Array`) or `'text'` (UTF-8 up to the first NUL). */
  readonly strings?: StringMode;
  /** The first word of field paths in error messages (default `'value'`; use `'key'` for a key record). */
  readonly name?: string;
}

/**
 * A fixed-size struct layout that turns bytes into plain objects and back; a `Codec` for typed maps.
 *
 * Templates follow pybpfmap: a list of `[name, format]` pairs is a struct, a list of templates is
 * an array, a format string is a scalar (or an array when it repeats: `'4Q'`). 8-byte integers
 * decode to `bigint` and encode from a `bigint` or a safe-integer number.
 *
 * @example
 * const key = new BpfRecord<{ uid: bigint; gid: bigint }>([['uid', 'Q'], ['gid', 'Q']]);
 * key.size;                          // 16
 * key.pack({ uid: 1n, gid: 2 });     // Uint8Array(16)
 * key.unpack(bytes);                 // { uid: 1n, gid: 2n }
 * const map = BpfMap.openPinned(path, { key, value: new BpfRecord([['data', '8Q']]) });
 */
export class BpfRecord<T = RecordObject> implements Codec<T> {
  /** Bytes one record occupies (with `@`, equal to C's `sizeof`). */
  readonly size: number;
  /** The record's alignment (1 unless `@`). */
  readonly alignment: number;
  /** The byte order prefix the record was built with. */
  readonly byteOrder: ByteOrder;
  /** The template the record was built from. */
  readonly template: Template;
  /** Where every value lives. */
  readonly layout: RecordLayout;
  /** Writes `value` at `target[offset]`; checks everything first and writes nothing on error. */
  readonly encode: (value: T, target: Uint8Array, offset: number) => void;
  /** Reads a value at `source[offset]`. */
  readonly decode: (source: Uint8Array, offset: number) => T;

  /**
   * A record whose TypeScript type is worked out from the template: no type written twice.
   * Same arguments and checks as the constructor; write the template inline (or `as const`) so
   * that the compiler sees its literal strings.
   *
   * @example
   * const flow = BpfRecord.define([['saddr', 'I'], ['dport', '!H'], ['pad', '2x'], ['bytes', 'Q'], ['comm', '16s']], { strings: 'text' });
   * // BpfRecord<{ saddr: number; dport: number; bytes: bigint; comm: string }>
   * @throws TypeError (`ERR_BPFMAP_RECORD_FORMAT`) naming the part of the template that is wrong.
   */
  static define<const Tpl extends Template, const O extends BpfRecordOptions = {}>(template: Tpl, options?: O): BpfRecord<InferRecord<Tpl, O>> {
    return new BpfRecord<InferRecord<Tpl, O>>(template, options);
  }

  /**
   * @throws TypeError (`ERR_BPFMAP_RECORD_FORMAT`) naming the part of the template that is wrong.
   */
  constructor(template: Template, options: BpfRecordOptions = {}) {
    if (options === null || typeof options !== 'object') throw recordFormatError(`options must be an object, got ${describe(options)}`);
    const { byteOrder = '=', strings = 'bytes', name = 'value' } = options;
    if (!isByteOrder(byteOrder)) throw recordFormatError(`byteOrder must be one of @ = < > !, got ${describe(byteOrder)}`);
    if (strings !== 'bytes' && strings !== 'text') throw recordFormatError(`strings must be 'bytes' or 'text', got ${describe(strings)}`);
    this.template = template;
    this.byteOrder = byteOrder;
    this.layout = layoutRecord(template, byteOrder);
    if (this.layout.root === undefined) throw recordFormatError('template: a record must hold a value, not only pad bytes');
    this.size = this.layout.size;
    this.alignment = this.layout.alignment;
    this.decode = compileDecoder(this.layout, strings) as Decoder as (source: Uint8Array, offset: number) => T;
    this.encode = compileEncoder(this.layout, name) as Encoder;
  }

  /** Encodes a value into a new `Uint8Array` of `size` bytes. */
  pack(value: T): Uint8Array;
  /** Encodes a value into `target` at `offset` (default 0) and returns `target`. */
  pack(value: T, target: Uint8Array, offset?: number): Uint8Array;
  pack(value: T, target?: Uint8Array, offset = 0): Uint8Array {
    const bytes = target ?? new Uint8Array(this.size);
    this.encode(value, bytes, offset);
    return bytes;
  }

  /**
   * Decodes the record at `offset` (default 0) of `bytes`.
   * @throws RangeError (`ERR_BPFMAP_RECORD_BUFFER`) when fewer than `size` bytes are there.
   */
  unpack(bytes: Uint8Array, offset = 0): T {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`unpack: expected a Uint8Array, got ${describe(bytes)}`);
    return this.decode(bytes, offset);
  }

  /**
   * The byte offset of a field or element, by path: `'data[3]'`, `'inner.b'`, `'[2].x'`.
   * @throws RangeError when the path names nothing in the record.
   */
  offsetOf(path: string): number {
    const value = this.valueAt(path);
    const offset = firstOffset(value);
    if (offset === undefined) throw new RangeError(`offsetOf: '${path}' is empty`);
    return offset;
  }

  /** The layout of the value at a path (`''` is the whole record). */
  valueAt(path: string): ValueLayout {
    let value = this.layout.root as ValueLayout;
    const partPattern = /\.?([^.[\]]+)|\[(\d+)\]/gy;
    let match: RegExpExecArray | null;
    let consumed = 0;
    while (consumed < path.length && (match = partPattern.exec(path)) !== null) {
      consumed = partPattern.lastIndex;
      const [, name, index] = match;
      let next: ValueLayout | undefined;
      if (name !== undefined && value.kind === 'struct') next = value.fields.find((field) => field.name === name)?.value;
      if (index !== undefined && value.kind === 'array') next = value.elements[Number(index)];
      if (next === undefined) throw new RangeError(`no value at '${path}' in the record (stopped at '${match[0]}')`);
      value = next;
    }
    if (consumed !== path.length) throw new RangeError(`bad record path '${path}'`);
    return value;
  }
}
