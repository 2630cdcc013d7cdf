/**
 * uprobe_multi (`SEC("uprobe.multi/BINARY:PATTERN")`): one link probing many functions of one
 * binary (BPF_LINK_CREATE with BPF_TRACE_UPROBE_MULTI, Linux 6.6+), found by name or by a
 * shell pattern in the binary's symbol tables.
 */
import { readFileSync } from 'node:fs';
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { ElfFormatError, elfFunctions } from './elf-symbols.js';
import { BpfAttachError, attachSyscallError, type AttachSubject } from './errors.js';
import { Link, subjectOf, withProgramHandle, type LinkOrigin } from './link.js';
import { checkPid } from './perf-link.js';
import { resolveBinary } from './uprobe.js';

/** Which functions of which binary. */
export interface UprobeMultiOptions {
  /** Path of the binary or library; a bare name is looked up in PATH. */
  readonly binary: string;
  /** Function names... */
  readonly symbols?: readonly string[];
  /** ...or a `*`/`?` pattern over the binary's function names. */
  readonly pattern?: string;
  /** Return probes. */
  readonly retprobe?: boolean;
  /** Only this process (default: every process). */
  readonly pid?: number;
  /** One cookie per function, in the order of `symbols` (or of the sorted matches of `pattern`). */
  readonly cookies?: readonly bigint[];
}

function globMatcher(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/**
 * Attaches a uprobe.multi program to many functions of a binary.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_SYMBOL` for missing functions (or a pattern that
 * matches none), `ERR_BPFMAP_ATTACH_BINARY`, `ERR_BPFMAP_ATTACH_UNSUPPORTED` on kernels without
 * uprobe_multi links.
 */
export function attachUprobeMulti(program: BpfProgram, options: UprobeMultiOptions): Link {
  if (options === null || typeof options !== 'object' || typeof options.binary !== 'string' || (options.symbols === undefined) === (options.pattern === undefined)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachUprobeMulti: options must be { binary, symbols | pattern, retprobe?, pid?, cookies? }');
  }
  checkPid(options.pid);
  const kind = options.retprobe ? 'uretprobe.multi' : 'uprobe.multi';
  const subject = subjectOf(program, kind, `${options.binary}:${options.pattern ?? options.symbols!.join(',')}`);
  const path = resolveBinary(options.binary, subject);
  let functions;
  try {
    functions = [...elfFunctions(readFileSync(path))];
  } catch (error) {
    if (error instanceof ElfFormatError || (error as NodeJS.ErrnoException).code !== undefined) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_BINARY', `${path}: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
  const offsets = new Map<string, bigint>();
  for (const fn of functions) if (!offsets.has(fn.name)) offsets.set(fn.name, fn.fileOffset);
  let names: string[];
  if (options.pattern !== undefined) {
    const matcher = globMatcher(options.pattern);
    names = [...offsets.keys()].filter((name) => matcher.test(name)).sort();
    if (names.length === 0) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `no function of ${path} matches '${options.pattern}'`);
  } else {
    names = [...options.symbols!];
    if (names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'uprobe.multi symbols must be a non-empty list of function names');
    const missing = names.filter((n) => !offsets.has(n));
    if (missing.length) throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_SYMBOL', `${path} has no function ${missing.map((n) => `'${n}'`).join(', ')}`);
  }
  let cookies: BigUint64Array | null = null;
  if (options.cookies !== undefined) {
    if (options.cookies.length !== names.length) throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `uprobe.multi takes one cookie per function: ${names.length} functions, ${options.cookies.length} cookies`);
    cookies = BigUint64Array.from(options.cookies);
  }
  const fileOffsets = BigUint64Array.from(names, (n) => offsets.get(n)!);
  return createUprobeMultiLink(
    program,
    subject,
    { path, offsets: fileOffsets, semaphores: null, cookies, pid: options.pid ?? 0, retprobe: options.retprobe ?? false },
    { program: program.name, kind, ...(subject.target !== undefined ? { target: subject.target } : {}) },
    `is '${program.name}' a uprobe.multi program (loaded with expected attach type trace_uprobe_multi)?`,
  );
}

/** The probe points of one uprobe_multi link: file offsets in `path`, with a semaphore offset and a cookie each where given. */
export interface UprobeMultiSites {
  readonly path: string;
  readonly offsets: BigUint64Array;
  readonly semaphores: BigUint64Array | null;
  readonly cookies: BigUint64Array | null;
  readonly pid: number;
  readonly retprobe: boolean;
}

/**
 * @internal BPF_LINK_CREATE of a uprobe_multi link (for uprobe.multi and usdt programs). A kernel
 * without such links is `ERR_BPFMAP_ATTACH_UNSUPPORTED`; `whenInvalid` is what an EINVAL most
 * likely means for the caller's kind.
 */
export function createUprobeMultiLink(program: BpfProgram, subject: AttachSubject, sites: UprobeMultiSites, origin: LinkOrigin, whenInvalid: string): Link {
  const { path, offsets, semaphores, cookies, pid, retprobe } = sites;
  const result = withProgramHandle(program, (prog) => native.uprobeMultiLinkCreate(prog, path, offsets, semaphores, cookies, pid, retprobe));
  if (typeof result === 'number') {
    const errno = -result;
    if (errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP) {
      throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', 'the kernel has no uprobe_multi links (Linux before 6.6, or built without CONFIG_UPROBES)', { errno, command: 'LINK_CREATE' });
    }
    throw attachSyscallError(subject, 'BPF_LINK_CREATE (uprobe_multi)', errno, 'LINK_CREATE', errno === Errno.EINVAL ? whenInvalid : undefined);
  }
  return Link.adopt(result, origin);
}
