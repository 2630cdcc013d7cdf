/**
 * kprobes and kretprobes (`SEC("kprobe/FUNC")`, `SEC("kretprobe/FUNC")`, `SEC("ksyscall/NAME")`):
 * a perf event of the `kprobe` PMU on a kernel function (plus an offset), linked to the program.
 *
 * Kernels built without CONFIG_KPROBES (or CONFIG_KPROBE_EVENTS) have no kprobe PMU: attaching
 * then fails with `ERR_BPFMAP_ATTACH_UNSUPPORTED` and a reason naming the missing option, read
 * from the kernel's own configuration when it is available. fentry/fexit (`attachTracing`) reach
 * most of the same functions without kprobes.
 */
import { arch } from 'node:os';
import { Errno, argumentError } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError, type AttachSubject } from './errors.js';
import { kallsymsAvailable, kernelSymbol } from './kallsyms.js';
import { kernelConfigHas } from './kernel-config.js';
import type { Link } from './link.js';
import { subjectOf } from './link.js';
import { createPerfLink, probeScope } from './perf-link.js';
import { probePmu } from './pmu.js';

/** Where to put a kprobe. */
export interface KprobeOptions {
  /** The kernel function (`'do_sys_openat2'`). */
  readonly symbol: string;
  /** Bytes into the function (kprobes only; kretprobes fire at entry and return). */
  readonly offset?: number;
  /** A kretprobe: fire when the function returns. */
  readonly retprobe?: boolean;
  /** A value the program reads with bpf_get_attach_cookie(). */
  readonly cookie?: bigint;
}

/**
 * Why this kernel cannot attach kprobes through perf events, or undefined when it can.
 * The reason names the kernel option when the configuration says so.
 */
export function kprobeUnsupportedReason(): string | undefined {
  if (probePmu('kprobe') !== undefined) return undefined;
  const where = 'no kprobe PMU at /sys/bus/event_source/devices/kprobe';
  if (kernelConfigHas('CONFIG_KPROBES') === false) return `the kernel is built without kprobes (CONFIG_KPROBES is not set; ${where})`;
  if (kernelConfigHas('CONFIG_KPROBE_EVENTS') === false) return `the kernel is built without kprobe events (CONFIG_KPROBE_EVENTS is not set; ${where})`;
  return `the kernel has no kprobe PMU (${where}: Linux before 4.17, or kprobes disabled)`;
}

const symbolPattern = /^[A-Za-z0-9_.]{1,511}$/;

/** Checks that the kernel has function `symbol`, when /proc/kallsyms can tell. */
export function checkKernelFunction(symbol: string, subject: AttachSubject): void {
  if (!kallsymsAvailable()) return;
  const found = kernelSymbol(symbol);
  if (found === undefined) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `the kernel has no function '${symbol}' (not in /proc/kallsyms)`);
  if (!'TtWw'.includes(found.type)) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `kernel symbol '${symbol}' is not a function (kallsyms type '${found.type}')`);
}

/**
 * Attaches a kprobe (or kretprobe) program to a kernel function.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_UNSUPPORTED` on kernels without kprobes (see
 * `reason`), `ERR_BPFMAP_ATTACH_SYMBOL` when the function does not exist.
 *
 * @example
 * using link = attachKprobe(program, { symbol: 'do_unlinkat' });
 */
export function attachKprobe(program: BpfProgram, options: KprobeOptions): Link {
  if (options === null || typeof options !== 'object' || typeof options.symbol !== 'string' || !symbolPattern.test(options.symbol)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachKprobe: options must be { symbol, offset?, retprobe?, cookie? } with symbol a kernel function name');
  }
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw argumentError(RangeError, 'ERR_BPFMAP_OFFSET', `kprobe offset must be a non-negative integer, got ${offset}`);
  if (options.retprobe && offset !== 0) throw argumentError(RangeError, 'ERR_BPFMAP_OFFSET', 'kretprobes take no offset: they fire when the function returns');
  const kind = options.retprobe ? 'kretprobe' : 'kprobe';
  const subject = subjectOf(program, kind, offset ? `${options.symbol}+${offset}` : options.symbol);
  const pmu = probePmu('kprobe');
  if (pmu === undefined) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', kprobeUnsupportedReason() ?? 'no kprobe PMU');
  checkKernelFunction(options.symbol, subject);
  return createPerfLink(
    program,
    subject,
    {
      type: pmu.type,
      config: options.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n,
      name: options.symbol,
      config2: BigInt(offset),
      ...probeScope(undefined),
      samplePeriod: 0n,
      frequency: false,
      cookie: options.cookie ?? 0n,
    },
    {
      open: (errno) =>
        errno === Errno.ENOENT ? `the kernel cannot probe '${options.symbol}' (not a probeable function)` : errno === Errno.EINVAL ? `'${options.symbol}${offset ? `+${offset}` : ''}' cannot be probed (blacklisted, inlined, or the offset is not an instruction boundary)` : undefined,
    },
  );
}

/** The kernel function behind system call `name` (`'getpid'` -> `'__x64_sys_getpid'` on x86-64 kernels with syscall wrappers). */
export function syscallFunction(name: string): string {
  const prefix = arch() === 'x64' ? '__x64_' : arch() === 'arm64' ? '__arm64_' : arch() === 's390x' ? '__s390x_' : arch() === 'riscv64' ? '__riscv_' : '';
  const wrapped = `${prefix}sys_${name}`;
  if (prefix && (!kallsymsAvailable() || kernelSymbol(wrapped) !== undefined)) return wrapped;
  return `sys_${name}`;
}

/**
 * Attaches a kprobe to a system call's kernel function, as `SEC("ksyscall/NAME")` does
 * (arguments are then read through the syscall's pt_regs, as BPF_KSYSCALL expects).
 */
export function attachKsyscall(program: BpfProgram, options: Omit<KprobeOptions, 'symbol' | 'offset'> & { readonly syscall: string }): Link {
  if (options === null || typeof options !== 'object' || typeof options.syscall !== 'string' || !/^[a-z0-9_]+$/.test(options.syscall)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachKsyscall: options must be { syscall, retprobe?, cookie? }');
  }
  const { syscall, ...rest } = options;
  return attachKprobe(program, { ...rest, symbol: syscallFunction(syscall) });
}
