/**
 * The perf-event path shared by kprobes, uprobes, tracepoints and sampling programs: one
 * `perf_event_open` whose event the program is linked to with `BPF_LINK_CREATE(BPF_PERF_EVENT)`
 * (Linux 5.15+). The link holds the event, so the event lives exactly as long as the link.
 */
import { native } from '../../sys/native.js';
import { Errno, argumentError, errnoName } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError, attachSyscallError, type AttachSubject } from './errors.js';
import { Link, withProgramHandle } from './link.js';

/** The perf_event_attr fields a perf link varies. */
export interface PerfEventSpec {
  readonly type: number;
  readonly config: bigint;
  /** config1 as a string (kprobe function, uprobe path), copied by the addon. */
  readonly name: string | null;
  readonly config2: bigint;
  /** -1 for every process (then cpu >= 0). */
  readonly pid: number;
  /** -1 for any CPU (then pid >= 0). */
  readonly cpu: number;
  readonly samplePeriod: bigint;
  readonly frequency: boolean;
  readonly cookie: bigint;
}

/** Explains an errno of each stage; `openHint` adds what the caller knows (missing symbol, ...). */
export interface PerfLinkHints {
  readonly open?: (errno: number) => string | undefined;
}

/**
 * Opens the event and links `program` to it.
 * @throws BpfAttachError with the errno name as code, saying which step failed.
 */
export function createPerfLink(program: BpfProgram, subject: AttachSubject, spec: PerfEventSpec, hints: PerfLinkHints = {}): Link {
  const result = withProgramHandle(program, (prog) =>
    native.perfLinkCreate(prog, spec.type, spec.config, spec.name, spec.config2, spec.pid, spec.cpu, spec.samplePeriod, spec.frequency, spec.cookie),
  );
  if (Array.isArray(result)) {
    const [stage, errno] = result;
    if (stage === 1) {
      const known =
        hints.open?.(errno) ??
        (errno === Errno.EACCES || errno === Errno.EPERM
          ? 'not permitted: needs CAP_PERFMON (or root), or kernel.perf_event_paranoid is too strict'
          : errno === Errno.ENOENT
            ? 'the probe target does not exist'
            : undefined);
      throw attachSyscallError(subject, 'perf_event_open', errno, undefined, known);
    }
    if (stage === 2) {
      const hint =
        errno === Errno.EINVAL
          ? `the program type (${program.typeName}) does not fit a ${subject.kind} event, or the kernel predates BPF perf links (Linux 5.15)`
          : errno === Errno.EEXIST
            ? 'a program is attached to this perf event already'
            : undefined;
      throw attachSyscallError(subject, 'BPF_LINK_CREATE (perf_event)', errno, 'LINK_CREATE', hint);
    }
    throw new BpfAttachError(subject, errnoName(errno), `PERF_EVENT_IOC_ENABLE failed with ${errnoName(errno)}`, { errno });
  }
  return Link.adopt(result, { program: subject.program, kind: subject.kind, ...(subject.target !== undefined ? { target: subject.target } : {}) });
}

/**
 * The pid/cpu pair of a probe's perf event: one process on any CPU, or every process (cpu 0:
 * the program runs wherever the probe fires; only uprobes honour a pid filter for BPF).
 */
export function probeScope(pid: number | undefined): { pid: number; cpu: number } {
  return pid === undefined ? { pid: -1, cpu: 0 } : { pid, cpu: -1 };
}

/** Checks an optional pid option. */
export function checkPid(pid: number | undefined): void {
  if (pid !== undefined && (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff)) {
    throw argumentError(RangeError, 'ERR_BPFMAP_PID', `pid must be a positive process id, got ${pid}`);
  }
}
