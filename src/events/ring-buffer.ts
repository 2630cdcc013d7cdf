/**
 * `RingBuffer`: the consumer side of a BPF_MAP_TYPE_RINGBUF map.
 *
 * The consumer page is mapped read-write, the producer page and the (twice-mapped) data area
 * read-only. Records are read in order from the consumer position; a record whose BUSY bit is
 * set is still being written, so reading stops there until later; DISCARD records are skipped.
 *
 * ## Reading
 * producer_pos is loaded with `Atomics.load` (sequentially consistent, so at least acquire)
 * once per pass, then every record below it is read without looking at producer_pos again.
 * Each header must be read with acquire semantics, pairing with the kernel's `xchg` that clears
 * BUSY on commit, so the record's bytes are read after its header says it is complete. On x86
 * an ordinary load is already an acquire (loads are never reordered with later loads, and the
 * producer's data stores become visible before its `xchg`), which is why libbpf's
 * `smp_load_acquire` compiles to a plain `mov` there; V8 keeps typed-array loads in program
 * order, and does not reuse an earlier load of typed-array memory across the per-record store.
 * `Atomics.load`, by contrast, is a builtin call in V8 and cost more than the rest of the record
 * (it halved the drain rate). So on x86 headers are read with a plain `Int32Array` load;
 * elsewhere (arm64, where loads do reorder) with `Atomics.load` (`ldar`).
 *
 * ## Storing consumer_pos
 * consumer_pos is a u64 the kernel reads to know how much space is free. It is stored after
 * every record (once the handler has returned), as libbpf does, so the producer gets space back
 * at once and a record is never read twice. Positions are kept as numbers (exact up to 2^53
 * bytes, centuries at any rate a ring can go), and the store is one aligned 32-bit store of the
 * low word: the high word does not change, so the kernel's 64-bit load sees either the old or the
 * new position, never a mix. When the low word wraps (once per 4 GiB) the whole u64 is stored
 * at once with a 64-bit `Atomics.store`, so no torn value is ever visible.
 *
 * The per-record store needs release semantics: the handler's reads of the record must be done
 * before the producer can see the space as free and overwrite it. On x86 every plain store is a
 * release store (stores are never reordered with earlier loads), which is why libbpf's
 * `smp_store_release` there compiles to a plain `mov`; `Atomics.store` is an `xchg`, a full
 * barrier that cost about as much as the rest of the record. So on x86 the low word is written
 * with a plain `Uint32Array` store; elsewhere with `Atomics.store` (`stlr` on arm64).
 *
 * When `consume()` returns (or its handler throws) the position is stored once more with
 * `Atomics.store`, a full barrier, so it is globally visible before whatever the caller does
 * next. Wakeups do not depend on it: the kernel's ring buffer poll reports readiness whenever
 * producer_pos is past consumer_pos, and it is evaluated again each time the fd is armed.
 *
 * ## Why nothing is lost or read twice
 * A record's space is given back only after its handler returned (or threw: it was delivered,
 * so it counts as consumed), and the stored position is never ahead of the records read and
 * never behind the ones handed out. The next `consume()`, or a reader opened later, starts at
 * the stored position.
 */
import { BpfError, Errno, argumentError } from '../sys/errors.js';
import { show } from '../codec/codec.js';
import { MapType } from '../sys/constants.js';
import { native, nativeObject, type NativeMapping } from '../sys/native.js';
import { EventReader, type Delivery, type EventHandler } from './event-reader.js';
import { RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RINGBUF_HEADER_SIZE, TWO_POW_32, pageSize } from './layout.js';
import { RecordView, recordMaker, type DecodeOptions } from './record.js';
import { openEventMap, type EventMapSource } from './source.js';
import { claimMap, refuseOtherRingUsers } from './exclusive.js';

/** Options of `RingBuffer.open`. */
export interface RingBufferOptions<T> extends DecodeOptions<T> {
  /**
   * Open even when another process is found reading the ring (default false: that is
   * `ERR_BPFMAP_IN_USE` naming it; see docs/events.md, "One consumer").
   */
  readonly ignoreOtherProcesses?: boolean;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Indices of a u64's low and high u32 words in a Uint32Array over it. */
const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;
const HIGH_WORD = 1 - LOW_WORD;
/**
 * True on x86, whose total store order makes every ordinary load an acquire and every ordinary
 * store a release (see "Memory ordering" above). Elsewhere the hot loop uses `Atomics`.
 */
const X86 = process.arch === 'x64' || process.arch === 'ia32';
const PLAIN_LOAD_IS_ACQUIRE = X86;
const PLAIN_STORE_IS_RELEASE = X86;
const LENGTH_MASK = ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);

/**
 * Reads a BPF ring buffer map.
 *
 * Records are delivered as `Uint8Array` copies the caller owns, or decoded through
 * `options.decode`; `consumeViews()` is the zero-copy path.
 *
 * @example
 * using events = RingBuffer.open('/sys/fs/bpf/my_events');
 * for await (const { data } of events) console.log(data);
 */
export class RingBuffer<T = Uint8Array> extends EventReader<T> {
  /** Bytes of the data area (the map's max_entries). */
  readonly capacity: number;
  /** The map's name. */
  readonly name: string;

  readonly #map: ReturnType<typeof openEventMap>;
  readonly #consumerMapping: NativeMapping;
  readonly #producerMapping: NativeMapping;
  /** consumer_pos as one u64 (stored when the high word changes) and as two u32 words. */
  readonly #consumerPos64: BigInt64Array;
  readonly #consumerWords: Uint32Array;
  /** producer_pos as two u32 words. */
  readonly #producerWords: Uint32Array;
  /** The producer mapping as i32 words (record headers) and bytes (record data). */
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  /** Where the data area starts in the producer mapping. */
  readonly #dataStart: number;
  readonly #makeRecord: (bytes: Uint8Array, offset: number, length: number) => T;
  readonly #view: RecordView;
  /** consumer_pos as a number, its offset in the data area, and its low 32 bits. */
  #position: number;
  #offset: number;
  #positionLow: number;
  /** Gives the one-consumer claim on the map back. */
  readonly #unclaim: () => void;
  /** True while a consume loop runs: close() then waits for it to finish before unmapping. */
  #draining = false;
  /** close() was called during a consume loop; the loop releases when it ends. */
  #releaseDeferred = false;
  /**
   * The record `holdNext()` handed out and `commitHeld()` gives back (at-least-once): where it
   * starts (-1: none) and its bytes.
   */
  #heldAt = -1;
  #heldSpan = 0;

  private constructor(map: ReturnType<typeof openEventMap>, options: RingBufferOptions<T>) {
    super(map[nativeObject]);
    this.#map = map;
    this.#unclaim = claimMap('consumer', 'RingBuffer', map, this);
    this.name = map.name;
    this.capacity = map.maxEntries;
    this.#makeRecord = recordMaker(options.decode);
    const page = pageSize();
    const consumer = native.mmap(map[nativeObject], page, true, 0);
    if (typeof consumer === 'number') {
      this.#unclaim();
      // The kernel refuses writable mappings of a frozen map with EPERM, which reads like a
      // missing capability; a consumer must write its position, so a frozen ring buffer is unreadable.
      if (-consumer === Errno.EPERM && map.info.frozen) {
        throw BpfError.withReason('OBJ_GET_INFO_BY_FD', Errno.EPERM, `ring buffer '${map.name}' is frozen: the kernel refuses the writable mapping of its consumer position that reading needs`, { name: map.name, id: map.id });
      }
      throw mmapError(map.name, -consumer, 'consumer page (read-write)');
    }
    const producer = native.mmap(map[nativeObject], page + 2 * this.capacity, false, page);
    if (typeof producer === 'number') {
      native.munmap(consumer);
      this.#unclaim();
      throw mmapError(map.name, -producer, 'producer page and data area (read-only)');
    }
    this.#consumerMapping = consumer;
    this.#producerMapping = producer;
    this.#consumerPos64 = new BigInt64Array(consumer.buffer, 0, 1);
    this.#consumerWords = new Uint32Array(consumer.buffer, 0, 2);
    this.#producerWords = new Uint32Array(producer.buffer, 0, 2);
    this.#words = new Int32Array(producer.buffer);
    this.#bytes = new Uint8Array(producer.buffer);
    this.#view = new RecordView(this.#bytes);
    this.#dataStart = page;
    this.#position = Number(BigInt.asUintN(64, Atomics.load(this.#consumerPos64, 0)));
    this.#offset = this.#position % this.capacity;
    this.#positionLow = this.#position % TWO_POW_32;
  }

  /**
   * Opens a ring buffer map for reading. A reader started late finds every record the producer
   * committed since the last consumer stopped. A map has one consumer: a second `RingBuffer` on
   * the same map in this process is refused until the first is closed, and so is one on a map
   * that another process is seen reading (through /proc; `ignoreOtherProcesses` overrides).
   * @throws TypeError when the map is not a ringbuf; BpfError when it cannot be mapped, or
   *   `ERR_BPFMAP_IN_USE` when this process reads it already; `BpfInUseError` (the same code,
   *   with `processes`) when another process does.
   */
  static open<T = Uint8Array>(source: EventMapSource, options: RingBufferOptions<T> = {}): RingBuffer<T> {
    if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `RingBuffer options must be an object, got ${show(options)}`);
    const ignoreOthers = options.ignoreOtherProcesses ?? false;
    if (typeof ignoreOthers !== 'boolean') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `ignoreOtherProcesses must be a boolean, got ${show(ignoreOthers)}`);
    const map = openEventMap(source, MapType.ringbuf, 'RingBuffer');
    try {
      if (!ignoreOthers) refuseOtherRingUsers('consumer', 'RingBuffer', map);
      return new RingBuffer<T>(map, options);
    } catch (error) {
      map.close();
      throw error;
    }
  }

  /** Bytes written by the producer and not yet consumed (including headers and busy records). */
  get pendingBytes(): number {
    this.ensureOpen();
    return this.#producerPosition() - this.#position;
  }

  /** {@inheritDoc EventReader.hasPending} */
  hasPending(): boolean {
    return this.pendingBytes > 0;
  }

  /** {@inheritDoc EventReader.consume} */
  consume(handler: EventHandler<T>, limit = Infinity): number {
    return this.#drain(undefined, handler, limit);
  }

  /**
   * The zero-copy path: hands each record to `handler` as a `RecordView` over the ring's memory,
   * valid only until the handler returns (the same view object is reused). Returns how many
   * records were delivered.
   *
   * @example
   * let total = 0n;
   * events.consumeViews((record) => { total += record.u64(0); });
   */
  consumeViews(handler: (record: RecordView) => void, limit = Infinity): number {
    return this.#drain(handler, undefined, limit);
  }

  /**
   * The consumer loop (libbpf's ringbuf_process_ring). Exactly one of `viewHandler` and
   * `handler` is given; each has its own call site, so each stays monomorphic.
   */
  /**
   * `poll()` for the zero-copy path: waits up to `timeoutMs` (negative: forever), blocking the
   * thread, then hands each record to `handler` as a `RecordView` (valid until it returns).
   */
  pollViews(timeoutMs: number, handler: (record: RecordView) => void, limit = Infinity): number {
    return this.pollWith(timeoutMs, () => this.consumeViews(handler, limit));
  }

  #drain(viewHandler: ((record: RecordView) => void) | undefined, handler: EventHandler<T> | undefined, limit: number): number {
    this.ensureOpen();
    if (this.#draining) {
      // The outer loop's position is in its locals until it returns: a nested loop would
      // deliver the record being handled again.
      throw new BpfError(`ring buffer '${this.name}': consume() called from inside a consume() handler`, { code: 'ERR_BPFMAP_REENTRANT', errno: 0, subject: { name: this.name } });
    }
    if (!(limit > 0)) return 0;
    this.#draining = true;
    const words = this.#words;
    const consumerWords = this.#consumerWords;
    const bytes = this.#bytes;
    const view = this.#view;
    const makeRecord = this.#makeRecord;
    const capacity = this.capacity;
    const dataStart = this.#dataStart;
    let position = this.#position;
    let offset = this.#offset;
    let positionLow = this.#positionLow;
    let delivered = 0;
    try {
      for (;;) {
        const producerPosition = this.#producerPosition();
        if (position >= producerPosition) return delivered;
        do {
          const headerAt = dataStart + offset;
          const header = PLAIN_LOAD_IS_ACQUIRE ? words[headerAt >>> 2]! : Atomics.load(words, headerAt >>> 2);
          if (header < 0) return delivered; // BUSY (bit 31): still being written, stop here
          const length = header & LENGTH_MASK;
          // ringbufRecordSpan(length), written out: through the call the warm drain measured
          // ~20% slower (57-60 vs 71 M records/s), so the hot loop keeps its own copy.
          const span = (length + RINGBUF_HEADER_SIZE + 7) & ~7;
          // Advance the locals before delivering: if the handler throws, `finally` publishes a
          // position past this record, which counts as delivered (once).
          position += span;
          offset += span;
          if (offset >= capacity) offset -= capacity;
          positionLow += span;
          if ((header & RINGBUF_DISCARD_BIT) === 0) {
            delivered++;
            if (viewHandler !== undefined) {
              view.moveTo(headerAt + RINGBUF_HEADER_SIZE, length);
              viewHandler(view);
            } else {
              handler!(makeRecord(bytes, headerAt + RINGBUF_HEADER_SIZE, length), undefined);
            }
          }
          // Give the record's space back now that the handler is done with it. See
          // "Storing consumer_pos" at the top of this file for why this store is enough.
          if (positionLow < TWO_POW_32) {
            if (PLAIN_STORE_IS_RELEASE) consumerWords[LOW_WORD] = positionLow;
            else Atomics.store(consumerWords, LOW_WORD, positionLow);
          } else {
            // The high word changes (once per 4 GiB): one 64-bit store, so no reader ever sees
            // half of it.
            positionLow -= TWO_POW_32;
            Atomics.store(this.#consumerPos64, 0, BigInt(position));
          }
          // close() from a handler: stop here; `finally` publishes and then unmaps.
          if (delivered >= limit || this.#releaseDeferred) return delivered;
        } while (position < producerPosition);
      }
    } finally {
      this.#draining = false;
      if (position !== this.#position) {
        this.#position = position;
        this.#offset = offset;
        // Publish with a sequentially consistent store (a full barrier): see "Storing
        // consumer_pos". A handler that threw may have left a wrapping low word unstored.
        if (positionLow >= TWO_POW_32) {
          positionLow -= TWO_POW_32;
          Atomics.store(this.#consumerPos64, 0, BigInt(position));
        } else {
          Atomics.store(consumerWords, LOW_WORD, positionLow);
        }
        this.#positionLow = positionLow;
      }
      if (this.#releaseDeferred) this.#unmap();
    }
  }

  /** Ring buffers can keep a record until the next is asked for: the async iterator does so by default. */
  protected override get defaultDelivery(): Delivery {
    return 'at-least-once';
  }

  protected override get canHold(): boolean {
    return true;
  }

  /**
   * At-least-once delivery (see `EventReader.records`): the next record, copied or decoded,
   * without giving its space back; `commitHeld()` does that. Discarded records before it are
   * given back at once. Undefined when no complete record is waiting.
   */
  protected override holdNext(): { data: T } | undefined {
    this.ensureOpen();
    const producerPosition = this.#producerPosition();
    while (this.#position < producerPosition) {
      const headerAt = this.#dataStart + this.#offset;
      const header = Atomics.load(this.#words, headerAt >>> 2);
      if (header < 0) return undefined; // BUSY: still being written
      const length = header & LENGTH_MASK;
      const span = (length + RINGBUF_HEADER_SIZE + 7) & ~7;
      if ((header & RINGBUF_DISCARD_BIT) !== 0) {
        this.#publish(span);
        continue;
      }
      const data = this.#makeRecord(this.#bytes, headerAt + RINGBUF_HEADER_SIZE, length);
      this.#heldAt = this.#position;
      this.#heldSpan = span;
      return { data };
    }
    return undefined;
  }

  /** Gives back the space of the record `holdNext()` handed out. */
  protected override commitHeld(): void {
    const heldAt = this.#heldAt;
    this.#heldAt = -1;
    // Nothing to do when closed, or when consume() has read past the record meanwhile.
    if (heldAt !== this.#position || this.closed) return;
    this.#publish(this.#heldSpan);
  }

  /** Moves consumer_pos `span` bytes on and stores it (a full barrier: the kernel may reuse the space). */
  #publish(span: number): void {
    this.#position += span;
    this.#offset = (this.#offset + span) % this.capacity;
    this.#positionLow = this.#position % TWO_POW_32;
    Atomics.store(this.#consumerPos64, 0, BigInt(this.#position));
  }

  /**
   * producer_pos as a number, without a BigInt: the high word, the low word, the high word
   * again, until both high words agree. Positions only grow, so equal high words mean the low
   * word was read while the high word held that value: the pair is a value producer_pos had.
   * The kernel stores producer_pos with release semantics after writing the record's header;
   * these sequentially consistent loads are (at least) the matching acquire.
   */
  #producerPosition(): number {
    const producerWords = this.#producerWords;
    let high = Atomics.load(producerWords, HIGH_WORD);
    for (;;) {
      const low = Atomics.load(producerWords, LOW_WORD);
      const highAgain = Atomics.load(producerWords, HIGH_WORD);
      if (highAgain === high) return high * TWO_POW_32 + low;
      high = highAgain;
    }
  }

  protected ensureOpen(): void {
    if (this.closed) {
      throw new BpfError(`ring buffer '${this.name}' is closed`, { code: 'ERR_BPFMAP_CLOSED', errno: 0 });
    }
  }

  protected release(): void {
    // From inside a handler: the consume loop still has to publish its position (or the record
    // being handled would be delivered again), so it unmaps when it ends.
    if (this.#draining) {
      this.#releaseDeferred = true;
      return;
    }
    this.#unmap();
  }

  #unmap(): void {
    this.#releaseDeferred = false;
    // Detaches every view before unmapping, so nothing can read unmapped memory.
    native.munmap(this.#producerMapping);
    native.munmap(this.#consumerMapping);
    this.#map.close();
    this.#unclaim();
  }
}

function mmapError(name: string, errno: number, what: string): BpfError {
  const error = BpfError.fromErrno('OBJ_GET_INFO_BY_FD', errno, { name }, `mmap of the ${what} failed`);
  return error;
}

