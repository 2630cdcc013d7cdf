/**
 * `EventReader`: what ring buffers and perf buffers have in common — a synchronous `consume()`,
 * a blocking `poll()`, an async iterator that waits without blocking the event loop, and a
 * `close()` that ends every pending wait.
 */
import type { EventRecord } from './record.js';
import { FdWaiter, type WaitResult } from './fd-waiter.js';

/**
 * Receives one record; `cpu` is set for perf buffers, undefined for ring buffers; `time` is the
 * kernel's timestamp (ns, perf's clock) for perf buffers opened with `timestamps: true`.
 */
export type EventHandler<T> = (data: T, cpu: number | undefined, time?: bigint) => void;

/** Options of the async iterators. */
export interface IterateOptions {
  /** Ends the iteration (without an error) when aborted. */
  readonly signal?: AbortSignal;
  /** Ends the iteration after this many records. */
  readonly count?: number;
  /** Ends the iteration when no record arrives for this many milliseconds. */
  readonly idleTimeoutMs?: number;
}

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
  protected constructor(pollFd: number, latchedFds?: readonly number[]) {
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
   * `idleTimeoutMs` without a record. Records are consumed one at a time as they are yielded:
   * breaking out of the loop loses nothing.
   *
   * @example
   * for await (const { cpu, data } of reader.records({ signal })) console.log(cpu, data);
   */
  async *records(options: IterateOptions = {}): AsyncGenerator<EventRecord<T>, void, undefined> {
    const limit = options.count ?? Infinity;
    let delivered = 0;
    let next: EventRecord<T> | undefined;
    const take: EventHandler<T> = (data, cpu, time) => {
      next = cpu === undefined ? { data } : time === undefined ? { cpu, data } : { cpu, time, data };
    };
    while (delivered < limit && !this.#closed) {
      next = undefined;
      if (this.consume(take, 1) > 0 && next !== undefined) {
        delivered++;
        yield next;
        continue;
      }
      const result = await this.wait({ signal: options.signal, timeoutMs: options.idleTimeoutMs });
      if (result !== 'ready') return;
    }
  }

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
