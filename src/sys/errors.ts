/**
 * Errors. One class for failed syscalls, `BpfError`, with a stable string `code` to branch on
 * (`'ENOENT'`, `'E2BIG'`, `'ENOTSUPP'` for 524, ...) and a message that says what went wrong and
 * what to do about it. Argument mistakes are `TypeError`/`RangeError` thrown before any syscall,
 * with a `code` of their own (`'ERR_BPFMAP_KEY_SIZE'`, ...).
 */
import { constants } from 'node:os';
import type { CommandName } from './commands.js';
import { ENOTSUPP } from './constants.js';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}
errnoNames.set(ENOTSUPP, 'ENOTSUPP');
// EWOULDBLOCK and EAGAIN share a number: prefer the common name.
errnoNames.set(constants.errno.EAGAIN, 'EAGAIN');
errnoNames.set(constants.errno.EOPNOTSUPP, 'EOPNOTSUPP');

/**
 * The errno names a `BpfError` code commonly holds. Others come as their Linux names too
 * (`'ENOTDIR'`), or `E` and the number for one Node.js does not name.
 */
export type ErrnoName =
  | 'EPERM' | 'ENOENT' | 'ESRCH' | 'EINTR' | 'EIO' | 'E2BIG' | 'EBADF' | 'EAGAIN' | 'ENOMEM' | 'EACCES'
  | 'EFAULT' | 'EBUSY' | 'EEXIST' | 'EXDEV' | 'ENODEV' | 'ENOTDIR' | 'EISDIR' | 'EINVAL' | 'EMFILE'
  | 'ENFILE' | 'ENOSPC' | 'ERANGE' | 'ENOSYS' | 'ELOOP' | 'ENOTSUP' | 'EOPNOTSUPP' | 'ENOTSUPP'
  | 'EOVERFLOW' | 'ETIMEDOUT' | 'ECANCELED';

/** An errno's name: one of `ErrnoName`, or another `E...` name. */
export type ErrnoCode = ErrnoName | (`E${string}` & {});

/** Codes of `BpfError`s that no syscall returned: the library's own failures. */
export type BpfLibraryErrorCode =
  | 'ERR_BPFMAP_CLOSED' | 'ERR_BPFMAP_CREATE_DENIED' | 'ERR_BPFMAP_DELETE_DENIED' | 'ERR_BPFMAP_ID_REUSED'
  | 'ERR_BPFMAP_NOT_A_LINK' | 'ERR_BPFMAP_NOT_A_PROGRAM' | 'ERR_BPFMAP_REENTRANT';

/**
 * What `BpfError.code` holds: an errno name (`'ENOENT'`, `'E2BIG'`, `'ENOTSUPP'` for 524, ...)
 * or one of the library's `ERR_BPFMAP_*` codes. A literal union, so that editors complete it and
 * a misspelt comparison (`code === 'ENOENTT'` aside) reads against the list.
 */
export type BpfErrorCode = ErrnoCode | BpfLibraryErrorCode | (`ERR_${string}` & {});

/** The symbolic name of an errno (`2` → `'ENOENT'`, `524` → `'ENOTSUPP'`). */
export function errnoName(errno: number): ErrnoCode {
  return (errnoNames.get(errno) ?? `E${errno}`) as ErrnoCode;
}

/** Numbers of the errnos the library branches on. */
export const Errno = {
  EPERM: constants.errno.EPERM,
  ENOENT: constants.errno.ENOENT,
  EBADF: constants.errno.EBADF,
  EAGAIN: constants.errno.EAGAIN,
  ENOMEM: constants.errno.ENOMEM,
  EACCES: constants.errno.EACCES,
  EFAULT: constants.errno.EFAULT,
  EBUSY: constants.errno.EBUSY,
  EEXIST: constants.errno.EEXIST,
  EINVAL: constants.errno.EINVAL,
  ENOSPC: constants.errno.ENOSPC,
  E2BIG: constants.errno.E2BIG,
  ESTALE: constants.errno.ESTALE,
  EOPNOTSUPP: constants.errno.EOPNOTSUPP,
  ENOTSUPP,
} as const;

/** Which map a failed operation was about, for messages. */
export interface ErrorSubject {
  readonly name?: string;
  readonly id?: number;
  readonly path?: string;
}

function describeSubject(subject: ErrorSubject | undefined): string {
  if (!subject) return '';
  const parts: string[] = [];
  if (subject.name) parts.push(`'${subject.name}'`);
  if (subject.id !== undefined) parts.push(`id ${subject.id}`);
  if (subject.path) parts.push(`at ${subject.path}`);
  return parts.length ? ` on map ${parts.join(' ')}` : '';
}

/** Explains an errno for a command in the words a user needs. */
function explain(command: CommandName, errno: number): string {
  const write = command === 'MAP_UPDATE_ELEM' || command === 'MAP_UPDATE_BATCH';
  switch (errno) {
    case Errno.EPERM:
      if (write || command === 'MAP_DELETE_ELEM' || command === 'MAP_DELETE_BATCH') {
        return 'operation not permitted: the map is frozen or read-only, or the process lacks CAP_BPF (run as root or grant CAP_BPF + CAP_SYS_ADMIN)';
      }
      return 'permission denied: need root or CAP_BPF (and CAP_SYS_ADMIN for ids, pins and BTF)';
    case Errno.EACCES:
      return 'access denied: the map was opened without the needed read/write permission, or bpffs denies it';
    case Errno.ENOENT:
      if (command === 'OBJ_GET') return 'no BPF object pinned at that path';
      if (command === 'MAP_GET_FD_BY_ID' || command === 'BTF_GET_FD_BY_ID') return 'no object with that id';
      return 'no such key';
    case Errno.EEXIST:
      return command === 'OBJ_PIN' ? 'the pin path already exists' : 'the key exists already (update flag noexist)';
    case Errno.E2BIG:
      return write ? 'the map is full (max_entries reached)' : 'an attribute is too big, or the kernel does not know a field that was set';
    case Errno.ENOSPC:
      return command.endsWith('_BATCH') ? 'batch buffer too small for one hash bucket (retry with a bigger batch)' : 'no space left';
    case Errno.EINVAL:
      return command === 'MAP_CREATE'
        ? 'invalid map attributes: check type, sizes, max_entries and flags for this map type'
        : 'invalid argument: the map type may not support this operation or these flags';
    case ENOTSUPP:
    case Errno.EOPNOTSUPP:
      return 'this map type does not support the operation';
    case Errno.ENOMEM:
      return 'out of memory (or the memlock rlimit is too low on kernels before 5.11)';
    case Errno.EBADF:
      return 'bad file descriptor: the map is closed, or the fd is not a BPF object of that kind';
    case Errno.EBUSY:
      return 'the map is busy (frozen while mapped writable, or in use)';
    case Errno.EFAULT:
      return 'bad address passed to the kernel';
    default:
      return `failed with ${errnoName(errno)}`;
  }
}

/**
 * A bpf(2) command failed. Branch on `code`; read `message` for a human.
 *
 * @example
 * try { map.set(key, value, 'noexist'); }
 * catch (e) { if (e instanceof BpfError && e.code === 'EEXIST') { ... } }
 */
export class BpfError extends Error {
  /** Always `'BpfError'`. */
  override readonly name = 'BpfError';
  /** The errno name, e.g. `'E2BIG'`, `'ENOTSUPP'`; or an `ERR_*` code for library-level failures. */
  readonly code: BpfErrorCode;
  /** The raw errno (0 for library-level failures that are not syscalls). */
  readonly errno: number;
  /** The bpf(2) command that failed, e.g. `'MAP_UPDATE_ELEM'`. */
  readonly command: CommandName | undefined;
  /** The map's name, if known. */
  readonly mapName: string | undefined;
  /** The map's id, if known. */
  readonly mapId: number | undefined;

  constructor(
    message: string,
    // (Any string is taken, as subclasses pass codes of their own, `ERR_*` by convention.)
    details: { code: BpfErrorCode | string; errno: number; command?: CommandName; subject?: ErrorSubject; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code as BpfErrorCode;
    this.errno = details.errno;
    this.command = details.command;
    this.mapName = details.subject?.name;
    this.mapId = details.subject?.id;
  }

  /** Builds the error for a syscall that returned `-errno`. */
  static fromErrno(command: CommandName, errno: number, subject?: ErrorSubject, extra?: string): BpfError {
    return BpfError.withReason(command, errno, explain(command, errno), subject, extra);
  }

  /**
   * Builds the error for a syscall that returned `-errno`, when the caller knows the real cause
   * better than the errno's usual meaning (a pin path outside bpffs gives EPERM, not a missing
   * capability): `reason` replaces that meaning; the code stays the errno's name.
   */
  static withReason(command: CommandName, errno: number, reason: string, subject?: ErrorSubject, extra?: string): BpfError {
    const code = errnoName(errno);
    const message = `${command}${describeSubject(subject)}: ${reason} (${code})${extra ? `: ${extra}` : ''}`;
    return new BpfError(message, { code, errno, command, ...(subject ? { subject } : {}) });
  }
}

/** A batch command failed part-way; `processed` entries took effect before the failure. */
export class BpfBatchError extends BpfError {
  /** How many entries the kernel processed before it failed. */
  readonly processed: number;

  constructor(cause: BpfError, processed: number) {
    super(`${cause.message} (after ${processed} entries were processed)`, {
      code: cause.code,
      errno: cause.errno,
      ...(cause.command ? { command: cause.command } : {}),
      subject: {
        ...(cause.mapName !== undefined ? { name: cause.mapName } : {}),
        ...(cause.mapId !== undefined ? { id: cause.mapId } : {}),
      },
    });
    this.processed = processed;
  }
}

/** Throws `BpfError` when a native result is negative; returns it otherwise. */
export function check(command: CommandName, rc: number, subject?: ErrorSubject): number {
  if (rc < 0) throw BpfError.fromErrno(command, -rc, subject);
  return rc;
}

/** A native handle, or throws the `BpfError` of the `-errno` returned instead. */
export function checkHandle<T extends object>(command: CommandName, rc: T | number, subject?: ErrorSubject): T {
  if (typeof rc === 'number') throw BpfError.fromErrno(command, -rc, subject);
  return rc;
}

/** An argument error with a stable code. */
export function argumentError<E extends TypeErrorConstructor | RangeErrorConstructor>(
  kind: E,
  code: string,
  message: string,
): InstanceType<E> {
  const error = new kind(message) as InstanceType<E> & { code: string };
  error.code = code;
  return error;
}

/** A buffer whose length is wrong for a map's key or value: names both sizes. */
export function sizeError(what: string, expected: number, actual: number): RangeError {
  return argumentError(
    RangeError,
    what === 'key' ? 'ERR_BPFMAP_KEY_SIZE' : what.startsWith('value') ? 'ERR_BPFMAP_VALUE_SIZE' : 'ERR_BPFMAP_SIZE',
    `${what} expected ${expected} bytes, got ${actual}`,
  );
}
