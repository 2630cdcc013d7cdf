/**
 * XDP: a program on a network interface's receive path, attached through a bpf_link
 * (BPF_LINK_CREATE with the ifindex), so that it detaches when the link is closed.
 */
import { native } from '../../sys/native.js';
import { Errno, argumentError } from '../../sys/errors.js';
import { AttachType } from '../../sys/program-types.js';
import type { BpfProgram } from '../program.js';
import { Link, linkOrThrow, subjectOf, withProgramHandle } from './link.js';
import { resolveInterface, type NetworkInterface } from './netdev.js';

/** XDP modes (XDP_FLAGS_*_MODE); the default lets the kernel pick native, else generic. */
export type XdpMode = 'generic' | 'native' | 'offload';

const modeFlags: Record<XdpMode, number> = { generic: 1 << 1, native: 1 << 2, offload: 1 << 3 };

/** Where and how to attach an XDP program. */
export interface XdpOptions {
  /** Interface name (`'eth0'`) or index. */
  readonly interface: NetworkInterface;
  /** `'generic'` (skb mode, any driver), `'native'` (driver support needed) or `'offload'`. */
  readonly mode?: XdpMode;
}

/**
 * Attaches an XDP program to an interface.
 * @throws BpfAttachError `ERR_BPFMAP_ATTACH_INTERFACE` for an unknown interface; `EBUSY` when
 * another XDP program is attached there in another mode or without a link; `EOPNOTSUPP` when
 * the driver has no native XDP.
 *
 * @example
 * using link = attachXdp(program, { interface: 'veth0', mode: 'generic' });
 */
export function attachXdp(program: BpfProgram, options: XdpOptions): Link {
  if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachXdp: options must be { interface, mode? }');
  if (options.mode !== undefined && !(options.mode in modeFlags)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_XDP_MODE', `XDP mode must be 'generic', 'native' or 'offload', got ${JSON.stringify(options.mode)}`);
  }
  const { ifindex, name } = resolveInterface(options.interface, subjectOf(program, 'xdp', String(options.interface)));
  const subject = subjectOf(program, 'xdp', name);
  const flags = options.mode === undefined ? 0 : modeFlags[options.mode];
  const result = withProgramHandle(program, (prog) => native.linkCreate(prog, AttachType.xdp, ifindex, flags, 0, 0n, null));
  return linkOrThrow(result, subject, 'BPF_LINK_CREATE (xdp)', 'LINK_CREATE', (errno) =>
    errno === Errno.EBUSY || errno === Errno.EEXIST
      ? `another XDP program is attached to ${name}${options.mode ? ` (or in a mode other than ${options.mode})` : ''}: detach it first (ip link set dev ${name} xdp off)`
      : errno === Errno.EOPNOTSUPP
        ? `the driver of ${name} has no ${options.mode ?? 'native'} XDP support (try mode 'generic')`
        : errno === Errno.EINVAL
          ? `is '${program.name}' an XDP program (SEC("xdp"))?`
          : undefined,
  );
}
