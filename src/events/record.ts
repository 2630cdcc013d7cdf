/**
 * How event records reach the caller: as copied bytes, as decoded objects, or as a zero-copy
 * `RecordView` that is valid only inside the handler it is passed to.
 */
import type { Codec } from '../codec/codec.js';
import { argumentError } from '../sys/errors.js';

/**
 * Turns a record's bytes into a value: a `Codec<T>` (a BpfRecord, a BTF type's codec, ...) or a
 * function. A codec decodes straight from the buffer's memory (no copy) and must not write to its
 * source; a function receives a copy of the record that it may keep.
 */
export type RecordDecoder<T> = Codec<T> | ((bytes: Uint8Array) => T);

/** One record as the async iterators yield it: `cpu` is set for perf buffers. */
export interface EventRecord<T> {
  /** The CPU the record was written on (perf event arrays only). */
  readonly cpu?: number;
  /** When the kernel wrote it, in ns of perf's clock (perf buffers opened with `timestamps: true`). */
  readonly time?: bigint;
  /** The record: a copy of its bytes, or what the decoder made of them. */
  readonly data: T;
}

/** Options shared by the event readers. */
export interface DecodeOptions<T> {
  /**
   * Decodes each record. Without it records are `Uint8Array` copies, owned by the caller.
   */
  readonly decode?: RecordDecoder<T>;
}

/**
 * Builds the function that turns the record at `bytes[offset .. offset + length)` into what the
 * caller asked for. Records shorter than a codec's size are an error (the BPF program and the
 * codec disagree), reported with both sizes.
 */
export function recordMaker<T>(decode: RecordDecoder<T> | undefined): (bytes: Uint8Array, offset: number, length: number) => T {
  if (decode === undefined) {
    return ((bytes: Uint8Array, offset: number, length: number) => bytes.slice(offset, offset + length)) as unknown as (
      bytes: Uint8Array,
      offset: number,
      length: number,
    ) => T;
  }
  if (typeof decode === 'function') {
    return (bytes, offset, length) => decode(bytes.slice(offset, offset + length));
  }
  if (typeof decode !== 'object' || decode === null || typeof decode.decode !== 'function' || !Number.isInteger(decode.size)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_DECODER', 'decode must be a Codec (with size and decode) or a function of the record bytes');
  }
  const codec = decode;
  return (bytes, offset, length) => {
    if (length < codec.size) {
      throw argumentError(RangeError, 'ERR_BPFMAP_RECORD_SIZE', `event record of ${length} bytes is shorter than the decoder's ${codec.size} bytes`);
    }
    return codec.decode(bytes, offset);
  };
}

/**
 * A zero-copy, read-only window on one ring buffer record, handed to `consumeViews` handlers.
 * The same object is reused for every record and reads the ring's memory directly: it is valid
 * only until the handler returns. Reads are bounds-checked against the record's length; take
 * `copy()` to keep the bytes.
 *
 * It is not a `Uint8Array` because the ring's data pages are mapped read-only: a write through a
 * typed array would kill the process.
 */
export class RecordView {
  /** Length of the record in bytes. */
  length = 0;
  #offset = 0;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  /** Internal: the ring's readers make one per mapping. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Internal: points the view at the next record. */
  moveTo(offset: number, length: number): void {
    this.#offset = offset;
    this.length = length;
  }

  #at(index: number, width: number): number {
    // `index >>> 0 === index`: a non-negative integer below 2^32 (records are shorter than 2^30).
    if (index >>> 0 !== index || index + width > this.length) {
      throw argumentError(RangeError, 'ERR_BPFMAP_RECORD_RANGE', `read of ${width} bytes at ${index} is outside the ${this.length}-byte record`);
    }
    return this.#offset + index;
  }

  /** The u8 at `index`. */
  u8(index: number): number {
    return this.#view.getUint8(this.#at(index, 1));
  }

  /** The u32 at `index`, native byte order (as the BPF program wrote it). */
  u32(index: number): number {
    return this.#view.getUint32(this.#at(index, 4), NATIVE_LITTLE_ENDIAN);
  }

  /** The i32 at `index`, native byte order. */
  i32(index: number): number {
    return this.#view.getInt32(this.#at(index, 4), NATIVE_LITTLE_ENDIAN);
  }

  /** The u64 at `index`, native byte order. */
  u64(index: number): bigint {
    return this.#view.getBigUint64(this.#at(index, 8), NATIVE_LITTLE_ENDIAN);
  }

  /** The u64 at `index` as a number (exact below 2^53). */
  u64Number(index: number): number {
    const at = this.#at(index, 8);
    const low = this.#view.getUint32(at + (NATIVE_LITTLE_ENDIAN ? 0 : 4), NATIVE_LITTLE_ENDIAN);
    const high = this.#view.getUint32(at + (NATIVE_LITTLE_ENDIAN ? 4 : 0), NATIVE_LITTLE_ENDIAN);
    return high * 0x1_0000_0000 + low;
  }

  /** Decodes the record (or the part at `index`) with a codec, without copying. */
  decode<T>(codec: Codec<T>, index = 0): T {
    return codec.decode(this.#bytes, this.#at(index, codec.size));
  }

  /** A copy of the record's bytes, owned by the caller. */
  copy(): Uint8Array {
    return this.#bytes.slice(this.#offset, this.#offset + this.length);
  }

  /** Copies the record into `target` at `targetOffset`; returns the bytes copied. */
  copyTo(target: Uint8Array, targetOffset = 0): number {
    if (targetOffset < 0 || targetOffset + this.length > target.length) {
      throw argumentError(RangeError, 'ERR_BPFMAP_RECORD_RANGE', `target has no room for ${this.length} bytes at ${targetOffset}`);
    }
    target.set(this.#bytes.subarray(this.#offset, this.#offset + this.length), targetOffset);
    return this.length;
  }
}

/** BPF programs write in the machine's byte order. */
const NATIVE_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
