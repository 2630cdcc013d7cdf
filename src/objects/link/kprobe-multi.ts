/**
 * kprobe_multi (`SEC("kprobe.multi/PATTERN")`): one link probing many kernel functions at once
 * (BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI, Linux 5.18+). The kernel builds it on fprobe:
 * kernels without CONFIG_FPROBE answer EOPNOTSUPP, which becomes `ERR_BPFMAP_ATTACH_UNSUPPORTED`.
 */
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError, attachSyscallError } from './errors.js';
import { kallsymsAvailable, kernelFunctionsMatching, kernelSymbol } from './kallsyms.js';
import { kernelConfigHas } from './kernel-config.js';
import { Link, subjectOf, withProgramHandle } from './link.js';

/** Which functions to probe: a list, or a shell pattern over kernel function names. */
export interface KprobeMultiOptions {
  /** Function names. */
  readonly symbols?: readonly string[];
  /** `'tcp_*'`-style pattern (`*`, `?`), expanded from /proc/kallsyms. */
  readonly pattern?: string;
  /** Return probes. */
  readonly retprobe?: boolean;
  /** One cookie per function (bpf_get_attach_cookie()). */
  readonly cookies?: readonly bigint[];
}

/** Why this kernel cannot attach kprobe_multi links, when its configuration says; undefined when unknown or supported. */
export function kprobeMultiUnsupportedReason(): string | undefined {
  if (kernelConfigHas('CONFIG_FPROBE') === false) return 'the kernel is built without fprobe (CONFIG_FPROBE is not set), which kprobe_multi links need';
  return undefined;
}

/**
 * Attaches a kprobe.multi program to many kernel functions.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_UNSUPPORTED` when the kernel lacks kprobe_multi,
 * `ERR_BPFMAP_ATTACH_SYMBOL` when a function (or every match of the pattern) is missing.
 */
export function attachKprobeMulti(program: BpfProgram, options: KprobeMultiOptions): Link {
  if (options === null || typeof options !== 'object' || (options.symbols === undefined) === (options.pattern === undefined)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachKprobeMulti: give exactly one of symbols (names) or pattern');
  }
  const kind = options.retprobe ? 'kretprobe.multi' : 'kprobe.multi';
  const subject = subjectOf(program, kind, options.pattern ?? `${options.symbols!.length} functions`);
  let symbols: string[];
  if (options.pattern !== undefined) {
    if (typeof options.pattern !== 'string' || !/^[A-Za-z0-9_.*?]+$/.test(options.pattern)) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `kprobe.multi pattern must be letters, digits, '_', '.', '*' and '?', got ${JSON.stringify(options.pattern)}`);
    }
    symbols = kernelFunctionsMatching(options.pattern);
    if (symbols.length === 0) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `no kernel function matches '${options.pattern}' in /proc/kallsyms`);
  } else {
    symbols = [...options.symbols!];
    if (symbols.length === 0 || symbols.some((s) => typeof s !== 'string' || !/^[A-Za-z0-9_.]{1,511}$/.test(s))) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'kprobe.multi symbols must be a non-empty list of kernel function names');
    }
    if (kallsymsAvailable()) {
      const missing = symbols.filter((s) => kernelSymbol(s) === undefined);
      if (missing.length) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `the kernel has no function ${missing.map((s) => `'${s}'`).join(', ')} (not in /proc/kallsyms)`);
    }
  }
  let cookies: BigUint64Array | null = null;
  if (options.cookies !== undefined) {
    if (options.cookies.length !== symbols.length) throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `kprobe.multi takes one cookie per function: ${symbols.length} functions, ${options.cookies.length} cookies`);
    cookies = BigUint64Array.from(options.cookies);
  }
  const result = withProgramHandle(program, (prog) => native.kprobeMultiLinkCreate(prog, symbols, options.retprobe ?? false, cookies));
  if (typeof result === 'number') {
    const errno = -result;
    if (errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', kprobeMultiUnsupportedReason() ?? 'the kernel has no kprobe_multi links (Linux before 5.18, or built without CONFIG_FPROBE) (BPF_LINK_CREATE: EOPNOTSUPP)', {
        errno,
        command: 'LINK_CREATE',
      });
    }
    if (errno === Errno.ENOENT || errno === 3 /* ESRCH */) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', 'a function is not traceable (not in available_filter_functions)', { errno, command: 'LINK_CREATE' });
    }
    throw attachSyscallError(subject, 'BPF_LINK_CREATE (kprobe_multi)', errno, 'LINK_CREATE', errno === Errno.EINVAL ? `is '${program.name}' a kprobe.multi program (loaded with expected attach type trace_kprobe_multi)?` : undefined);
  }
  return Link.adopt(result, { program: subject.program, kind, ...(subject.target !== undefined ? { target: subject.target } : {}) });
}
