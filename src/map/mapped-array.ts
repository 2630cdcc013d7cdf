/** `MappedArray`: the values of an MMAPABLE array map, memory-mapped. */
import { native, type NativeMapping } from '../sys/native.js';
import { BpfError, type ErrorSubject } from '../sys/errors.js';
import { roundUp8 } from './codecs.js';

const PAGE_SIZE = 4096;

/**
 * A zero-copy view of an MMAPABLE array map's values: element `i` lives at `i * stride`.
 * Reading a counter is a memory read, no syscall. After `unmap()` (or the map's `close()`) every
 * view is detached and reads nothing, so no access can reach unmapped memory.
 *
 * @example
 * const values = map.mmap();
 * const hits = values.view.getBigUint64(3 * values.stride, true);
 */
export class MappedArray {
  /** The mapped bytes: `stride * length` of them (the mapping itself is page-rounded). */
  readonly bytes: Uint8Array;
  /** A DataView over `bytes`. */
  readonly view: DataView;
  /** Bytes between consecutive values: roundup(valueSize, 8). */
  readonly stride: number;
  /** Bytes of one value. */
  readonly valueSize: number;
  /** Number of values (the map's max_entries). */
  readonly length: number;
  /** False when mapped read-only (read-only handle or frozen map): writes would fault, so views are copies-free but must not be written. */
  readonly writable: boolean;
  readonly #mapping: NativeMapping;

  private constructor(mapping: NativeMapping, valueSize: number, length: number, writable: boolean) {
    this.#mapping = mapping;
    this.stride = roundUp8(valueSize);
    this.valueSize = valueSize;
    this.length = length;
    this.writable = writable;
    this.bytes = new Uint8Array(mapping.buffer, 0, this.stride * length);
    this.view = new DataView(mapping.buffer, 0, this.stride * length);
  }

  /** Maps an array map's values. Internal: use `BpfMap.mmap()`. */
  static map(fd: number, valueSize: number, length: number, writable: boolean, subject: ErrorSubject): MappedArray {
    const bytes = roundUp8(valueSize) * length;
    const pageRounded = Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
    const mapping = native.mmap(fd, pageRounded, writable, 0);
    if (typeof mapping === 'number') {
      throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -mapping, subject, `mmap of ${pageRounded} bytes (${writable ? 'read-write' : 'read-only'}) failed`);
    }
    return new MappedArray(mapping, valueSize, length, writable);
  }

  /** The bytes of value `index` (a view, no copy). */
  at(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`index expected an integer from 0 to ${this.length - 1}, got ${index}`);
    }
    return this.bytes.subarray(index * this.stride, index * this.stride + this.valueSize);
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
