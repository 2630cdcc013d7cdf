/**
 * `UserRingBuffer`: the producer side of a BPF_MAP_TYPE_USER_RINGBUF map, which BPF programs
 * read with `bpf_user_ringbuf_drain()`.
 *
 * The consumer page is mapped read-only (the kernel owns it), the producer page and the
 * twice-mapped data area read-write. A reservation writes the record header with the BUSY bit
 * and publishes the new producer position; the kernel stops draining at a busy record until
 * `submit()` (or `discard()`) clears the bit. Reservations may be committed out of order.
 */
import { BpfError, argumentError } from '../sys/errors.js';
import { show, uint8ArrayLength } from '../codec/codec.js';
import { MapType } from '../sys/constants.js';
import { native, nativeObject, type NativeMapping } from '../sys/native.js';
import { FdWaiter, type WaitResult } from './fd-waiter.js';
import { RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RINGBUF_HEADER_SIZE, pageSize, ringbufRecordSpan } from './layout.js';
import { openEventMap, type EventMapSource } from './source.js';
import { claimMap, refuseOtherRingUsers } from './exclusive.js';

/** Options of `UserRingBuffer.open`. */
export interface UserRingBufferOptions {
  /**
   * Open even when another process is found writing the ring (default false: that is
   * `ERR_BPFMAP_IN_USE` naming it; see docs/events.md).
   */
  readonly ignoreOtherProcesses?: boolean;
}

/**
 * Space reserved in a user ring buffer. Fill `data`, then call `submit()` or `discard()`
 * exactly once; until then the kernel drains nothing at or after this record.
 */
export class UserRingBufferReservation {
  /** The record's bytes, in the ring's memory (writing here is writing the record). */
  readonly data: Uint8Array;
  readonly #words: Int32Array;
  readonly #headerWord: number;
  readonly #settled: (reservation: UserRingBufferReservation) => void;
  #state: 'reserved' | 'submitted' | 'discarded' | 'discarded when the user ring buffer was closed' = 'reserved';

  /** Internal: made by `UserRingBuffer.reserve`. */
  constructor(data: Uint8Array, words: Int32Array, headerWord: number, settled: (reservation: UserRingBufferReservation) => void) {
    this.data = data;
    this.#words = words;
    this.#headerWord = headerWord;
    this.#settled = settled;
  }

  /** Internal: `UserRingBuffer.close()` discards what is still reserved, so the ring is not blocked. */
  abandon(): void {
    if (this.#state !== 'reserved') return;
    this.#commit(RINGBUF_DISCARD_BIT, 'discarded when the user ring buffer was closed');
  }

  /** Hands the record to the BPF program. */
  submit(): void {
    this.#commit(0, 'submitted');
  }

  /** Gives the space back unread: the BPF program skips the record. */
  discard(): void {
    this.#commit(RINGBUF_DISCARD_BIT, 'discarded');
  }

  #commit(flag: number, state: 'submitted' | 'discarded' | 'discarded when the user ring buffer was closed'): void {
    if (this.#state !== 'reserved') {
      throw argumentError(TypeError, 'ERR_BPFMAP_RESERVATION', `this reservation was already ${this.#state}`);
    }
    this.#state = state;
    this.#settled(this);
    // The release store of the header publishes the record's bytes written before it.
    Atomics.store(this.#words, this.#headerWord, (this.data.length | flag) | 0);
  }
}

/**
 * Writes records into a user ring buffer map for a BPF program to drain.
 *
 * @example
 * using requests = UserRingBuffer.open('/sys/fs/bpf/requests');
 * requests.write(new Uint8Array([1, 2, 3]));
 * const slot = requests.reserve(16);
 * new DataView(slot.data.buffer, slot.data.byteOffset).setBigUint64(0, 42n, true);
 * slot.submit();
 */
export class UserRingBuffer implements Disposable {
  /** Bytes of the data area (the map's max_entries). */
  readonly capacity: number;
  /** The map's name. */
  readonly name: string;
  /** The longest record that can ever fit: the data area minus one header. */
  readonly maxRecordSize: number;

  readonly #map: ReturnType<typeof openEventMap>;
  readonly #consumerMapping: NativeMapping;
  readonly #producerMapping: NativeMapping;
  readonly #consumerPos64: BigInt64Array;
  readonly #producerPos64: BigInt64Array;
  readonly #words: Int32Array;
  readonly #dataStart: number;
  readonly #waiter: FdWaiter;
  #producerPosition: number;
  #closed = false;
  /** Reservations not yet submitted or discarded: close() discards them. */
  readonly #open = new Set<UserRingBufferReservation>();
  readonly #settled = (reservation: UserRingBufferReservation): void => {
    this.#open.delete(reservation);
  };
  readonly #unclaim: () => void;

  private constructor(map: ReturnType<typeof openEventMap>) {
    this.#map = map;
    this.#unclaim = claimMap('producer', 'UserRingBuffer', map, this);
    this.name = map.name;
    this.capacity = map.maxEntries;
    this.maxRecordSize = this.capacity - RINGBUF_HEADER_SIZE;
    const page = pageSize();
    const consumer = native.mmap(map[nativeObject], page, false, 0);
    if (typeof consumer === 'number') {
      this.#unclaim();
      throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -consumer, { name: map.name }, 'mmap of the consumer page (read-only) failed');
    }
    const producer = native.mmap(map[nativeObject], page + 2 * this.capacity, true, page);
    if (typeof producer === 'number') {
      native.munmap(consumer);
      this.#unclaim();
      throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -producer, { name: map.name }, 'mmap of the producer page and data area (read-write) failed');
    }
    this.#consumerMapping = consumer;
    this.#producerMapping = producer;
    this.#consumerPos64 = new BigInt64Array(consumer.buffer, 0, 1);
    this.#producerPos64 = new BigInt64Array(producer.buffer, 0, 1);
    this.#words = new Int32Array(producer.buffer);
    this.#dataStart = page;
    this.#producerPosition = Number(BigInt.asUintN(64, Atomics.load(this.#producerPos64, 0)));
    this.#waiter = new FdWaiter(map[nativeObject]);
    this.#discardAbandoned();
  }

  /**
   * Discards records a previous producer reserved and never committed (a process that died with
   * a reservation open): the kernel stops draining at a BUSY record, so without this nothing
   * written after it would ever reach the BPF program. There is one producer per map, so every
   * BUSY record between the consumer and producer positions when a producer opens is abandoned.
   */
  #discardAbandoned(): void {
    let position = this.#consumerPosition();
    while (position < this.#producerPosition) {
      const headerWord = (this.#dataStart + (position % this.capacity)) >> 2;
      const header = Atomics.load(this.#words, headerWord);
      const length = header & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      if (length > this.maxRecordSize) return; // not a header we wrote: leave the ring alone
      if (header & RINGBUF_BUSY_BIT) Atomics.store(this.#words, headerWord, (length | RINGBUF_DISCARD_BIT) | 0);
      position += ringbufRecordSpan(length);
    }
  }

  /**
   * Opens a user ring buffer map for writing. Only one producer may write a map at a time: a
   * second `UserRingBuffer` on the same map in this process is refused until the first is
   * closed, and so is one on a map that another process is seen writing (through /proc;
   * `ignoreOtherProcesses` overrides). Records a dead producer left reserved are discarded, so
   * they do not block the ring.
   * @throws TypeError when the map is not a user_ringbuf; BpfError when it cannot be mapped, or
   *   `ERR_BPFMAP_IN_USE` when this process writes it already; `BpfInUseError` (the same code,
   *   with `processes`) when another process does.
   */
  static open(source: EventMapSource, options: UserRingBufferOptions = {}): UserRingBuffer {
    if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `UserRingBuffer options must be an object, got ${show(options)}`);
    const ignoreOthers = options.ignoreOtherProcesses ?? false;
    if (typeof ignoreOthers !== 'boolean') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `ignoreOtherProcesses must be a boolean, got ${show(ignoreOthers)}`);
    const map = openEventMap(source, MapType.user_ringbuf, 'UserRingBuffer');
    try {
      // Before mapping: opening discards records left reserved, which a live producer is writing.
      if (!ignoreOthers) refuseOtherRingUsers('producer', 'UserRingBuffer', map);
      return new UserRingBuffer(map);
    } catch (error) {
      map.close();
      throw error;
    }
  }

  #consumerPosition(): number {
    return Number(BigInt.asUintN(64, Atomics.load(this.#consumerPos64, 0)));
  }

  /** Bytes free for new records right now (each record also takes an 8-byte header and padding). */
  get freeBytes(): number {
    this.#ensureOpen();
    return this.capacity - (this.#producerPosition - this.#consumerPosition());
  }

  /** True when a record of `size` bytes fits now. */
  fits(size: number): boolean {
    return ringbufRecordSpan(size) <= this.freeBytes;
  }

  /**
   * Reserves `size` bytes for one record.
   * @throws RangeError (ERR_BPFMAP_RECORD_SIZE) when `size` can never fit.
   * @throws BpfError with code `ENOSPC` when the ring is too full now: wait for the BPF program
   *   to drain it (`waitForSpace()`), then retry.
   */
  reserve(size: number): UserRingBufferReservation {
    this.#ensureOpen();
    if (!Number.isInteger(size) || size < 1 || size > this.maxRecordSize) {
      throw argumentError(RangeError, 'ERR_BPFMAP_RECORD_SIZE', `record size must be an integer from 1 to ${this.maxRecordSize} for user ring buffer '${this.name}', got ${show(size)}`);
    }
    const span = ringbufRecordSpan(size);
    const used = this.#producerPosition - this.#consumerPosition();
    if (used + span > this.capacity) {
      throw new BpfError(
        `user ring buffer '${this.name}' is full: a ${size}-byte record needs ${span} bytes, ${this.capacity - used} of ${this.capacity} are free; wait for the BPF program to drain it (waitForSpace()) and retry`,
        { code: 'ENOSPC', errno: 28, subject: { name: this.name } },
      );
    }
    const headerAt = this.#dataStart + (this.#producerPosition % this.capacity);
    const headerWord = headerAt >> 2;
    // Busy until committed; pg_off is unused for user ring buffers and must be 0.
    Atomics.store(this.#words, headerWord, (size | RINGBUF_BUSY_BIT) | 0);
    Atomics.store(this.#words, headerWord + 1, 0);
    this.#producerPosition += span;
    Atomics.store(this.#producerPos64, 0, BigInt(this.#producerPosition));
    // The data area is mapped twice, so the record is contiguous even across the end.
    const data = new Uint8Array(this.#producerMapping.buffer, headerAt + RINGBUF_HEADER_SIZE, size);
    const reservation = new UserRingBufferReservation(data, this.#words, headerWord, this.#settled);
    this.#open.add(reservation);
    return reservation;
  }

  /**
   * Writes one record (a copy of `bytes`) and submits it.
   * @throws BpfError `ENOSPC` when it does not fit now; RangeError when it never can.
   */
  write(bytes: Uint8Array): void {
    if (uint8ArrayLength(bytes) < 0) throw argumentError(TypeError, 'ERR_BPFMAP_RECORD_TYPE', 'write expects a Uint8Array');
    const reservation = this.reserve(bytes.length);
    reservation.data.set(bytes);
    reservation.submit();
  }

  /**
   * Resolves when the BPF program has drained some records (the map fd turns writable), the
   * buffer is closed, `signal` aborts or `timeoutMs` passes. Check `fits()` and retry.
   */
  waitForSpace(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<WaitResult> {
    return this.#waiter.wait({ writable: true, signal: options.signal, timeoutMs: options.timeoutMs });
  }

  /**
   * Writes one record, waiting for space while the ring is full.
   * @throws BpfError `ENOSPC` when `timeoutMs` passes first, `ERR_BPFMAP_CLOSED` when closed.
   */
  async writeWhenFree(bytes: Uint8Array, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      this.#ensureOpen();
      if (this.fits(bytes.length)) return this.write(bytes);
      const remaining = deadline - Date.now();
      // Past the deadline: the fd stays writable while any byte is free, so a wait would report
      // 'ready' before its zero timeout, again and again; fail now instead (write throws ENOSPC).
      if (remaining <= 0) return this.write(bytes);
      const result = await this.waitForSpace({
        ...(options.signal ? { signal: options.signal } : {}),
        ...(Number.isFinite(remaining) ? { timeoutMs: Math.max(0, remaining) } : {}),
      });
      if (result === 'aborted') throw options.signal?.reason ?? new Error('aborted');
      if (result === 'timeout' && !this.fits(bytes.length)) return this.write(bytes); // throws ENOSPC
      // The kernel reports writable while any byte is free: pause so a big record cannot spin.
      if (result === 'ready' && !this.fits(bytes.length)) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new BpfError(`user ring buffer '${this.name}' is closed`, { code: 'ERR_BPFMAP_CLOSED', errno: 0 });
  }

  /**
   * Discards every reservation not yet submitted (an abandoned one would stop the BPF program
   * from draining anything after it), unmaps the buffer (reservation views become empty) and
   * closes the map handle. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const reservation of [...this.#open]) reservation.abandon();
    this.#waiter.close();
    native.munmap(this.#producerMapping);
    native.munmap(this.#consumerMapping);
    this.#map.close();
    this.#unclaim();
  }

  /** `using` support. */
  [Symbol.dispose](): void {
    this.close();
  }
}
