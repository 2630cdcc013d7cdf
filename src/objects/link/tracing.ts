/**
 * BTF-attached tracing programs: fentry, fexit, fmod_ret, tp_btf (BPF_PROG_TYPE_TRACING) and
 * lsm. Their target is fixed when they load (`attach_btf_id`, found in vmlinux BTF by the
 * loader from the section name `fentry/FUNC`), so attaching names nothing: BPF_LINK_CREATE with
 * the program's expected attach type, or BPF_RAW_TRACEPOINT_OPEN with no name on kernels (or
 * programs opened from a pin) where that is not known.
 */
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import { AttachType, ProgramType } from '../../sys/program-types.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError } from './errors.js';
import { Link, linkOrThrow, readLinkInfo, subjectOf, withProgramHandle } from './link.js';

const linkCreateTypes = new Set<number>([AttachType.trace_fentry, AttachType.trace_fexit, AttachType.modify_return, AttachType.trace_raw_tp, AttachType.lsm_mac]);

/** The attach kind's name for messages (`'fentry'`, `'lsm'`, ...). */
function tracingKind(program: BpfProgram): string {
  switch (program.attachType) {
    case AttachType.trace_fentry: return 'fentry';
    case AttachType.trace_fexit: return 'fexit';
    case AttachType.modify_return: return 'fmod_ret';
    case AttachType.trace_raw_tp: return 'tp_btf';
    case AttachType.lsm_mac: return 'lsm';
    default: return program.type === ProgramType.lsm ? 'lsm' : 'tracing';
  }
}

/**
 * Attaches an fentry/fexit/fmod_ret/tp_btf/lsm program to the kernel function or hook it was
 * loaded for.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_UNSUPPORTED` when the kernel cannot attach it
 * (no BPF trampoline on this architecture, or the BPF LSM is not enabled in `lsm=`).
 *
 * @example
 * using link = attachTracing(program); // SEC("fentry/do_unlinkat")
 */
export function attachTracing(program: BpfProgram, options: { cookie?: bigint } = {}): Link {
  if (options.cookie !== undefined && (typeof options.cookie !== 'bigint' || options.cookie < 0n)) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'cookie must be a non-negative bigint');
  if (program.type !== ProgramType.tracing && program.type !== ProgramType.lsm) {
    throw argumentError(TypeError, 'ERR_BPFMAP_PROGRAM_TYPE', `attachTracing takes fentry/fexit/fmod_ret/tp_btf/lsm programs; '${program.name}' is of type ${program.typeName}`);
  }
  const kind = tracingKind(program);
  const target = program.sectionName?.includes('/') ? program.sectionName.slice(program.sectionName.indexOf('/') + 1) : undefined;
  const subject = subjectOf(program, kind, target);
  const cookie = options.cookie ?? 0n;
  let result = withProgramHandle(program, (prog) =>
    program.attachType !== undefined && linkCreateTypes.has(program.attachType)
      ? native.linkCreate(prog, program.attachType, 0, 0, 0, cookie, null)
      : native.rawTracepointOpen(prog, null, cookie),
  );
  if (result === -Errno.EINVAL && program.attachType !== undefined) {
    // Kernels before tracing links through BPF_LINK_CREATE (5.x): libbpf falls back the same way.
    result = withProgramHandle(program, (prog) => native.rawTracepointOpen(prog, null, cookie));
  }
  if (typeof result === 'number' && (-result === Errno.ENOTSUPP || -result === Errno.EOPNOTSUPP)) {
    throw new BpfAttachError(subject, 'ERR_BPFMAP_ATTACH_UNSUPPORTED', `the kernel cannot attach ${kind} programs here (no BPF trampoline for this architecture or function)`, { errno: -result });
  }
  if (typeof result !== 'number' && kind === 'tracing') {
    // Opened from a pin, the program does not say its attach type: the link does.
    const info = readLinkInfo(result);
    const byAttachType: Record<string, string> = { trace_fentry: 'fentry', trace_fexit: 'fexit', modify_return: 'fmod_ret', lsm_mac: 'lsm' };
    const refined = info.typeName === 'raw_tracepoint' ? 'tp_btf' : byAttachType[info.attachTypeName ?? ''] ?? kind;
    return Link.adopt(result, { program: program.name, kind: refined, ...(target !== undefined ? { target } : info.name ? { target: info.name } : {}) });
  }
  return linkOrThrow(result, subject, kind === 'lsm' ? 'attach lsm' : 'attach tracing', 'LINK_CREATE', (errno) =>
    errno === Errno.EINVAL && kind === 'lsm' ? "is 'bpf' in the kernel's active LSMs (cat /sys/kernel/security/lsm)?" : errno === Errno.EBUSY ? 'fmod_ret and freplace allow one program per target' : undefined,
  );
}
