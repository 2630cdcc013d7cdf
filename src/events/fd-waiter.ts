/**
 * Waiting for an event fd to become readable (or writable): asynchronously through a libuv poll
 * handle, so the event loop keeps running, or synchronously through a private epoll fd.
 */
import { native, type NativeObject, type NativeWatcher } from '../sys/native.js';
import { BpfError, errnoName } from '../sys/errors.js';

/** How a wait ended. */
export type WaitResult = 'ready' | 'closed' | 'aborted' | 'timeout';

const EPOLLIN = 0x1;
const EPOLLOUT = 0x4;
const EPOLL_CTL_ADD = 1;

/** Turns a negative errno (or libuv error, which is also -errno on Linux) into a BpfError. */
function waitError(rc: number, what: string): BpfError {
  const code = errnoName(-rc);
  return new BpfError(`${what} failed: ${code}`, { code, errno: -rc });
}

/**
 * Waits on an fd. Internal to the event readers; they own the fds and close this waiter first.
 *
 * Asynchronous waits use one-shot libuv poll handles on `pollFd`, armed per wait, or, when
 * `latchedFds` are given (perf event fds, one per CPU), one persistent latched handle per fd
 * (see `watchFd` in native/bpf.c). A perf event's poll() reports a wakeup once and clears it,
 * and registering an fd with epoll polls it, so a wakeup that comes before the registration is
 * spent by it and never reported; after it, each wakeup is reported once, to the one handle
 * that stays registered, and the native side remembers it while no wait is armed. The records
 * of a wakeup spent before registration are found by looking at the buffers once the
 * registration is known to be done.
 *
 * Synchronous waits use a private epoll fd over `pollFd`, or, when `pollFd` is itself an epoll
 * fd whose members were added before any record could arrive (PerfBuffer's), `pollFd` directly:
 * adding it to another epoll would poll its members, spending their wakeups in the same way.
 *
 * One wait may be pending at a time; `close()` settles it with `'closed'`.
 */
export class FdWaiter {
  readonly #fd: NativeObject;
  readonly #latchedFds: readonly NativeObject[] | undefined;
  readonly #pollFdIsEpoll: boolean;
  #watchers: NativeWatcher[] | undefined;
  /** Pending until libuv has surely registered new latched handles with its epoll. */
  #registering: NodeJS.Immediate | undefined;
  /** The pending wait's look at the buffers. */
  #recheck: (() => boolean) | undefined;
  #pending: ((result: WaitResult) => void) | undefined;
  #epoll: NativeObject<'epoll'> | undefined;
  readonly #epollOut = new Uint32Array(1);
  /**
   * The handles' callback. The native side holds it weakly while no wait is armed (so a
   * forgotten watcher can be collected): this field keeps it alive as long as the waiter, or a
   * garbage collection between two waits would silently swallow the next readiness event and
   * leave the loop with nothing to wait for (Node then exits with status 13).
   */
  readonly #onReady = (): void => this.#settle('ready');
  #closed = false;

  /**
   * @param pollFd readable when records are waiting.
   * @param latchedFds perf event fds: async waits watch these, persistently, instead of `pollFd`.
   * @param pollFdIsEpoll `pollFd` is an epoll fd over fds that report wakeups once: wait on it.
   */
  constructor(pollFd: NativeObject, latchedFds?: readonly NativeObject[], pollFdIsEpoll = false) {
    this.#fd = pollFd;
    this.#latchedFds = latchedFds;
    this.#pollFdIsEpoll = pollFdIsEpoll;
  }

  /** Creates the poll handles on first use. */
  #ensureWatchers(): void {
    if (this.#watchers !== undefined) return;
    const latched = this.#latchedFds !== undefined;
    const fds = this.#latchedFds ?? [this.#fd];
    const watchers: NativeWatcher[] = [];
    for (const fd of fds) {
      // An error status also counts as ready: the reader re-checks its buffer and waits again.
      const watcher = native.watchFd(fd, this.#onReady, latched);
      if (typeof watcher === 'number') {
        for (const created of watchers) native.watchClose(created);
        throw waitError(watcher, 'watching the event fd');
      }
      watchers.push(watcher);
    }
    this.#watchers = watchers;
    if (latched) {
      // libuv registers new handles in a later poll phase: the next one, or the one after when
      // this runs inside an I/O callback. setImmediate callbacks run after a poll phase, and an
      // immediate queued from one runs in the next loop turn, so the second hop runs after the
      // registration. Then look for records whose wakeup the registration spent.
      this.#registering = setImmediate(() => {
        this.#registering = setImmediate(() => {
          this.#registering = undefined;
          if (this.#pending !== undefined && this.#recheck?.()) this.#settle('ready');
        });
      });
    }
  }

  /**
   * Resolves when the fd is ready, the waiter is closed, the signal aborts, or `timeoutMs`
   * passes (when given). The event loop runs meanwhile. `recheck` looks at the buffer itself:
   * it runs once the handles are armed (records that came before spent no wakeup on us), and,
   * while new latched handles are being registered, once more after that.
   */
  wait(
    options: { writable?: boolean; signal?: AbortSignal | undefined; timeoutMs?: number | undefined; recheck?: () => boolean } = {},
  ): Promise<WaitResult> {
    if (this.#closed) return Promise.resolve('closed');
    if (options.signal?.aborted) return Promise.resolve('aborted');
    if (this.#pending) return Promise.reject(new Error('bpfmap: only one wait at a time on an event reader'));
    try {
      this.#ensureWatchers();
    } catch (error) {
      return Promise.reject(error);
    }
    let latchedReady = false;
    for (const watcher of this.#watchers!) {
      const rc = native.watchStart(watcher, options.writable === true);
      if (rc === 1) latchedReady = true;
      else if (rc < 0) {
        this.#disarm();
        return Promise.reject(waitError(rc, 'polling the event fd'));
      }
    }
    return new Promise<WaitResult>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.#settle('aborted');
      this.#recheck = options.recheck;
      this.#pending = (result) => {
        if (timer !== undefined) clearTimeout(timer);
        this.#recheck = undefined;
        options.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs)) {
        timer = setTimeout(() => this.#settle('timeout'), Math.max(0, options.timeoutMs));
      }
      if (latchedReady || options.recheck?.()) this.#settle('ready');
    });
  }

  #disarm(): void {
    for (const watcher of this.#watchers ?? []) native.watchStop(watcher);
  }

  #settle(result: WaitResult): void {
    // A ready handle disarms itself natively, but the others (and the other endings) must be.
    this.#disarm();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(result);
  }

  /**
   * Blocks the thread until the fd is readable (or writable) or `timeoutMs` passes (negative:
   * forever). Returns true when ready.
   */
  waitSync(timeoutMs: number, writable = false): boolean {
    if (this.#closed) return false;
    if (this.#epoll === undefined && this.#pollFdIsEpoll) {
      if (writable) throw new Error('bpfmap: an epoll fd is waited on for readability only');
    } else if (this.#epoll === undefined) {
      const epoll = native.epollCreate();
      if (typeof epoll === 'number') throw waitError(epoll, 'epoll_create');
      const rc = native.epollCtl(epoll, EPOLL_CTL_ADD, this.#fd, writable ? EPOLLOUT : EPOLLIN, 0);
      if (rc < 0) {
        native.objClose(epoll);
        throw waitError(rc, 'epoll_ctl');
      }
      this.#epoll = epoll;
    }
    const epoll = this.#pollFdIsEpoll ? (this.#fd as NativeObject<'epoll'>) : (this.#epoll as NativeObject<'epoll'>);
    for (;;) {
      const n = native.epollWait(epoll, this.#epollOut, Math.trunc(timeoutMs));
      if (n >= 0) return n > 0;
      if (-n !== 4 /* EINTR */) throw waitError(n, 'epoll_wait');
    }
  }

  /** Settles a pending wait with `'closed'` and releases the poll handle and epoll fd. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const watcher of this.#watchers ?? []) native.watchClose(watcher);
    this.#watchers = undefined;
    if (this.#registering !== undefined) clearImmediate(this.#registering);
    this.#registering = undefined;
    if (this.#epoll !== undefined) native.objClose(this.#epoll);
    this.#epoll = undefined;
    this.#settle('closed');
  }
}
