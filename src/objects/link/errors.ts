/**
 * Attach errors: one class, `BpfAttachError`, for every way attaching a program can fail, naming
 * the program, the attach kind and the target (`'kprobe' on 'do_sys_openat2'`), with a stable
 * `code` to branch on. Kernel refusals keep the errno name as their code (`'EOPNOTSUPP'`, ...);
 * what bpfmap finds out before any syscall has an `ERR_BPFMAP_ATTACH_*` code.
 */
import type { CommandName } from '../../sys/commands.js';
import { BpfError, errnoName, Errno } from '../../sys/errors.js';

/** Codes of attach failures found before (or instead of) a syscall. */
export type AttachErrorCode =
  /** The kernel lacks the attach kind (config option off, too old): `reason` says which. */
  | 'ERR_BPFMAP_ATTACH_UNSUPPORTED'
  /** The kernel function, tracepoint or binary symbol does not exist. */
  | 'ERR_BPFMAP_ATTACH_SYMBOL'
  /** No network interface by that name or index. */
  | 'ERR_BPFMAP_ATTACH_INTERFACE'
  /** The cgroup path is missing or not a cgroup v2 directory. */
  | 'ERR_BPFMAP_ATTACH_CGROUP'
  /** tracefs is not mounted anywhere, so tracepoint ids cannot be read. */
  | 'ERR_BPFMAP_TRACEFS'
  /** The section name does not say where to attach (bare `kprobe`, `xdp`, ...) or is malformed. */
  | 'ERR_BPFMAP_ATTACH_SECTION'
  /** The binary to probe is missing or not an ELF file bpfmap can read. */
  | 'ERR_BPFMAP_ATTACH_BINARY'
  /** A program whose section names no target (XDP, tcx, cgroup) was given none, or one of the wrong kind (`attachPrograms`, a skeleton's `attach()`). */
  | 'ERR_BPFMAP_ATTACH_TARGET'
  /** The binary has no USDT probe of that provider and name (the message lists the probes it has). */
  | 'ERR_BPFMAP_ATTACH_USDT_PROBE'
  /** A USDT probe argument's operand cannot be read (`4@sym(%rip)`, `%ah`, more than 12 arguments): the message names it. */
  | 'ERR_BPFMAP_ATTACH_USDT_ARGUMENT'
  /** The object has no (usable) `__bpf_usdt_specs` map, or it is full. */
  | 'ERR_BPFMAP_ATTACH_USDT_MAPS';

/** What an attach failure was about. */
export interface AttachSubject {
  /** The program's name (`bpf_prog_info.name` or the ELF symbol). */
  readonly program: string;
  /** The attach kind: `'xdp'`, `'kprobe'`, `'tracepoint'`, ... */
  readonly kind: string;
  /** The target, as the user gave it: interface, symbol, `category/name`, cgroup path, ... */
  readonly target?: string;
  /** The program's ELF section, when it came from an object (not from a pin or an id). */
  readonly section?: string;
}

function describe(subject: AttachSubject): string {
  const target = subject.target === undefined || subject.target === '' ? '' : ` to '${subject.target}'`;
  const section = subject.section === undefined ? '' : ` (section '${subject.section}')`;
  return `attach ${subject.kind} program '${subject.program}'${section}${target}`;
}

/**
 * Attaching a program failed. `code` is an `ERR_BPFMAP_ATTACH_*` code when bpfmap found the
 * problem (missing symbol, unknown interface, kernel without the feature) or the errno name when
 * the kernel refused (`'EINVAL'`, `'EBUSY'`, ...).
 *
 * @example
 * try { attachKprobe(program, { symbol: 'do_sys_openat2' }); }
 * catch (e) { if (e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_UNSUPPORTED') console.log(e.reason); }
 */
export class BpfAttachError extends BpfError {
  /** The program's name. */
  readonly program: string;
  /** The attach kind (`'kprobe'`, `'xdp'`, ...). */
  readonly kind: string;
  /** The target as given, if any. */
  readonly target: string | undefined;
  /** The program's ELF section, when it came from an object. */
  readonly section: string | undefined;
  /** Why, in the kernel's or the system's terms (e.g. `'CONFIG_KPROBES is not set'`). */
  readonly reason: string;

  constructor(
    subject: AttachSubject,
    code: string,
    reason: string,
    details: { errno?: number; command?: CommandName; cause?: unknown } = {},
  ) {
    super(`${describe(subject)}: ${reason}`, {
      code,
      errno: details.errno ?? 0,
      ...(details.command ? { command: details.command } : {}),
      ...(details.cause !== undefined ? { cause: details.cause } : {}),
    });
    this.program = subject.program;
    this.kind = subject.kind;
    this.target = subject.target;
    this.section = subject.section;
    this.reason = reason;
  }
}

/** Explains a kernel errno from an attach syscall, for the common cases. */
function explainAttachErrno(errno: number, operation: string): string {
  switch (errno) {
    case Errno.EPERM:
      return `${operation}: operation not permitted (need root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN/CAP_SYS_ADMIN)`;
    case Errno.EINVAL:
      return `${operation}: invalid argument (the program's type or expected attach type does not fit this attach kind, or a flag is wrong)`;
    case Errno.EBUSY:
      return `${operation}: the target is busy (another program is attached there in a mode that excludes this one)`;
    case Errno.EEXIST:
      return `${operation}: a program is attached there already`;
    case Errno.ENOENT:
      return `${operation}: no such target`;
    case Errno.EOPNOTSUPP:
    case Errno.ENOTSUPP:
      return `${operation}: the kernel does not support this attach kind`;
    case Errno.EBADF:
      return `${operation}: the program or target is closed`;
    default:
      return `${operation} failed with ${errnoName(errno)}`;
  }
}

/** The error for an attach syscall that returned `-errno`. */
export function attachSyscallError(
  subject: AttachSubject,
  operation: string,
  errno: number,
  command?: CommandName,
  hint?: string,
): BpfAttachError {
  const reason = `${explainAttachErrno(errno, operation)} (${errnoName(errno)})${hint ? `: ${hint}` : ''}`;
  return new BpfAttachError(subject, errnoName(errno), reason, { errno, ...(command ? { command } : {}) });
}
