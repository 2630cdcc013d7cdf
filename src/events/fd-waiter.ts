/**
 * Waiting for an event fd to become readable (or writable): asynchronously through a libuv poll
 * handle, so the event loop keeps running, or synchronously through a private epoll fd.
 */
import { native, type NativeWatcher } from '../sys/native.js';
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
 * Waits on one fd. Internal to the event readers; they own the fd and close this waiter first.
 *
 * One wait may be pending at a time per direction; `close()` settles it with `'closed'`.
 */
export class FdWaiter {
  readonly #fd: number;
  #watcher: NativeWatcher | undefined;
  #pending: ((result: WaitResult) => void) | undefined;
  #epollFd = -1;
  readonly #epollOut = new Uint32Array(1);
  #closed = false;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * Resolves when the fd is ready, the waiter is closed, the signal aborts, or `timeoutMs`
   * passes (when given). The event loop runs meanwhile.
   */
  wait(
    options: { writable?: boolean; signal?: AbortSignal | undefined; timeoutMs?: number | undefined; recheck?: () => boolean; recheckIntervalMs?: number } = {},
  ): Promise<WaitResult> {
    if (this.#closed) return Promise.resolve('closed');
    if (options.signal?.aborted) return Promise.resolve('aborted');
    if (this.#pending) return Promise.reject(new Error('bpfmap: only one wait at a time on an event reader'));
    if (this.#watcher === undefined) {
      // An error status also counts as ready: the reader re-checks its buffer and waits again.
      const watcher = native.watchFd(this.#fd, () => this.#settle('ready'));
      if (typeof watcher === 'number') return Promise.reject(waitError(watcher, 'watching the event fd'));
      this.#watcher = watcher;
    }
    const rc = native.watchStart(this.#watcher, options.writable === true);
    if (rc < 0) return Promise.reject(waitError(rc, 'polling the event fd'));
    return new Promise<WaitResult>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let recheckTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.#settle('aborted');
      this.#pending = (result) => {
        if (timer !== undefined) clearTimeout(timer);
        if (recheckTimer !== undefined) clearInterval(recheckTimer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs)) {
        timer = setTimeout(() => this.#settle('timeout'), Math.max(0, options.timeoutMs));
      }
      // Records that arrived before the fd was armed may have spent their wakeup already (a
      // perf event's poll clears its flag when asked), so look once more now that it is armed.
      if (options.recheck?.()) this.#settle('ready');
      else if (options.recheck && options.recheckIntervalMs !== undefined) {
        // Safety net for fds whose wakeups can be lost (see PerfBuffer): look again now and then.
        const recheck = options.recheck;
        recheckTimer = setInterval(() => recheck() && this.#settle('ready'), options.recheckIntervalMs);
      }
    });
  }

  #settle(result: WaitResult): void {
    // A ready fd disarms itself natively, but the other endings (and a recheck) must disarm it.
    if (this.#watcher !== undefined) native.watchStop(this.#watcher);
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
    if (this.#epollFd < 0) {
      const epollFd = native.epollCreate();
      if (epollFd < 0) throw waitError(epollFd, 'epoll_create');
      const rc = native.epollCtl(epollFd, EPOLL_CTL_ADD, this.#fd, writable ? EPOLLOUT : EPOLLIN, 0);
      if (rc < 0) {
        native.closeFd(epollFd);
        throw waitError(rc, 'epoll_ctl');
      }
      this.#epollFd = epollFd;
    }
    for (;;) {
      const n = native.epollWait(this.#epollFd, this.#epollOut, Math.trunc(timeoutMs));
      if (n >= 0) return n > 0;
      if (-n !== 4 /* EINTR */) throw waitError(n, 'epoll_wait');
    }
  }

  /** Settles a pending wait with `'closed'` and releases the poll handle and epoll fd. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#watcher !== undefined) native.watchClose(this.#watcher);
    this.#watcher = undefined;
    if (this.#epollFd >= 0) native.closeFd(this.#epollFd);
    this.#epollFd = -1;
    this.#settle('closed');
  }
}
