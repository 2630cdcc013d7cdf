/**
 * Several readers of one ring buffer or perf event array in one process: one shared consumer per
 * map, fanning each record out to every subscriber.
 *
 * A ring buffer has one consumer position in the map's shared pages, so two `RingBuffer`s on a map
 * would each take records away from the other (this library refuses the second one); a perf event
 * array has one perf buffer per CPU slot, which a second `PerfBuffer` would replace. When several
 * parts of a process want the same events (two browser tabs on `bpfmap serve`'s event stream, a
 * logger and a metric), they subscribe here instead: the first subscription opens the one reader,
 * each record is handed to every subscriber's own queue, and the last one to leave closes it.
 *
 * Backpressure, per subscriber: a queue holds up to `maxQueued` records. With `whenFull: 'wait'`
 * (the default) the shared consumer stops reading while any waiting subscriber's queue is full, so
 * no subscriber loses a record; the records stay in the ring (or perf buffer), and when that fills
 * the program's writes fail there, as with any slow reader. A subscriber that cannot be allowed to
 * hold the others up takes `whenFull: 'drop'`: records that find its queue full are counted in
 * its `dropped` and not queued, and the others go on.
 *
 * Records are read at most once from the map (given to the queues as they are read): a process
 * that dies loses what its queues held. The record objects are shared by the subscribers: treat
 * them as read-only.
 */
import { argumentError } from '../sys/errors.js';
import type { EventReader } from './event-reader.js';
import type { EventRecord } from './record.js';

/** Options of `subscribeEvents`. */
export interface SubscribeOptions {
  /** Ends this subscription (its iterator finishes) when aborted. */
  readonly signal?: AbortSignal;
  /** Records this subscriber's queue holds at most (default 4096). */
  readonly maxQueued?: number;
  /** A full queue holds the shared consumer up (`'wait'`, default) or drops the record for this subscriber (`'drop'`). */
  readonly whenFull?: 'wait' | 'drop';
}

/** One subscriber's view of a shared event stream. */
export class EventSubscription<T> implements AsyncIterable<EventRecord<T>>, Disposable {
  /** Records that found this subscriber's queue full (`whenFull: 'drop'` only). */
  dropped = 0;
  /** Records given to this subscriber so far. */
  delivered = 0;
  readonly #queue: Array<EventRecord<T>> = [];
  readonly #shared: SharedConsumer<T>;
  readonly #signal: AbortSignal | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  #error: Error | undefined;

  /** @internal */
  constructor(shared: SharedConsumer<T>, readonly maxQueued: number, readonly whenFull: 'wait' | 'drop', signal: AbortSignal | undefined) {
    this.#shared = shared;
    this.#signal = signal;
    signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** True once closed (by `close()`, the signal, or the shared reader ending). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Records waiting in this subscriber's queue. */
  get queued(): number {
    return this.#queue.length;
  }

  /** @internal True when this subscriber holds the shared consumer up. */
  get full(): boolean {
    return this.whenFull === 'wait' && !this.#closed && this.#queue.length >= this.maxQueued;
  }

  /** @internal A record from the shared consumer. */
  offer(record: EventRecord<T>): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.maxQueued) {
      // 'wait' subscribers are never offered a record while full; 'drop' ones count it.
      this.dropped++;
      return;
    }
    this.#queue.push(record);
    this.#notify();
  }

  /** @internal The shared reader ended (closed, or failed with `error`). */
  end(error?: Error): void {
    this.#error ??= error;
    this.#closed = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * The records, in the order the shared consumer read them. Ends when this subscription is
   * closed (records still queued are yielded first only when the reader itself ended), and throws
   * the shared reader's error if it failed. Leaving the loop (break, return, throw) closes the
   * subscription: iterate once.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<EventRecord<T>, void, undefined> {
    try {
      for (;;) {
        const record = this.#queue.shift();
        if (record !== undefined) {
          this.delivered++;
          // Room again: the shared consumer may be waiting for it.
          this.#shared.drained();
          yield record;
          continue;
        }
        if (this.#error) throw this.#error;
        if (this.#closed || this.#signal?.aborted) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.close();
    }
  }

  /** Leaves the stream; the last subscriber to leave closes the shared reader. Idempotent. */
  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      this.#notify();
    }
    this.#shared.leave(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The one reader of a map in this process and its subscribers. */
class SharedConsumer<T> {
  readonly subscribers = new Set<EventSubscription<T>>();
  readonly #abort = new AbortController();
  #resume: (() => void) | undefined;
  #ended = false;

  constructor(readonly key: number, readonly reader: EventReader<T>) {}

  /** Reads records and hands each to every subscriber, pausing while a waiting one is full. */
  async pump(): Promise<void> {
    let failure: Error | undefined;
    try {
      for await (const record of this.reader.records({ signal: this.#abort.signal, delivery: 'at-most-once' })) {
        for (const subscriber of this.subscribers) subscriber.offer(record);
        while (!this.#abort.signal.aborted && [...this.subscribers].some((subscriber) => subscriber.full)) {
          await new Promise<void>((resolve) => (this.#resume = resolve));
        }
      }
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#shutDown(failure);
    }
  }

  /** A subscriber took a record: the pump may go on. */
  drained(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  leave(subscriber: EventSubscription<T>): void {
    if (!this.subscribers.delete(subscriber)) return;
    this.drained();
    if (this.subscribers.size === 0) {
      this.#abort.abort();
      this.#shutDown(undefined);
    }
  }

  #shutDown(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    if (shared.get(this.key) === this) shared.delete(this.key);
    this.#abort.abort();
    this.drained();
    this.reader.close();
    for (const subscriber of this.subscribers) subscriber.end(error);
  }
}

/** The shared consumers of this process, by map id. */
const shared = new Map<number, SharedConsumer<unknown>>();

/**
 * Subscribes to the records of map `mapId`, sharing one reader with every other subscriber of
 * that map in this process. `open` makes that reader when there is none yet (a `RingBuffer` or
 * `PerfBuffer` of the map); later subscribers get records in the shape the first one's reader
 * decodes them.
 *
 * @example
 * using events = subscribeEvents(map.id, () => RingBuffer.open(map));
 * for await (const { data } of events) console.log(data);
 */
export function subscribeEvents<T = Uint8Array>(mapId: number, open: () => EventReader<T>, options: SubscribeOptions = {}): EventSubscription<T> {
  if (!Number.isInteger(mapId) || mapId <= 0) throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `mapId must be a positive integer map id, got ${String(mapId)}`);
  const maxQueued = options.maxQueued ?? 4096;
  if (!Number.isInteger(maxQueued) || maxQueued < 1) throw argumentError(RangeError, 'ERR_BPFMAP_OPTION', `maxQueued must be a positive integer, got ${String(maxQueued)}`);
  const whenFull = options.whenFull ?? 'wait';
  if (whenFull !== 'wait' && whenFull !== 'drop') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `whenFull must be 'wait' or 'drop', got ${String(whenFull)}`);
  let consumer = shared.get(mapId) as SharedConsumer<T> | undefined;
  const fresh = consumer === undefined;
  if (consumer === undefined) {
    consumer = new SharedConsumer<T>(mapId, open());
    shared.set(mapId, consumer as SharedConsumer<unknown>);
  }
  const subscription = new EventSubscription<T>(consumer, maxQueued, whenFull, options.signal);
  consumer.subscribers.add(subscription);
  if (fresh) void consumer.pump();
  if (options.signal?.aborted) subscription.close();
  return subscription;
}

/** Subscribers of map `mapId`'s shared reader in this process (0: no shared reader). */
export function eventSubscribers(mapId: number): number {
  return shared.get(mapId)?.subscribers.size ?? 0;
}
