/**
 * Attach by section name, the way libbpf's skeleton auto-attach does: `kprobe/FUNC` becomes a
 * kprobe on FUNC, `tracepoint/CAT/NAME` a tracepoint, `fentry/FUNC` a tracing link, `iter/...`
 * an iterator link, and so on. Sections that name no target (`xdp`, `tc`, `cgroup_skb/ingress`,
 * bare `kprobe`) are not attached, as libbpf skips them, unless the options say where
 * (`interface` for XDP and tcx, `cgroup` for cgroup programs).
 */
import { AttachType, ProgramType } from '../../sys/program-types.js';
import type { BpfProgram } from '../program.js';
import { attachCgroup } from './cgroup.js';
import { BpfAttachError } from './errors.js';
import { attachIter } from './iter.js';
import { attachKprobe, attachKsyscall } from './kprobe.js';
import { attachKprobeMulti } from './kprobe-multi.js';
import type { Link } from './link.js';
import type { NetworkInterface } from './netdev.js';
import { attachRawTracepoint } from './raw-tracepoint.js';
import { sectionTarget } from './section.js';
import { attachTcx } from './tcx.js';
import { attachTracepoint } from './tracepoint.js';
import { attachFreplace } from './freplace.js';
import { attachTracing } from './tracing.js';
import { attachUprobe } from './uprobe.js';
import { attachUprobeMulti } from './uprobe-multi.js';
import { attachUsdt } from './usdt.js';
import { attachXdp } from './xdp.js';

/** Where to attach programs whose section names no target, and what probes apply to. */
export interface AutoAttachOptions {
  /** For XDP and tcx programs: the interface. */
  readonly interface?: NetworkInterface;
  /** For cgroup programs: the cgroup v2 directory. */
  readonly cgroup?: string;
  /** For uprobes and USDT probes: only this process (BPF programs on kprobes and tracepoints run for every process; filter in the program). */
  readonly pid?: number;
}

const tcxTypes = new Set<number>([AttachType.tcx_ingress, AttachType.tcx_egress]);

/**
 * Attaches `program` where its section name says (`SEC("kprobe/do_unlinkat")`, ...).
 * Returns undefined for sections that name no target, like libbpf's auto-attach; the reason is
 * `sectionTarget(program.sectionName).reason`.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_SECTION` when the program has no section name (opened
 * from a pin or an id) or a malformed one, and whatever the attach kind throws.
 *
 * @example
 * const object = BpfObject.open('probe.bpf.o').load();
 * const links = object.programs.map((p) => attachProgram(p)).filter((l) => l !== undefined);
 */
export function attachProgram(program: BpfProgram, options: AutoAttachOptions = {}): Link | undefined {
  const section = program.sectionName;
  if (section === undefined) {
    throw new BpfAttachError({ program: program.name, kind: 'auto' }, 'ERR_BPFMAP_ATTACH_SECTION', 'the program has no section name (opened from a pin or id?): attach it with the function of its kind');
  }
  const target = sectionTarget(section, program.name);
  const pid = options.pid === undefined ? {} : { pid: options.pid };
  switch (target.kind) {
    case 'kprobe':
      return attachKprobe(program, { symbol: target.symbol, offset: target.offset, retprobe: target.retprobe });
    case 'ksyscall':
      return attachKsyscall(program, { syscall: target.syscall, retprobe: target.retprobe });
    case 'kprobe_multi':
      return attachKprobeMulti(program, { pattern: target.pattern, retprobe: target.retprobe });
    case 'uprobe':
      return attachUprobe(program, { binary: target.binary, symbol: target.symbol, offset: target.offset, retprobe: target.retprobe, ...pid });
    case 'uprobe_multi':
      return attachUprobeMulti(program, { binary: target.binary, pattern: target.pattern, retprobe: target.retprobe, ...pid });
    case 'usdt':
      return attachUsdt(program, { binary: target.binary, provider: target.provider, name: target.name, ...pid });
    case 'tracepoint':
      return attachTracepoint(program, { category: target.category, name: target.name });
    case 'raw_tracepoint':
      return attachRawTracepoint(program, target.name);
    case 'tracing':
      return attachTracing(program);
    case 'iter':
      return attachIter(program);
    case 'freplace':
      return attachFreplace(program);
    case 'none':
      if (options.interface !== undefined && program.type === ProgramType.xdp) return attachXdp(program, { interface: options.interface });
      if (options.interface !== undefined && program.type === ProgramType.sched_cls && program.attachType !== undefined && tcxTypes.has(program.attachType)) {
        return attachTcx(program, { interface: options.interface });
      }
      if (options.cgroup !== undefined && program.attachType !== undefined && section.startsWith('cgroup')) return attachCgroup(program, { cgroup: options.cgroup });
      return undefined;
  }
}
