/**
 * Program types (enum bpf_prog_type) and attach types (enum bpf_attach_type), with the names
 * bpftool prints (`prog show`: `"type": "xdp"`), so that the library and the CLI speak its words.
 */

/** BPF program types (enum bpf_prog_type). */
export enum ProgramType {
  unspec = 0,
  socket_filter = 1,
  kprobe = 2,
  sched_cls = 3,
  sched_act = 4,
  tracepoint = 5,
  xdp = 6,
  perf_event = 7,
  cgroup_skb = 8,
  cgroup_sock = 9,
  lwt_in = 10,
  lwt_out = 11,
  lwt_xmit = 12,
  sock_ops = 13,
  sk_skb = 14,
  cgroup_device = 15,
  sk_msg = 16,
  raw_tracepoint = 17,
  cgroup_sock_addr = 18,
  lwt_seg6local = 19,
  lirc_mode2 = 20,
  sk_reuseport = 21,
  flow_dissector = 22,
  cgroup_sysctl = 23,
  raw_tracepoint_writable = 24,
  cgroup_sockopt = 25,
  tracing = 26,
  struct_ops = 27,
  ext = 28,
  lsm = 29,
  sk_lookup = 30,
  syscall = 31,
  netfilter = 32,
}

/** A program type's bpftool name (`'sched_cls'`). */
export type ProgramTypeName = Exclude<keyof typeof ProgramType, 'unspec'>;

/** bpftool's name for a program type number; unknown numbers print as the number itself. */
export function programTypeName(type: number): string {
  const name = (ProgramType as unknown as Record<number, string | undefined>)[type];
  return name ?? String(type);
}

/** Attach types (enum bpf_attach_type), named as libbpf's `libbpf_bpf_attach_type_str` names them. */
export enum AttachType {
  cgroup_inet_ingress = 0,
  cgroup_inet_egress = 1,
  cgroup_inet_sock_create = 2,
  cgroup_sock_ops = 3,
  sk_skb_stream_parser = 4,
  sk_skb_stream_verdict = 5,
  cgroup_device = 6,
  sk_msg_verdict = 7,
  cgroup_inet4_bind = 8,
  cgroup_inet6_bind = 9,
  cgroup_inet4_connect = 10,
  cgroup_inet6_connect = 11,
  cgroup_inet4_post_bind = 12,
  cgroup_inet6_post_bind = 13,
  cgroup_udp4_sendmsg = 14,
  cgroup_udp6_sendmsg = 15,
  lirc_mode2 = 16,
  flow_dissector = 17,
  cgroup_sysctl = 18,
  cgroup_udp4_recvmsg = 19,
  cgroup_udp6_recvmsg = 20,
  cgroup_getsockopt = 21,
  cgroup_setsockopt = 22,
  trace_raw_tp = 23,
  trace_fentry = 24,
  trace_fexit = 25,
  modify_return = 26,
  lsm_mac = 27,
  trace_iter = 28,
  cgroup_inet4_getpeername = 29,
  cgroup_inet6_getpeername = 30,
  cgroup_inet4_getsockname = 31,
  cgroup_inet6_getsockname = 32,
  xdp_devmap = 33,
  cgroup_inet_sock_release = 34,
  xdp_cpumap = 35,
  sk_lookup = 36,
  xdp = 37,
  sk_skb_verdict = 38,
  sk_reuseport_select = 39,
  sk_reuseport_select_or_migrate = 40,
  perf_event = 41,
  trace_kprobe_multi = 42,
  lsm_cgroup = 43,
  struct_ops = 44,
  netfilter = 45,
  tcx_ingress = 46,
  tcx_egress = 47,
  trace_uprobe_multi = 48,
  cgroup_unix_connect = 49,
  cgroup_unix_sendmsg = 50,
  cgroup_unix_recvmsg = 51,
  cgroup_unix_getpeername = 52,
  cgroup_unix_getsockname = 53,
  netkit_primary = 54,
  netkit_peer = 55,
  trace_kprobe_session = 56,
  trace_uprobe_session = 57,
}

/** An attach type's name (`'tcx_ingress'`). */
export type AttachTypeName = keyof typeof AttachType;

/** The name of an attach type number; unknown numbers print as the number itself. */
export function attachTypeName(type: number): string {
  const name = (AttachType as unknown as Record<number, string | undefined>)[type];
  return name ?? String(type);
}

/** BPF_PROG_LOAD `prog_flags`. */
export const ProgramFlags = {
  /** BPF_F_STRICT_ALIGNMENT */
  STRICT_ALIGNMENT: 1 << 0,
  /** BPF_F_ANY_ALIGNMENT */
  ANY_ALIGNMENT: 1 << 1,
  /** BPF_F_TEST_RND_HI32 */
  TEST_RND_HI32: 1 << 2,
  /** BPF_F_TEST_STATE_FREQ */
  TEST_STATE_FREQ: 1 << 3,
  /** BPF_F_SLEEPABLE: the program may sleep (`.s` sections). */
  SLEEPABLE: 1 << 4,
  /** BPF_F_XDP_HAS_FRAGS: the XDP program handles multi-buffer packets (`xdp.frags`). */
  XDP_HAS_FRAGS: 1 << 5,
} as const;
