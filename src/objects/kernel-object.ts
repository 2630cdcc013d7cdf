/**
 * `KernelObject`: what a loaded program and a link share — an addon handle that owns the object's
 * private fd, a public fd for other tools, a pin on bpffs, and closing. `BpfProgram` and `Link`
 * extend it and say, in their own words, what failed (`closedError`, `pinError`, `fdError`).
 *
 * `BpfMap` does not: its handle also carries the staging area its element operations use, and
 * its fd, pin and close go through that (src/map/map-core.ts).
 */
import { unlinkSync } from 'node:fs';
import { native, type NativeObject } from '../sys/native.js';
import { argumentError, type BpfError } from '../sys/errors.js';

/** A kernel object (program, link) this process holds through an addon handle. */
export abstract class KernelObject<Kind extends 'prog' | 'link'> implements Disposable {
  /** The addon's handle: it owns the object's private fd (closed when collected, too). */
  readonly #handle: NativeObject<Kind>;
  #pinnedPath: string | undefined;
  #closed = false;

  /** Takes ownership of `handle`; `pinnedPath` is the pin it was opened from, if any. */
  protected constructor(handle: NativeObject<Kind>, pinnedPath: string | undefined) {
    this.#handle = handle;
    this.#pinnedPath = pinnedPath;
  }

  /** The error of a call on this object after `close()` (code EBADF). */
  protected abstract closedError(): BpfError;
  /** The error of a failed OBJ_PIN at `path`. */
  protected abstract pinError(errno: number, path: string): BpfError;
  /** The error when no public fd can be made. */
  protected abstract fdError(errno: number): BpfError;

  /** @internal The addon's handle, for other addon calls (attach, prog_array updates, iterators). Throws once closed. */
  get handle(): NativeObject<Kind> {
    this.ensureOpen();
    return this.#handle;
  }

  /** The handle even after `close()`, for callers that check it themselves (`nativeObject`). */
  protected get ownedHandle(): NativeObject<Kind> {
    return this.#handle;
  }

  /** A file descriptor number for other tools: a duplicate this object owns, valid until `close()`. */
  get fd(): number {
    this.ensureOpen();
    const fd = native.objPublicFd(this.#handle);
    if (fd < 0) throw this.fdError(-fd);
    return fd;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The path this object pinned it at (or opened it from), until `unpin()`. */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  /**
   * Pins the object on bpffs at `path`: the pin keeps it (a program loaded, a link attached) after
   * this object is closed and this process exits, until the pin is removed (`unpin()` or `rm`).
   * @throws BpfError EEXIST when the path exists.
   */
  pin(path: string): this {
    this.ensureOpen();
    if (typeof path !== 'string' || path === '') throw argumentError(TypeError, 'ERR_BPFMAP_PATH', 'pin path must be a non-empty string');
    const rc = native.objPin(this.#handle, path);
    if (rc < 0) throw this.pinError(-rc, path);
    this.#pinnedPath = path;
    return this;
  }

  /** Removes the pin this object made (or was opened from). The object stays while this one is open. */
  unpin(): void {
    if (this.#pinnedPath === undefined) return;
    unlinkSync(this.#pinnedPath);
    this.#pinnedPath = undefined;
  }

  /** Closes this reference (a link detaches, a program unloads, unless pinned or otherwise held). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.objClose(this.#handle);
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Throws `closedError()` after `close()`. */
  protected ensureOpen(): void {
    if (this.#closed) throw this.closedError();
  }
}
