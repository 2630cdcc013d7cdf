/**
 * tcx: a `tc` (sched_cls) program on an interface's ingress or egress, attached through a
 * bpf_link (kernel 6.6+), so that it detaches on close and does not need qdiscs or filters.
 */
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import { AttachType } from '../../sys/program-types.js';
import type { BpfProgram } from '../program.js';
import { BpfAttachError } from './errors.js';
import { Link, linkOrThrow, subjectOf, withProgramHandle } from './link.js';
import { resolveInterface, type NetworkInterface } from './netdev.js';
import { encodeAnchor, linkAnchored, type AnchorOptions } from './prog-attach.js';

/** Where to attach a tcx program, and (optionally) where among the interface's other tcx programs. */
export interface TcxOptions extends AnchorOptions {
  /** Interface name or index. */
  readonly interface: NetworkInterface;
  /** Which direction; defaults to the program's own (`tcx/ingress`, `tcx/egress`), else ingress. */
  readonly direction?: 'ingress' | 'egress';
}

/**
 * Attaches a sched_cls program to an interface with tcx.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_UNSUPPORTED` on kernels without tcx (before 6.6),
 * `ERR_BPFMAP_ATTACH_INTERFACE` for an unknown interface.
 */
export function attachTcx(program: BpfProgram, options: TcxOptions): Link {
  if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachTcx: options must be { interface, direction? }');
  const direction = options.direction ?? (program.attachType === AttachType.tcx_egress ? 'egress' : 'ingress');
  if (direction !== 'ingress' && direction !== 'egress') throw argumentError(TypeError, 'ERR_BPFMAP_TCX_DIRECTION', `tcx direction must be 'ingress' or 'egress', got ${JSON.stringify(direction)}`);
  const { ifindex, name } = resolveInterface(options.interface, subjectOf(program, 'tcx', String(options.interface)));
  const subject = subjectOf(program, 'tcx', `${name} ${direction}`);
  const attachType = direction === 'ingress' ? AttachType.tcx_ingress : AttachType.tcx_egress;
  const anchor = encodeAnchor(options, 'attachTcx');
  const result = anchor.flags || anchor.expectedRevision
    ? linkAnchored(program, null, ifindex, attachType, anchor)
    : withProgramHandle(program, (prog) => native.linkCreate(prog, attachType, ifindex, 0, 0, 0n, null));
  if (typeof result === 'number' && -result === Errno.EINVAL && program.type !== 3) {
    throw new BpfAttachError(subject, 'EINVAL', `tcx takes sched_cls programs (SEC("tcx/${direction}")), '${program.name}' is of type ${program.typeName}`, { errno: Errno.EINVAL, command: 'LINK_CREATE' });
  }
  return linkOrThrow(result, subject, 'BPF_LINK_CREATE (tcx)', 'LINK_CREATE', (errno) =>
    errno === Errno.EINVAL ? 'the kernel may predate tcx (Linux 6.6), or the program was loaded for another attach type'
      : errno === Errno.ENOENT && anchor.flags ? 'the anchor is not attached to this interface and direction'
        : errno === Errno.ESTALE ? 'the attach point changed since expectedRevision' : undefined,
  );
}
