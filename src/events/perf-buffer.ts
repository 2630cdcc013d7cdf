/**
 * `PerfBuffer`: reads a BPF_MAP_TYPE_PERF_EVENT_ARRAY, the pre-ringbuf way programs send events
 * (`bpf_perf_event_output`).
 *
 * One perf event (PERF_COUNT_SW_BPF_OUTPUT) per CPU, each with its own mapped buffer, its fd
 * stored in the map under the CPU's index. Async waits watch each CPU's fd with a persistent
 * libuv poll handle; the blocking `poll()` waits on an epoll fd over all of them. Samples and lost-sample records are read per CPU and merged into one stream with
 * CPU numbers; lost counts are added up per CPU.
 *
 * Unlike ring buffers, perf buffers wrap in memory: a record crossing the end is copied out in
 * two parts. Records are always delivered as copies (or decoded from one).
 */
import { show } from '../codec/codec.js';
import { BpfError, argumentError } from '../sys/errors.js';
import { MapType } from '../sys/constants.js';
import { native, nativeObject, type NativeMapping, type NativeObject } from '../sys/native.js';
import { possibleCpus } from '../sys/cpus.js';
import { EventReader, type EventHandler } from './event-reader.js';
import { PERF_HEADER_SIZE, PerfMmapPage, PerfRecordType, pageSize } from './layout.js';
import { recordMaker, type DecodeOptions, type EventRecord } from './record.js';
import { openEventMap, type EventMapSource } from './source.js';

const ENODEV = 19;
const EPOLLIN = 0x1;
const EPOLL_CTL_ADD = 1;

/** Where one perf buffer goes: the CPU it reads, and the map index its fd is stored under. */
export interface PerfBufferPlacement {
  readonly cpu: number;
  readonly index: number;
}

/** Options of `PerfBuffer.open`. */
export interface PerfBufferOptions<T> extends DecodeOptions<T> {
  /** Data pages per CPU, a power of two (default 8). */
  readonly pagesPerCpu?: number;
  /**
   * Called when the kernel reports samples lost on a CPU because its buffer was full: how many,
   * and the id of the event that lost them.
   */
  readonly onLost?: (cpu: number, lost: number, id: bigint) => void;
  /** Samples per wakeup of a waiting reader (default 1). */
  readonly wakeupEvents?: number;
  /**
   * Ask the kernel to stamp each sample with its time (PERF_SAMPLE_TIME, ns of perf's clock),
   * handed to handlers as their third argument and to iterators as `time` (default false).
   */
  readonly timestamps?: boolean;
  /**
   * Which CPUs get a buffer, and under which map index each one's fd is stored (bpftool's
   * `event_pipe ... cpu N index M`). Default: every online CPU, at the index of its number.
   */
  readonly buffers?: readonly PerfBufferPlacement[];
}

/** One CPU's perf event and its mapped buffer. */
interface CpuBuffer {
  readonly cpu: number;
  /** The map index its fd is stored under. */
  readonly index: number;
  /** The perf event (the addon owns its fd). */
  readonly event: NativeObject<'perfEvent'>;
  readonly mapping: NativeMapping;
  readonly meta: BigInt64Array;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly dataOffset: number;
  readonly dataSize: number;
}

/**
 * Reads the samples BPF programs send through a perf event array, from every CPU.
 *
 * @example
 * using events = PerfBuffer.open('/sys/fs/bpf/events', { onLost: (cpu, n) => console.warn(cpu, n) });
 * for await (const { cpu, data } of events) console.log(cpu, data);
 */
export class PerfBuffer<T = Uint8Array> extends EventReader<T> {
  /** The map's name. */
  readonly name: string;
  /** The CPUs this reader has a buffer on. */
  readonly cpus: readonly number[];
  /** The map index of each buffer's fd, in the order of `cpus`. */
  readonly indexes: readonly number[];
  /** Samples lost per CPU (index = CPU number) since the reader was opened. */
  readonly lostByCpu: number[];

  readonly #map: ReturnType<typeof openEventMap>;
  readonly #buffers: CpuBuffer[];
  readonly #epoll: NativeObject<'epoll'>;
  readonly #makeRecord: (bytes: Uint8Array, offset: number, length: number) => T;
  readonly #onLost: ((cpu: number, lost: number, id: bigint) => void) | undefined;
  /** Bytes before a sample's raw size: the header, and the time when samples carry one. */
  readonly #rawSizeAt: number;
  readonly #timestamps: boolean;
  /** Where the next read starts, so one busy CPU cannot starve the others. */
  #nextBuffer = 0;
  /** True while a consume loop runs: close() from a handler then waits for it to store its tails. */
  #draining = false;
  /** close() was called during a consume loop; the loop releases when it ends. */
  #releaseDeferred = false;
  /**
   * The sample `holdNext()` handed out and `commitHeld()` gives back (at-least-once): its buffer
   * (undefined: none), and the tail before and after it.
   */
  #heldBuffer: CpuBuffer | undefined;
  #heldFrom = 0;
  #heldTo = 0;

  private constructor(map: ReturnType<typeof openEventMap>, epoll: NativeObject<'epoll'>, buffers: CpuBuffer[], options: PerfBufferOptions<T>) {
    // Async waits watch every CPU's fd with its own persistent handle (a perf event's poll()
    // reports readiness once, so a nested epoll or a re-registered handle can spend a wakeup);
    // the epoll fd over all CPUs serves the blocking `poll()`.
    super(epoll, buffers.map((buffer) => buffer.event));
    this.#map = map;
    this.name = map.name;
    this.#epoll = epoll;
    this.#buffers = buffers;
    this.cpus = buffers.map((buffer) => buffer.cpu);
    this.indexes = buffers.map((buffer) => buffer.index);
    this.#timestamps = options.timestamps === true;
    this.#rawSizeAt = PERF_HEADER_SIZE + (this.#timestamps ? 8 : 0);
    this.lostByCpu = new Array<number>(possibleCpus()).fill(0);
    this.#makeRecord = recordMaker(options.decode);
    this.#onLost = options.onLost;
  }

  /**
   * Opens a perf buffer on every online CPU (up to the map's max_entries) and stores the fds in
   * the map. Closing the reader removes them again.
   * @throws TypeError when the map is not a perf_event_array; RangeError for bad options;
   *   BpfError when perf_event_open or mmap fails.
   */
  static open<T = Uint8Array>(source: EventMapSource, options: PerfBufferOptions<T> = {}): PerfBuffer<T> {
    const pages = options.pagesPerCpu ?? 8;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
      throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `pagesPerCpu must be a power of two, got ${show(pages)}`);
    }
    const wakeupEvents = options.wakeupEvents ?? 1;
    if (!Number.isInteger(wakeupEvents) || wakeupEvents < 1) {
      throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `wakeupEvents must be a positive integer, got ${show(wakeupEvents)}`);
    }
    const timestamps = options.timestamps ?? false;
    if (typeof timestamps !== 'boolean') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `timestamps must be a boolean, got ${typeof timestamps}`);
    const map = openEventMap(source, MapType.perf_event_array, 'PerfBuffer');
    let placements: readonly PerfBufferPlacement[];
    try {
      placements = options.buffers === undefined ? defaultPlacements(map.maxEntries) : checkPlacements(options.buffers, map.maxEntries);
    } catch (error) {
      map.close();
      throw error;
    }
    const buffers: CpuBuffer[] = [];
    let epoll: NativeObject<'epoll'> | undefined;
    try {
      const created = native.epollCreate();
      if (typeof created === 'number') throw BpfError.fromErrno('OBJ_GET_INFO_BY_FD', -created, { name: map.name }, 'epoll_create failed');
      epoll = created;
      const page = pageSize();
      for (const { cpu, index } of placements) {
        const event = native.perfEventOpen(cpu, wakeupEvents, timestamps);
        // An offline CPU: nothing can run there. Skipped by default, an error when asked for.
        if (event === -ENODEV && options.buffers === undefined) continue;
        if (typeof event === 'number') throw perfError(-event, `perf_event_open(PERF_COUNT_SW_BPF_OUTPUT) on CPU ${cpu} failed`);
        const mapping = native.mmap(event, page * (1 + pages), true, 0);
        if (typeof mapping === 'number') {
          native.objClose(event);
          throw perfError(-mapping, `mmap of ${1 + pages} pages for CPU ${cpu} failed (perf_event_mlock_kb?)`);
        }
        const meta = new BigInt64Array(mapping.buffer, 0, page / 8);
        const view = new DataView(mapping.buffer);
        const dataOffset = Number(view.getBigUint64(PerfMmapPage.dataOffset, true)) || page;
        const dataSize = Number(view.getBigUint64(PerfMmapPage.dataSize, true)) || page * pages;
        buffers.push({ cpu, index, event, mapping, meta, bytes: new Uint8Array(mapping.buffer), view, dataOffset, dataSize });
        let rc = native.perfEventEnable(event);
        if (rc < 0) throw perfError(-rc, `enabling the perf event on CPU ${cpu} failed`);
        rc = native.epollCtl(epoll, EPOLL_CTL_ADD, event, EPOLLIN, buffers.length - 1);
        if (rc < 0) throw perfError(-rc, 'epoll_ctl failed');
        // The addon writes the event's private fd: no fd number passes through JavaScript.
        map.setFd(new Uint8Array(new Uint32Array([index]).buffer), { [nativeObject]: event });
      }
      return new PerfBuffer<T>(map, epoll, buffers, options);
    } catch (error) {
      releaseBuffers(map, buffers);
      if (epoll !== undefined) native.objClose(epoll);
      map.close();
      throw error;
    }
  }

  /** Samples lost on all CPUs since the reader was opened. */
  get lost(): number {
    return this.lostByCpu.reduce((sum, lost) => sum + lost, 0);
  }

  /** {@inheritDoc EventReader.hasPending} */
  hasPending(): boolean {
    this.ensureOpen();
    return this.#buffers.some(
      ({ meta }) => Atomics.load(meta, PerfMmapPage.dataHead / 8) !== meta[PerfMmapPage.dataTail / 8],
    );
  }

  /**
   * {@inheritDoc EventReader.consume} Lost-sample records update `lostByCpu` and call `onLost`.
   * A handler (or `onLost`) may `close()` the reader: the loop stops after it, stores how far it
   * read, then releases the buffers. Calling `consume()` from inside a handler is
   * `ERR_BPFMAP_REENTRANT` (the outer loop's positions are not stored yet: the record being
   * handled would be delivered again).
   */
  consume(handler: EventHandler<T>, limit = Infinity): number {
    this.ensureOpen();
    if (this.#draining) {
      throw new BpfError(`perf buffer '${this.name}': consume() called from inside a consume() handler`, { code: 'ERR_BPFMAP_REENTRANT', errno: 0, subject: { name: this.name } });
    }
    let delivered = 0;
    const count = this.#buffers.length;
    this.#draining = true;
    try {
      for (let step = 0; step < count && delivered < limit && !this.#releaseDeferred; step++) {
        const index = (this.#nextBuffer + step) % count;
        delivered += this.#drainCpu(this.#buffers[index]!, handler, limit - delivered);
        if (delivered >= limit) this.#nextBuffer = (index + 1) % count;
      }
    } finally {
      this.#draining = false;
      if (this.#releaseDeferred) this.#releaseNow();
    }
    return delivered;
  }

  /** Reads one CPU's records from data_tail to data_head, then publishes the new tail. */
  #drainCpu(buffer: CpuBuffer, handler: EventHandler<T>, limit: number): number {
    const { meta, view, bytes, dataOffset, dataSize, cpu } = buffer;
    const head = Number(BigInt.asUintN(64, Atomics.load(meta, PerfMmapPage.dataHead / 8)));
    let tail = Number(BigInt.asUintN(64, meta[PerfMmapPage.dataTail / 8]!));
    let delivered = 0;
    try {
      while (tail < head && delivered < limit) {
        const at = tail % dataSize;
        // Headers are 8-byte aligned in a buffer whose size is a multiple of 8: never split.
        const type = view.getUint32(dataOffset + at, true);
        const size = view.getUint16(dataOffset + at + 6, true);
        if (size < PERF_HEADER_SIZE) break; // malformed: stop rather than loop forever
        const record = copyOut(bytes, dataOffset, dataSize, at, size);
        const fields = new DataView(record.buffer, record.byteOffset, record.byteLength);
        tail += size;
        const rawSizeAt = this.#rawSizeAt;
        if (type === PerfRecordType.sample && size >= rawSizeAt + 4) {
          // PERF_SAMPLE_TIME comes before PERF_SAMPLE_RAW in a sample (the order of the bits).
          const time = this.#timestamps ? fields.getBigUint64(PERF_HEADER_SIZE, true) : undefined;
          const rawSize = Math.min(fields.getUint32(rawSizeAt, true), size - rawSizeAt - 4);
          delivered++;
          handler(this.#makeRecord(record, rawSizeAt + 4, rawSize), cpu, time);
        } else if (type === PerfRecordType.lost) {
          this.#countLost(cpu, fields, size);
        }
        // close() from a handler: stop here; `finally` stores the tail, consume() releases.
        if (this.#releaseDeferred) break;
      }
    } finally {
      // Release store: the kernel may reuse everything before the new tail.
      Atomics.store(meta, PerfMmapPage.dataTail / 8, BigInt(tail));
    }
    return delivered;
  }

  /** A PERF_RECORD_LOST record: adds its count to `lostByCpu` and tells `onLost`. */
  #countLost(cpu: number, fields: DataView, size: number): void {
    if (size < PERF_HEADER_SIZE + 16) return;
    const id = fields.getBigUint64(PERF_HEADER_SIZE, true);
    const lost = Number(fields.getBigUint64(PERF_HEADER_SIZE + 8, true));
    this.lostByCpu[cpu] = (this.lostByCpu[cpu] ?? 0) + lost;
    this.#onLost?.(cpu, lost, id);
  }

  /** Perf buffers can keep a sample until the next is asked for, when `records({ delivery: 'at-least-once' })` asks. */
  protected override get canHold(): boolean {
    return true;
  }

  /**
   * At-least-once delivery (see `EventReader.records`): the next sample of any CPU (round robin,
   * as `consume()`), copied or decoded, without moving that CPU's tail past it; `commitHeld()`
   * does that. Lost-sample records before it are counted and consumed at once.
   */
  protected override holdNext(): EventRecord<T> | undefined {
    this.ensureOpen();
    const count = this.#buffers.length;
    for (let step = 0; step < count; step++) {
      const index = (this.#nextBuffer + step) % count;
      const record = this.#holdIn(this.#buffers[index]!);
      if (this.closed) return undefined; // onLost closed the reader
      if (record !== undefined) {
        this.#nextBuffer = (index + 1) % count;
        return record;
      }
    }
    return undefined;
  }

  #holdIn(buffer: CpuBuffer): EventRecord<T> | undefined {
    const { meta, view, bytes, dataOffset, dataSize, cpu } = buffer;
    const head = Number(BigInt.asUintN(64, Atomics.load(meta, PerfMmapPage.dataHead / 8)));
    let tail = Number(BigInt.asUintN(64, meta[PerfMmapPage.dataTail / 8]!));
    while (tail < head) {
      const at = tail % dataSize;
      const type = view.getUint32(dataOffset + at, true);
      const size = view.getUint16(dataOffset + at + 6, true);
      if (size < PERF_HEADER_SIZE) return undefined; // malformed: as consume(), stop here
      const record = copyOut(bytes, dataOffset, dataSize, at, size);
      const fields = new DataView(record.buffer, record.byteOffset, record.byteLength);
      const rawSizeAt = this.#rawSizeAt;
      if (type === PerfRecordType.sample && size >= rawSizeAt + 4) {
        const rawSize = Math.min(fields.getUint32(rawSizeAt, true), size - rawSizeAt - 4);
        const data = this.#makeRecord(record, rawSizeAt + 4, rawSize);
        this.#heldBuffer = buffer;
        this.#heldFrom = tail;
        this.#heldTo = tail + size;
        return this.#timestamps ? { cpu, time: fields.getBigUint64(PERF_HEADER_SIZE, true), data } : { cpu, data };
      }
      tail += size;
      Atomics.store(meta, PerfMmapPage.dataTail / 8, BigInt(tail));
      if (type === PerfRecordType.lost) {
        this.#countLost(cpu, fields, size);
        if (this.closed) return undefined;
      }
    }
    return undefined;
  }

  /** Gives back the space of the sample `holdNext()` handed out. */
  protected override commitHeld(): void {
    const buffer = this.#heldBuffer;
    this.#heldBuffer = undefined;
    if (buffer === undefined || this.closed) return;
    // Nothing to do when consume() has read past the sample meanwhile.
    if (Number(BigInt.asUintN(64, buffer.meta[PerfMmapPage.dataTail / 8]!)) !== this.#heldFrom) return;
    Atomics.store(buffer.meta, PerfMmapPage.dataTail / 8, BigInt(this.#heldTo));
  }

  protected ensureOpen(): void {
    if (this.closed) throw new BpfError(`perf buffer '${this.name}' is closed`, { code: 'ERR_BPFMAP_CLOSED', errno: 0 });
  }

  protected release(): void {
    // From inside a handler: the consume loop still has to store its tails (unmapping now would
    // make its next read a detached-buffer TypeError), so it releases when it ends.
    if (this.#draining) {
      this.#releaseDeferred = true;
      return;
    }
    this.#releaseNow();
  }

  #releaseNow(): void {
    this.#releaseDeferred = false;
    this.#heldBuffer = undefined;
    releaseBuffers(this.#map, this.#buffers);
    native.objClose(this.#epoll);
    this.#map.close();
  }
}

/** Copies `size` bytes at `at` out of a wrapping data area. */
function copyOut(bytes: Uint8Array, dataOffset: number, dataSize: number, at: number, size: number): Uint8Array {
  if (at + size <= dataSize) return bytes.slice(dataOffset + at, dataOffset + at + size);
  const record = new Uint8Array(size);
  const firstPart = dataSize - at;
  record.set(bytes.subarray(dataOffset + at, dataOffset + dataSize), 0);
  record.set(bytes.subarray(dataOffset, dataOffset + size - firstPart), firstPart);
  return record;
}

/** Removes the fds from the map (so programs stop writing to dead buffers), unmaps, closes. */
function releaseBuffers(map: ReturnType<typeof openEventMap>, buffers: readonly CpuBuffer[]): void {
  for (const buffer of buffers) {
    try {
      if (!map.closed) map.delete(new Uint8Array(new Uint32Array([buffer.index]).buffer));
    } catch {
      // Already gone, or the map is read-only: closing the fd detaches the event anyway.
    }
    native.munmap(buffer.mapping);
    native.objClose(buffer.event);
  }
}

/** Every CPU the map has a slot for, each at the index of its number. */
function defaultPlacements(maxEntries: number): PerfBufferPlacement[] {
  const count = Math.min(possibleCpus(), maxEntries);
  return Array.from({ length: count }, (_, cpu) => ({ cpu, index: cpu }));
}

/** Checks `buffers`: possible CPUs and map indexes, each used once. */
function checkPlacements(
  buffers: readonly PerfBufferPlacement[],
  maxEntries: number,
): readonly PerfBufferPlacement[] {
  if (!Array.isArray(buffers) || buffers.length === 0) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', 'buffers must be a non-empty array of { cpu, index }');
  }
  const cpus = new Set<number>();
  const indexes = new Set<number>();
  for (const { cpu, index } of buffers) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= possibleCpus()) {
      throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `buffers: cpu must be an integer from 0 to ${possibleCpus() - 1}, got ${show(cpu)}`);
    }
    if (!Number.isInteger(index) || index < 0 || index >= maxEntries) {
      throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `buffers: index must be an integer from 0 to ${maxEntries - 1} (the map's max_entries), got ${show(index)}`);
    }
    if (cpus.has(cpu)) throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `buffers: cpu ${cpu} is listed twice`);
    if (indexes.has(index)) throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `buffers: index ${index} is listed twice`);
    cpus.add(cpu);
    indexes.add(index);
  }
  return buffers;
}

function perfError(errno: number, what: string): BpfError {
  return BpfError.fromErrno('OBJ_GET_INFO_BY_FD', errno, undefined, what);
}
