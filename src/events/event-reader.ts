/**
 * `EventReader`: what ring buffers and perf buffers have in common — a synchronous `consume()`,
 * a blocking `poll()`, an async iterator that waits without blocking the event loop, and a
 * `close()` that ends every pending wait.
 */
import { show } from '../codec/codec.js';
import type { EventRecord } from './record.js';
import { FdWaiter, type WaitResult } from './fd-waiter.js';
import { argumentError } from '../sys/errors.js';
import type { NativeObject } from '../sys/native.js';

/**
 * Receives one record; `cpu` is set for perf buffers, undefined for ring buffers; `time` is the
 * kernel's timestamp (ns, perf's clock) for perf buffers opened with `timestamps: true`.
 */
export type EventHandler<T> = (data: T, cpu: number | undefined, time?: bigint) => void;

/** At most this long (ms) between event-loop turns while records keep coming without a wait. */
const LOOP_TURN_MS = 10;

/** Options of the async iterators. */
export interface IterateOptions {
  /** Ends the iteration (without an error) when aborted. */
  readonly signal?: AbortSignal;
  /** Ends the iteration after this many records. */
  readonly count?: number;
  /** Ends the iteration when no record arrives for this many milliseconds. */
  readonly idleTimeoutMs?: number;
  /**
   * When a yielded record counts as consumed (its space given back to the producer):
   * - `'at-least-once'` (ring buffers' default): when the loop asks for the next record, or
   *   leaves (break, return, throw). A loop abandoned while handling a record (never resumed)
   *   leaves it for the next loop or `consume()` on the reader, which gets it again; for ring
   *   buffers, a process that dies while handling a record leaves it for the next reader too.
   *   Handle records idempotently. Perf buffers offer it as well, but their buffers belong to
   *   the process that opened them: a process that dies takes every unread sample with it.
   * - `'at-most-once'` (perf buffers' default): as it is yielded. A consumer that dies while
   *   handling it loses it; nothing is ever delivered twice.
   */
  readonly delivery?: Delivery;
}

/** When the async iterator counts a record as consumed: see `IterateOptions.delivery`. */
export type Delivery = 'at-least-once' | 'at-most-once';

/** Base of `RingBuffer` and `PerfBuffer`. */
export abstract class EventReader<T> implements AsyncIterable<EventRecord<T>>, Disposable {
  readonly #waiter: FdWaiter;
  #closed = false;

  /**
   * @param pollFd the fd that turns readable when records are waiting.
   * @param latchedFds fds whose poll() reports readiness only once (perf events): async waits
   *   watch each of them with a persistent handle instead of watching `pollFd`, and `pollFd`
   *   is then an epoll fd over them, which blocking waits wait on directly.
   */
  protected constructor(pollFd: NativeObject, latchedFds?: readonly NativeObject[]) {
    this.#waiter = new FdWaiter(pollFd, latchedFds, latchedFds !== undefined);
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads every record available now, up to `limit`, and hands each to `handler`; never waits.
   * Each record is consumed (its space given back to the producer) once the handler returns,
   * or throws. Returns how many records were delivered.
   */
  abstract consume(handler: EventHandler<T>, limit?: number): number;

  /**
   * Waits up to `timeoutMs` (negative: forever) for records, blocking the thread, then consumes
   * what is there. Returns how many records were delivered (0 on timeout). For servers, prefer
   * the async iterator.
   */
  poll(timeoutMs: number, handler: EventHandler<T>, limit = Infinity): number {
    return this.pollWith(timeoutMs, () => this.consume(handler, limit));
  }

  /** poll()'s shape for any way of consuming: consume, else block until ready, then consume again. */
  protected pollWith(timeoutMs: number, consumeNow: () => number): number {
    this.ensureOpen();
    const delivered = consumeNow();
    if (delivered > 0 || !this.#waiter.waitSync(timeoutMs)) return delivered;
    return consumeNow();
  }

  /**
   * Yields records as they arrive, waiting on the fd through libuv between them, so timers and
   * I/O keep running. Ends on `close()`, on `signal`, after `count` records or after
   * `idleTimeoutMs` without a record. Records are consumed one at a time: ring buffers by
   * default when the next one is asked for (at-least-once: a process killed while handling a
   * record leaves it to the next reader), perf buffers by default as they are yielded
   * (at-most-once); see
   * `IterateOptions.delivery`. Breaking out of the loop loses nothing.
   *
   * @example
   * for await (const { cpu, data } of reader.records({ signal })) console.log(cpu, data);
   */
  async *records(options: IterateOptions = {}): AsyncGenerator<EventRecord<T>, void, undefined> {
    if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `records options must be an object, got ${options === null ? 'null' : typeof options}`);
    const delivery = options.delivery ?? this.defaultDelivery;
    if (delivery !== 'at-least-once' && delivery !== 'at-most-once') {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `delivery must be 'at-least-once' or 'at-most-once', got ${show(delivery)}`);
    }
    if (delivery === 'at-least-once') {
      if (!this.canHold) {
        throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `${this.constructor.name} delivers at most once: its records are consumed as they are read`);
      }
      yield* this.#recordsAtLeastOnce(options);
      return;
    }
    const limit = options.count ?? Infinity;
    let delivered = 0;
    let next: EventRecord<T> | undefined;
    const take: EventHandler<T> = (data, cpu, time) => {
      next = cpu === undefined ? { data } : time === undefined ? { cpu, data } : { cpu, time, data };
    };
    const signal = options.signal;
    let lastTurn = performance.now();
    while (delivered < limit && !this.#closed) {
      // Looked at before each record, not only while waiting: under a steady stream the loop
      // may never wait, and an abort must still end it at once.
      if (signal?.aborted) return;
      next = undefined;
      if (this.consume(take, 1) > 0 && next !== undefined) {
        delivered++;
        yield next;
        // Records that keep coming never let this loop wait, and yielding resumes through
        // microtasks only: give the event loop a turn now and then, so that signals (Ctrl-C
        // aborting `signal`), timers and I/O run while a busy stream is read.
        if (performance.now() - lastTurn >= LOOP_TURN_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastTurn = performance.now();
        }
        continue;
      }
      const result = await this.wait({ signal, timeoutMs: options.idleTimeoutMs });
      lastTurn = performance.now();
      if (result !== 'ready') return;
    }
  }

  /** The loop of `records()` for at-least-once delivery: a record is committed when the next is asked for. */
  async *#recordsAtLeastOnce(options: IterateOptions): AsyncGenerator<EventRecord<T>, void, undefined> {
    const limit = options.count ?? Infinity;
    let delivered = 0;
    let holding = false;
    const signal = options.signal;
    let lastTurn = performance.now();
    try {
      while (delivered < limit && !this.#closed) {
        if (holding) {
          holding = false;
          this.commitHeld();
        }
        // The abort and the loop's turns, as in records(): a busy stream must still stop at once.
        if (signal?.aborted) return;
        const record = this.holdNext();
        if (record !== undefined) {
          holding = true;
          delivered++;
          yield record;
          if (performance.now() - lastTurn >= LOOP_TURN_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            lastTurn = performance.now();
          }
          continue;
        }
        const result = await this.wait({ signal, timeoutMs: options.idleTimeoutMs });
        lastTurn = performance.now();
        if (result !== 'ready') return;
      }
    } finally {
      if (holding && !this.#closed) this.commitHeld();
    }
  }

  /** How `records()` delivers when not told: readers that implement `holdNext` say 'at-least-once'. */
  protected get defaultDelivery(): Delivery {
    return 'at-most-once';
  }

  /** True for readers that implement `holdNext` and `commitHeld` (at-least-once delivery). */
  protected get canHold(): boolean {
    return false;
  }

  /** At-least-once support: the next record, not yet consumed; undefined when none is waiting. */
  protected holdNext(): EventRecord<T> | undefined {
    return undefined;
  }

  /** At-least-once support: consumes the record `holdNext()` returned. */
  protected commitHeld(): void {}

  /**
   * Resolves once records may be waiting (`'ready'`: check with `consume()`), or with why the
   * wait ended (`'closed'`, `'aborted'`, `'timeout'`). Consumes nothing. One wait at a time.
   */
  wait(options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {}): Promise<WaitResult> {
    return this.#waiter.wait({ ...options, recheck: () => !this.closed && this.hasPending() });
  }

  /** True when records (or lost-sample reports) are waiting to be consumed; reads no record. */
  abstract hasPending(): boolean;

  /** `for await (const record of reader)`: `records()` with no options. */
  [Symbol.asyncIterator](): AsyncGenerator<EventRecord<T>, void, undefined> {
    return this.records();
  }

  /** Throws when the reader is closed. */
  protected abstract ensureOpen(): void;

  /** Releases the buffers; called once by `close()` after waiters have been woken. */
  protected abstract release(): void;

  /** Wakes any pending wait (its iterator ends), unmaps the buffers and closes the fds. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter.close();
    this.release();
  }

  /** `using reader = ...` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}
