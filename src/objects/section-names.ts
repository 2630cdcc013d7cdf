/**
 * Program type and expected attach type from a program's ELF section name (`SEC("xdp")`), by
 * libbpf's `section_defs` table and its matching rules, so that an object loads here as it does
 * under libbpf:
 * - `"name"`: the section name must equal it;
 * - `"name+"`: the section name equals it or continues with `/` (`kprobe` or `kprobe/do_sys_open`);
 * - `"name/"`: the section name must start with it.
 * The first entry that matches wins, so longer names come before their prefixes.
 */
import { AttachType, ProgramFlags, ProgramType } from '../sys/program-types.js';

/** What a section name says about its program. */
export interface SectionDefinition {
  /** The table entry that matched (`'kprobe+'`, `'xdp'`, ...). */
  readonly pattern: string;
  /** Program type. */
  readonly type: ProgramType;
  /** Expected attach type (0 also when libbpf passes none: check `hasAttachType`). */
  readonly attachType: number;
  /** True when libbpf passes `expected_attach_type` at load. */
  readonly hasAttachType: boolean;
  /** BPF_PROG_LOAD `prog_flags` the section implies (sleepable, XDP frags). */
  readonly programFlags: number;
  /** The program attaches to a kernel function or type found in vmlinux BTF by name (`fentry/NAME`). */
  readonly attachBtf: boolean;
  /** The text after the first `/` (`do_sys_open` in `kprobe/do_sys_open`), or `''`. */
  readonly target: string;
}

const NONE = 0;
const SLEEPABLE = 1;
const FRAGS = 2;
const BTF = 4;

type Row = readonly [pattern: string, type: ProgramType, attach: AttachType | undefined, flags: number];

const P = ProgramType;
const A = AttachType;

/** libbpf's table (src/libbpf.c `section_defs`), in its order. */
const TABLE: readonly Row[] = [
  ['socket', P.socket_filter, undefined, NONE],
  ['sk_reuseport/migrate', P.sk_reuseport, A.sk_reuseport_select_or_migrate, NONE],
  ['sk_reuseport', P.sk_reuseport, A.sk_reuseport_select, NONE],
  ['kprobe+', P.kprobe, undefined, NONE],
  ['uprobe+', P.kprobe, undefined, NONE],
  ['uprobe.s+', P.kprobe, undefined, SLEEPABLE],
  ['kretprobe+', P.kprobe, undefined, NONE],
  ['uretprobe+', P.kprobe, undefined, NONE],
  ['uretprobe.s+', P.kprobe, undefined, SLEEPABLE],
  ['kprobe.multi+', P.kprobe, A.trace_kprobe_multi, NONE],
  ['kretprobe.multi+', P.kprobe, A.trace_kprobe_multi, NONE],
  ['kprobe.session+', P.kprobe, A.trace_kprobe_session, NONE],
  ['uprobe.multi+', P.kprobe, A.trace_uprobe_multi, NONE],
  ['uretprobe.multi+', P.kprobe, A.trace_uprobe_multi, NONE],
  ['uprobe.session+', P.kprobe, A.trace_uprobe_session, NONE],
  ['uprobe.multi.s+', P.kprobe, A.trace_uprobe_multi, SLEEPABLE],
  ['uretprobe.multi.s+', P.kprobe, A.trace_uprobe_multi, SLEEPABLE],
  ['uprobe.session.s+', P.kprobe, A.trace_uprobe_session, SLEEPABLE],
  ['ksyscall+', P.kprobe, undefined, NONE],
  ['kretsyscall+', P.kprobe, undefined, NONE],
  ['usdt+', P.kprobe, undefined, NONE],
  ['usdt.s+', P.kprobe, undefined, SLEEPABLE],
  ['tc/ingress', P.sched_cls, A.tcx_ingress, NONE],
  ['tc/egress', P.sched_cls, A.tcx_egress, NONE],
  ['tcx/ingress', P.sched_cls, A.tcx_ingress, NONE],
  ['tcx/egress', P.sched_cls, A.tcx_egress, NONE],
  ['tc', P.sched_cls, undefined, NONE],
  ['classifier', P.sched_cls, undefined, NONE],
  ['action', P.sched_act, undefined, NONE],
  ['netkit/primary', P.sched_cls, A.netkit_primary, NONE],
  ['netkit/peer', P.sched_cls, A.netkit_peer, NONE],
  ['tracepoint+', P.tracepoint, undefined, NONE],
  ['tp+', P.tracepoint, undefined, NONE],
  ['tracepoint.s+', P.tracepoint, undefined, SLEEPABLE],
  ['tp.s+', P.tracepoint, undefined, SLEEPABLE],
  ['raw_tracepoint+', P.raw_tracepoint, undefined, NONE],
  ['raw_tp+', P.raw_tracepoint, undefined, NONE],
  ['raw_tracepoint.s+', P.raw_tracepoint, undefined, SLEEPABLE],
  ['raw_tp.s+', P.raw_tracepoint, undefined, SLEEPABLE],
  ['raw_tracepoint.w+', P.raw_tracepoint_writable, undefined, NONE],
  ['raw_tp.w+', P.raw_tracepoint_writable, undefined, NONE],
  ['tp_btf+', P.tracing, A.trace_raw_tp, BTF],
  ['tp_btf.s+', P.tracing, A.trace_raw_tp, BTF | SLEEPABLE],
  ['fentry+', P.tracing, A.trace_fentry, BTF],
  ['fmod_ret+', P.tracing, A.modify_return, BTF],
  ['fexit+', P.tracing, A.trace_fexit, BTF],
  ['fentry.s+', P.tracing, A.trace_fentry, BTF | SLEEPABLE],
  ['fmod_ret.s+', P.tracing, A.modify_return, BTF | SLEEPABLE],
  ['fexit.s+', P.tracing, A.trace_fexit, BTF | SLEEPABLE],
  ['freplace+', P.ext, undefined, BTF],
  ['lsm+', P.lsm, A.lsm_mac, BTF],
  ['lsm.s+', P.lsm, A.lsm_mac, BTF | SLEEPABLE],
  ['lsm_cgroup+', P.lsm, A.lsm_cgroup, BTF],
  ['iter+', P.tracing, A.trace_iter, BTF],
  ['iter.s+', P.tracing, A.trace_iter, BTF | SLEEPABLE],
  ['syscall', P.syscall, undefined, SLEEPABLE],
  ['xdp.frags/devmap', P.xdp, A.xdp_devmap, FRAGS],
  ['xdp/devmap', P.xdp, A.xdp_devmap, NONE],
  ['xdp.frags/cpumap', P.xdp, A.xdp_cpumap, FRAGS],
  ['xdp/cpumap', P.xdp, A.xdp_cpumap, NONE],
  ['xdp.frags', P.xdp, A.xdp, FRAGS],
  ['xdp', P.xdp, A.xdp, NONE],
  ['perf_event', P.perf_event, undefined, NONE],
  ['lwt_in', P.lwt_in, undefined, NONE],
  ['lwt_out', P.lwt_out, undefined, NONE],
  ['lwt_xmit', P.lwt_xmit, undefined, NONE],
  ['lwt_seg6local', P.lwt_seg6local, undefined, NONE],
  ['sockops', P.sock_ops, A.cgroup_sock_ops, NONE],
  ['sk_skb/stream_parser', P.sk_skb, A.sk_skb_stream_parser, NONE],
  ['sk_skb/stream_verdict', P.sk_skb, A.sk_skb_stream_verdict, NONE],
  ['sk_skb/verdict', P.sk_skb, A.sk_skb_verdict, NONE],
  ['sk_skb', P.sk_skb, undefined, NONE],
  ['sk_msg', P.sk_msg, A.sk_msg_verdict, NONE],
  ['lirc_mode2', P.lirc_mode2, A.lirc_mode2, NONE],
  ['flow_dissector', P.flow_dissector, A.flow_dissector, NONE],
  ['cgroup_skb/ingress', P.cgroup_skb, A.cgroup_inet_ingress, NONE],
  ['cgroup_skb/egress', P.cgroup_skb, A.cgroup_inet_egress, NONE],
  ['cgroup/skb', P.cgroup_skb, undefined, NONE],
  ['cgroup/sock_create', P.cgroup_sock, A.cgroup_inet_sock_create, NONE],
  ['cgroup/sock_release', P.cgroup_sock, A.cgroup_inet_sock_release, NONE],
  ['cgroup/sock', P.cgroup_sock, A.cgroup_inet_sock_create, NONE],
  ['cgroup/post_bind4', P.cgroup_sock, A.cgroup_inet4_post_bind, NONE],
  ['cgroup/post_bind6', P.cgroup_sock, A.cgroup_inet6_post_bind, NONE],
  ['cgroup/bind4', P.cgroup_sock_addr, A.cgroup_inet4_bind, NONE],
  ['cgroup/bind6', P.cgroup_sock_addr, A.cgroup_inet6_bind, NONE],
  ['cgroup/connect4', P.cgroup_sock_addr, A.cgroup_inet4_connect, NONE],
  ['cgroup/connect6', P.cgroup_sock_addr, A.cgroup_inet6_connect, NONE],
  ['cgroup/connect_unix', P.cgroup_sock_addr, A.cgroup_unix_connect, NONE],
  ['cgroup/sendmsg4', P.cgroup_sock_addr, A.cgroup_udp4_sendmsg, NONE],
  ['cgroup/sendmsg6', P.cgroup_sock_addr, A.cgroup_udp6_sendmsg, NONE],
  ['cgroup/sendmsg_unix', P.cgroup_sock_addr, A.cgroup_unix_sendmsg, NONE],
  ['cgroup/recvmsg4', P.cgroup_sock_addr, A.cgroup_udp4_recvmsg, NONE],
  ['cgroup/recvmsg6', P.cgroup_sock_addr, A.cgroup_udp6_recvmsg, NONE],
  ['cgroup/recvmsg_unix', P.cgroup_sock_addr, A.cgroup_unix_recvmsg, NONE],
  ['cgroup/getpeername4', P.cgroup_sock_addr, A.cgroup_inet4_getpeername, NONE],
  ['cgroup/getpeername6', P.cgroup_sock_addr, A.cgroup_inet6_getpeername, NONE],
  ['cgroup/getpeername_unix', P.cgroup_sock_addr, A.cgroup_unix_getpeername, NONE],
  ['cgroup/getsockname4', P.cgroup_sock_addr, A.cgroup_inet4_getsockname, NONE],
  ['cgroup/getsockname6', P.cgroup_sock_addr, A.cgroup_inet6_getsockname, NONE],
  ['cgroup/getsockname_unix', P.cgroup_sock_addr, A.cgroup_unix_getsockname, NONE],
  ['cgroup/sysctl', P.cgroup_sysctl, A.cgroup_sysctl, NONE],
  ['cgroup/getsockopt', P.cgroup_sockopt, A.cgroup_getsockopt, NONE],
  ['cgroup/setsockopt', P.cgroup_sockopt, A.cgroup_setsockopt, NONE],
  ['cgroup/dev', P.cgroup_device, A.cgroup_device, NONE],
  ['struct_ops+', P.struct_ops, undefined, NONE],
  ['struct_ops.s+', P.struct_ops, undefined, SLEEPABLE],
  ['sk_lookup', P.sk_lookup, A.sk_lookup, NONE],
  ['netfilter', P.netfilter, A.netfilter, NONE],
];

function matches(pattern: string, section: string): boolean {
  if (pattern.endsWith('/')) return section.startsWith(pattern);
  if (pattern.endsWith('+')) {
    const stem = pattern.slice(0, -1);
    return section === stem || section.startsWith(`${stem}/`);
  }
  return section === pattern;
}

/**
 * What libbpf derives from a section name, or undefined when no entry matches (libbpf refuses
 * such a program: `bpf_object__open` fails with "missing BPF prog type").
 *
 * @example
 * sectionDefinition('fentry/do_unlinkat'); // { type: ProgramType.tracing, attachType: AttachType.trace_fentry, target: 'do_unlinkat', ... }
 */
export function sectionDefinition(section: string): SectionDefinition | undefined {
  for (const [pattern, type, attach, flags] of TABLE) {
    if (!matches(pattern, section)) continue;
    const slash = section.indexOf('/');
    return {
      pattern,
      type,
      attachType: attach ?? 0,
      hasAttachType: attach !== undefined,
      programFlags: (flags & SLEEPABLE ? ProgramFlags.SLEEPABLE : 0) | (flags & FRAGS ? ProgramFlags.XDP_HAS_FRAGS : 0),
      attachBtf: (flags & BTF) !== 0,
      target: slash < 0 ? '' : section.slice(slash + 1),
    };
  }
  return undefined;
}

/** Every section name pattern libbpf knows, in table order (for error messages and docs). */
export function sectionPatterns(): string[] {
  return TABLE.map(([pattern]) => pattern);
}
