/**
 * `struct bpf_link_info`, decoded: what `bpftool link show` prints, per link type.
 */
import { StructBuffer, type StructLayout } from '../../sys/layout.js';
import { attachTypeName } from '../../sys/program-types.js';

/** Link types (enum bpf_link_type), named as bpftool prints them. */
export enum LinkType {
  raw_tracepoint = 1,
  tracing = 2,
  cgroup = 3,
  iter = 4,
  netns = 5,
  xdp = 6,
  perf_event = 7,
  kprobe_multi = 8,
  struct_ops = 9,
  netfilter = 10,
  tcx = 11,
  uprobe_multi = 12,
  netkit = 13,
  sockmap = 14,
}

/** bpftool's name for a link type number; unknown numbers print as the number. */
export function linkTypeName(type: number): string {
  return (LinkType as unknown as Record<number, string | undefined>)[type] ?? String(type);
}

/** Kinds of perf-event link (enum bpf_perf_event_type). */
const perfEventTypes = ['unspec', 'uprobe', 'uretprobe', 'kprobe', 'kretprobe', 'tracepoint', 'event'] as const;

/** Byte offsets in struct bpf_link_info (64 bytes); the union starts at 16. */
export const linkInfoLayout: StructLayout<
  | 'type' | 'id' | 'prog_id'
  | 'u32_16' | 'u32_20' | 'u32_24' | 'u32_28' | 'u32_32' | 'u32_36' | 'u32_52' | 'u32_56' | 'u32_60'
  | 'u64_16' | 'u64_24' | 'u64_32' | 'u64_40' | 'u64_48' | 'u64_56'
> = {
  size: 64,
  fields: {
    type: { offset: 0, size: 4 },
    id: { offset: 4, size: 4 },
    prog_id: { offset: 8, size: 4 },
    u32_16: { offset: 16, size: 4 },
    u32_20: { offset: 20, size: 4 },
    u32_24: { offset: 24, size: 4 },
    u32_28: { offset: 28, size: 4 },
    u32_32: { offset: 32, size: 4 },
    u32_36: { offset: 36, size: 4 },
    u32_52: { offset: 52, size: 4 },
    u32_56: { offset: 56, size: 4 },
    u32_60: { offset: 60, size: 4 },
    u64_16: { offset: 16, size: 8 },
    u64_24: { offset: 24, size: 8 },
    u64_32: { offset: 32, size: 8 },
    u64_40: { offset: 40, size: 8 },
    u64_48: { offset: 48, size: 8 },
    u64_56: { offset: 56, size: 8 },
  },
};

/** What the kernel reports about a link. Fields beyond `type`, `id` and `programId` depend on the type. */
export interface LinkInfo {
  /** `LinkType` number. */
  readonly type: number;
  /** bpftool's name for it (`'xdp'`, `'perf_event'`, ...). */
  readonly typeName: string;
  readonly id: number;
  readonly programId: number;
  /** Attach type (tracing, cgroup, netns, tcx, netkit, sockmap links). */
  readonly attachType?: number;
  readonly attachTypeName?: string;
  /** Interface index (xdp, tcx, netkit). */
  readonly ifindex?: number;
  /** cgroup id (cgroup links). */
  readonly cgroupId?: bigint;
  /** Tracepoint name (raw_tracepoint; perf-event tracepoints), iterator target, probed function or file. */
  readonly name?: string;
  /** For perf-event links: `'kprobe'`, `'kretprobe'`, `'uprobe'`, `'uretprobe'`, `'tracepoint'` or `'event'`. */
  readonly perfEventType?: string;
  /** Probe offset (kprobe: from the function; uprobe: in the file). */
  readonly offset?: number;
  /** Kernel address of a kprobe (0 without privilege to see addresses). */
  readonly address?: bigint;
  /** Missed probe hits (kprobe, kprobe_multi). */
  readonly missed?: bigint;
  /** Cookie given at attach time. */
  readonly cookie?: bigint;
  /** tracing: id of the BTF object and the type id of the target. */
  readonly targetObjectId?: number;
  readonly targetBtfId?: number;
  /** iter over one map, struct_ops: the map's id. */
  readonly mapId?: number;
  /** kprobe_multi / uprobe_multi: number of functions or offsets. */
  readonly count?: number;
  /** kprobe_multi / uprobe_multi flags (1: return probes). */
  readonly flags?: number;
  /** uprobe_multi: the process filter (0 for all). */
  readonly pid?: number;
  /** netns links: the namespace inode. */
  readonly netnsInode?: number;
}

/** Decodes the 64 bytes `linkInfo` wrote, with the name text it returned. */
export function decodeLinkInfo(bytes: Uint8Array, name: string): LinkInfo {
  const s = new StructBuffer(linkInfoLayout, bytes);
  const type = s.u32('type');
  const base = { type, typeName: linkTypeName(type), id: s.u32('id'), programId: s.u32('prog_id') };
  const withAttach = (attachType: number) => ({ attachType, attachTypeName: attachTypeName(attachType) });
  switch (type) {
    case LinkType.raw_tracepoint:
      return { ...base, name, cookie: s.u64('u64_32') };
    case LinkType.tracing:
      return { ...base, ...withAttach(s.u32('u32_16')), targetObjectId: s.u32('u32_20'), targetBtfId: s.u32('u32_24'), cookie: s.u64('u64_32') };
    case LinkType.cgroup:
      return { ...base, cgroupId: s.u64('u64_16'), ...withAttach(s.u32('u32_24')) };
    case LinkType.iter: {
      const mapId = s.u32('u32_28');
      return { ...base, name, ...(mapId ? { mapId } : {}) };
    }
    case LinkType.struct_ops:
      // bpf_link_info.struct_ops.map_id: the registered map (the link has no program).
      return { ...base, mapId: s.u32('u32_16') };
    case LinkType.netns:
      return { ...base, netnsInode: s.u32('u32_16'), ...withAttach(s.u32('u32_20')) };
    case LinkType.xdp:
      return { ...base, ifindex: s.u32('u32_16') };
    case LinkType.tcx:
    case LinkType.netkit:
      return { ...base, ifindex: s.u32('u32_16'), ...withAttach(s.u32('u32_20')) };
    case LinkType.kprobe_multi:
      return { ...base, count: s.u32('u32_24'), flags: s.u32('u32_28'), missed: s.u64('u64_32') };
    case LinkType.uprobe_multi:
      return { ...base, name, count: s.u32('u32_52'), flags: s.u32('u32_56'), pid: s.u32('u32_60') };
    case LinkType.perf_event: {
      const perfEventType = perfEventTypes[s.u32('u32_16')] ?? String(s.u32('u32_16'));
      if (perfEventType === 'kprobe' || perfEventType === 'kretprobe') {
        return { ...base, perfEventType, name, offset: s.u32('u32_36'), address: s.u64('u64_40'), missed: s.u64('u64_48'), cookie: s.u64('u64_56') };
      }
      if (perfEventType === 'uprobe' || perfEventType === 'uretprobe') {
        return { ...base, perfEventType, name, offset: s.u32('u32_36'), cookie: s.u64('u64_40') };
      }
      if (perfEventType === 'tracepoint') return { ...base, perfEventType, name, cookie: s.u64('u64_40') };
      return { ...base, perfEventType, cookie: s.u64('u64_40') };
    }
    default:
      return base;
  }
}
