/** `MappedArray`: the values of an MMAPABLE array map, memory-mapped. */
import { show } from '../codec/codec.js';
import { native, type NativeMapping, type NativeObject } from '../sys/native.js';
import { BpfError, argumentError, type ErrorSubject } from '../sys/errors.js';
import { roundUp8 } from '../sys/layout.js';

const PAGE_SIZE = 4096;

/**
 * A zero-copy view of an MMAPABLE array map's values: value `i` lives at byte `i * stride`.
 * Reading a counter is a memory read, no syscall.
 *
 * Memory safety: a read-only mapping (read-only handle, frozen map) would crash the process on a
 * JavaScript write, so its raw `bytes`/`view` are not handed out; read through the `read*`
 * methods instead. After `unmap()` (or the map's `close()`) the memory is detached from every
 * view first, so no access can reach unmapped memory.
 *
 * @example
 * const values = map.mmap();
 * const hits = values.readU64(3); // value 3's first 8 bytes, no syscall
 */
export class MappedArray {
  /** Bytes between consecutive values: roundup(valueSize, 8). */
  readonly stride: number;
  /** Bytes of one value. */
  readonly valueSize: number;
  /** Number of values (the map's max_entries). */
  readonly length: number;
  /** True when mapped read-write. */
  readonly writable: boolean;
  readonly #mapping: NativeMapping;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  private constructor(mapping: NativeMapping, valueSize: number, length: number, writable: boolean) {
    this.#mapping = mapping;
    this.stride = roundUp8(valueSize);
    this.valueSize = valueSize;
    this.length = length;
    this.writable = writable;
    this.#bytes = new Uint8Array(mapping.buffer, 0, this.stride * length);
    this.#view = new DataView(mapping.buffer, 0, this.stride * length);
  }

  /** Maps an array map's values. Internal: use `BpfMap.mmap()`. */
  static map(map: NativeObject<'map'>, valueSize: number, length: number, writable: boolean, subject: ErrorSubject): MappedArray {
    const bytes = roundUp8(valueSize) * length;
    const pageRounded = Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
    const mapping = native.mmap(map, pageRounded, writable, 0);
    if (typeof mapping === 'number') {
      throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -mapping, subject, `mmap of ${pageRounded} bytes (${writable ? 'read-write' : 'read-only'}) failed`);
    }
    return new MappedArray(mapping, valueSize, length, writable);
  }

  #requireWritable(what: string): void {
    if (!this.writable) {
      throw argumentError(TypeError, 'ERR_BPFMAP_READ_ONLY', `${what} is only available on a writable mapping; this one is read-only (read-only handle or frozen map): use read(), readU32(), readU64()`);
    }
  }

  /** The mapped values as bytes (writable mappings only: writes go straight to the map). */
  get bytes(): Uint8Array {
    this.#requireWritable('bytes');
    if (this.#bytes.length === 0) throw this.#unmappedError();
    return this.#bytes;
  }

  /** A DataView over the mapped values (writable mappings only). */
  get view(): DataView {
    this.#requireWritable('view');
    if (this.#bytes.length === 0) throw this.#unmappedError();
    return this.#view;
  }

  /** An unmapped (or transferred) mapping's views are empty: say so with a code. */
  #unmappedError(): BpfError {
    return new BpfError('the mapping is unmapped (MappedArray.unmap() or the map\'s close() ran)', { code: 'ERR_BPFMAP_CLOSED', errno: 0 });
  }

  #offset(index: number, fieldOffset: number, width: number): number {
    if (this.#bytes.length === 0) throw this.#unmappedError();
    // `x >>> 0 === x` is the cheap test for "a u32 integer": reads through the mapping should
    // cost a memory access, not a pile of checks.
    if (index >>> 0 !== index || index >= this.length) {
      throw new RangeError(`index expected an integer from 0 to ${this.length - 1}, got ${show(index)}`);
    }
    if (fieldOffset >>> 0 !== fieldOffset || fieldOffset + width > this.valueSize) {
      throw new RangeError(`offset expected an integer from 0 to ${this.valueSize - width}, got ${show(fieldOffset)}`);
    }
    return index * this.stride + fieldOffset;
  }

  /** A copy of value `index`. */
  read(index: number): Uint8Array {
    const start = this.#offset(index, 0, 0);
    return this.#bytes.slice(start, start + this.valueSize);
  }

  /** The little-endian u32 at `offset` within value `index`. */
  readU32(index: number, offset = 0): number {
    return this.#view.getUint32(this.#offset(index, offset, 4), true);
  }

  /** The little-endian u64 at `offset` within value `index`. */
  readU64(index: number, offset = 0): bigint {
    return this.#view.getBigUint64(this.#offset(index, offset, 8), true);
  }

  /** Writes a copy of `value` (exactly `valueSize` bytes) into slot `index` (writable mappings only). */
  write(index: number, value: Uint8Array): void {
    this.#requireWritable('write');
    if (this.#bytes.length === 0) throw this.#unmappedError();
    if (!(value instanceof Uint8Array) || value.length !== this.valueSize) {
      throw new RangeError(`value expected ${this.valueSize} bytes, got ${value instanceof Uint8Array ? value.length : typeof value}`);
    }
    this.#bytes.set(value, this.#offset(index, 0, 0));
  }

  /** True after `unmap()`. */
  get unmapped(): boolean {
    return this.#mapping.buffer.byteLength === 0;
  }

  /** Unmaps the memory; every view over it becomes empty. Idempotent. */
  unmap(): void {
    native.munmap(this.#mapping);
  }
}
