/**
 * `RingBuffer`: the consumer side of a BPF_MAP_TYPE_RINGBUF map.
 *
 * The consumer page is mapped read-write, the producer page and the (twice-mapped) data area
 * read-only. Records are read in order from the consumer position; a record whose BUSY bit is
 * set is still being written, so reading stops there until later; DISCARD records are skipped.
 * The consumer position is stored after every record, so a record is never read twice and the
 * producer gets its space back as soon as possible.
 *
 * Memory ordering: positions and headers are read with `Atomics.load` and the consumer position
 * written with `Atomics.store`; both are sequentially consistent, which is at least the
 * acquire/release pairing the kernel's producer expects.
 */
import { BpfError } from '../sys/errors.js';
import { MapType } from '../sys/constants.js';
import { native, type NativeMapping } from '../sys/native.js';
import { EventReader, type EventHandler } from './event-reader.js';
import { RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RINGBUF_HEADER_SIZE, TWO_POW_32, pageSize } from './layout.js';
import { RecordView, recordMaker, type DecodeOptions } from './record.js';
import { openEventMap, type EventMapSource } from './source.js';

/** Options of `RingBuffer.open`. */
export type RingBufferOptions<T> = DecodeOptions<T>;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
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
  /** consumer_pos as one u64 and as two u32 words (the low word is stored alone when it suffices). */
  readonly #consumerPos64: BigInt64Array;
  readonly #consumerPos32: Int32Array;
  readonly #producerPos64: BigInt64Array;
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

  private constructor(map: ReturnType<typeof openEventMap>, options: RingBufferOptions<T>) {
    super(map.fd);
    this.#map = map;
    this.name = map.name;
    this.capacity = map.maxEntries;
    this.#makeRecord = recordMaker(options.decode);
    const page = pageSize();
    const consumer = native.mmap(map.fd, page, true, 0);
    if (typeof consumer === 'number') throw mmapError(map.name, -consumer, 'consumer page (read-write)');
    const producer = native.mmap(map.fd, page + 2 * this.capacity, false, page);
    if (typeof producer === 'number') {
      native.munmap(consumer);
      throw mmapError(map.name, -producer, 'producer page and data area (read-only)');
    }
    this.#consumerMapping = consumer;
    this.#producerMapping = producer;
    this.#consumerPos64 = new BigInt64Array(consumer.buffer, 0, 1);
    this.#consumerPos32 = new Int32Array(consumer.buffer, 0, 2);
    this.#producerPos64 = new BigInt64Array(producer.buffer, 0, 1);
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
   * committed since the last consumer stopped.
   * @throws TypeError when the map is not a ringbuf; BpfError when it cannot be mapped.
   */
  static open<T = Uint8Array>(source: EventMapSource, options: RingBufferOptions<T> = {}): RingBuffer<T> {
    const map = openEventMap(source, MapType.ringbuf, 'RingBuffer');
    try {
      return new RingBuffer<T>(map, options);
    } catch (error) {
      map.close();
      throw error;
    }
  }

  /** Bytes written by the producer and not yet consumed (including headers and busy records). */
  get pendingBytes(): number {
    this.ensureOpen();
    return Number(BigInt.asUintN(64, Atomics.load(this.#producerPos64, 0))) - this.#position;
  }

  /** {@inheritDoc EventReader.hasPending} */
  hasPending(): boolean {
    return this.pendingBytes > 0;
  }

  /** {@inheritDoc EventReader.consume} */
  consume(handler: EventHandler<T>, limit = Infinity): number {
    const bytes = this.#bytes;
    const makeRecord = this.#makeRecord;
    return this.#drain((offset, length) => handler(makeRecord(bytes, offset, length), undefined), limit);
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
    const view = this.#view;
    return this.#drain((offset, length) => {
      view.moveTo(offset, length);
      handler(view);
    }, limit);
  }

  /**
   * The consumer loop (libbpf's ringbuf_process_ring): read the producer position, deliver
   * committed records up to it, store the consumer position after each, and look again until
   * the producer has nothing new or a record is still busy. Positions live in locals on the hot
   * path and are written back on the way out, also when a handler throws.
   */
  #drain(deliver: (offset: number, length: number) => void, limit: number): number {
    this.ensureOpen();
    if (!(limit > 0)) return 0;
    const words = this.#words;
    const consumerPos32 = this.#consumerPos32;
    const capacity = this.capacity;
    const dataStart = this.#dataStart;
    let position = this.#position;
    let offset = this.#offset;
    let positionLow = this.#positionLow;
    let delivered = 0;
    let foundNew = true;
    try {
      while (foundNew) {
        foundNew = false;
        const producerPosition = Number(BigInt.asUintN(64, Atomics.load(this.#producerPos64, 0)));
        while (position < producerPosition) {
          const headerAt = dataStart + offset;
          const header = Atomics.load(words, headerAt >> 2);
          if (header < 0) return delivered; // BUSY (bit 31): still being written
          foundNew = true;
          const length = header & LENGTH_MASK;
          const span = (length + RINGBUF_HEADER_SIZE + 7) & ~7;
          // Advance first (in locals): if the handler throws, the finally block stores a
          // position past this record, which was delivered once.
          position += span;
          offset += span;
          if (offset >= capacity) offset -= capacity;
          positionLow += span;
          if ((header & RINGBUF_DISCARD_BIT) === 0) {
            delivered++;
            deliver(headerAt + RINGBUF_HEADER_SIZE, length);
          }
          if (positionLow < TWO_POW_32 && LITTLE_ENDIAN) {
            // Only the low word changed: one 32-bit store is atomic and cheaper than a BigInt.
            Atomics.store(consumerPos32, 0, positionLow | 0);
          } else {
            positionLow %= TWO_POW_32;
            Atomics.store(this.#consumerPos64, 0, BigInt(position));
          }
          if (delivered >= limit) return delivered;
        }
      }
      return delivered;
    } finally {
      if (position !== this.#position) {
        this.#position = position;
        this.#offset = offset;
        this.#positionLow = positionLow % TWO_POW_32;
        Atomics.store(this.#consumerPos64, 0, BigInt(position));
      }
    }
  }

  protected ensureOpen(): void {
    if (this.closed) {
      throw new BpfError(`ring buffer '${this.name}' is closed`, { code: 'ERR_BPFMAP_CLOSED', errno: 0 });
    }
  }

  protected release(): void {
    // Detaches every view before unmapping, so nothing can read unmapped memory.
    native.munmap(this.#producerMapping);
    native.munmap(this.#consumerMapping);
    this.#map.close();
  }
}

function mmapError(name: string, errno: number, what: string): BpfError {
  const error = BpfError.fromErrno('OBJ_GET_INFO_BY_FD', errno, { name }, `mmap of the ${what} failed`);
  return error;
}

