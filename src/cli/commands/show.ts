/** `show [MAP]` / `list`: map attributes in bpftool's shapes. */
import { readdirSync, readFileSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../../map/bpf-map.js';
import type { MapInfo } from '../../map/info.js';
import { BpfError } from '../../sys/errors.js';
import type { Command, CommandContext } from '../command.js';
import { parseMapRef } from '../grammar.js';
import { mapIdsOf } from '../map-ref.js';

/** libbpf's names of program types (`libbpf_bpf_prog_type_str`), by number. */
const PROG_TYPE_NAMES: readonly string[] = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event',
  'cgroup_skb', 'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device',
  'sk_msg', 'raw_tracepoint', 'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport',
  'flow_dissector', 'cgroup_sysctl', 'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing',
  'struct_ops', 'ext', 'lsm', 'sk_lookup', 'syscall', 'netfilter',
];

/** The program type a prog_array is bound to (fdinfo's owner_prog_type, owner_jited), as bpftool shows it. */
export interface ProgArrayOwner {
  /** The type's name, or its number when libbpf has no name for it. */
  readonly progType: string | number | undefined;
  readonly jited: boolean | undefined;
}

/**
 * The owner of a prog_array, from the fdinfo of an fd on it: the kernel binds the array to the
 * type of the first program that uses it. Undefined for other maps and unbound arrays.
 */
export function progArrayOwner(info: MapInfo): ProgArrayOwner | undefined {
  if (info.typeName !== 'prog_array') return undefined;
  let text: string;
  try {
    using map = BpfMap.fromId(info.id, { readOnly: true });
    text = readFileSync(`/proc/self/fdinfo/${map.fd}`, 'utf8');
  } catch {
    return undefined;
  }
  const type = /^owner_prog_type:\s*(\d+)/m.exec(text)?.[1];
  const jited = /^owner_jited:\s*(\d+)/m.exec(text)?.[1];
  if (type === undefined && jited === undefined) return undefined;
  return {
    progType: type === undefined ? undefined : PROG_TYPE_NAMES[Number(type)] ?? Number(type),
    jited: jited === undefined ? undefined : Number(jited) !== 0,
  };
}

/** bpftool's JSON object for one map (`bpftool -j map show`). */
export function showJson(info: MapInfo, pinned: readonly string[] | undefined, owner?: ProgArrayOwner): Record<string, unknown> {
  const typeIsKnown = info.typeName !== String(info.type);
  return {
    id: info.id,
    type: typeIsKnown ? info.typeName : info.type,
    // bpftool leaves the name out for unnamed maps.
    name: info.name === '' ? undefined : info.name,
    flags: info.flags,
    bytes_key: info.keySize,
    bytes_value: info.valueSize,
    max_entries: info.maxEntries,
    bytes_memlock: info.memlock,
    owner_prog_type: owner?.progType,
    owner_jited: owner?.jited,
    frozen: info.frozen ? 1 : 0,
    btf_id: info.btfId === 0 ? undefined : info.btfId,
    pinned: pinned === undefined || pinned.length === 0 ? undefined : pinned,
  };
}

/** bpftool's text lines for one map. */
export function showText(info: MapInfo, pinned: readonly string[] | undefined, owner?: ProgArrayOwner): string {
  const typeIsKnown = info.typeName !== String(info.type);
  let text = `${info.id}: ${typeIsKnown ? info.typeName : `type ${info.type}`}  `;
  if (info.name) text += `name ${info.name}  `;
  text += `flags 0x${info.flags.toString(16)}\n`;
  text += `\tkey ${info.keySize}B  value ${info.valueSize}B  max_entries ${info.maxEntries}`;
  if (info.memlock !== undefined) text += `  memlock ${info.memlock}B`;
  if (owner !== undefined) {
    text += '\n\t';
    if (owner.progType !== undefined) text += `owner_prog_type ${owner.progType}  `;
    if (owner.jited !== undefined) text += `owner${owner.jited ? '' : ' not'} jited`;
  }
  for (const pin of pinned ?? []) text += `\n\tpinned ${pin}`;
  // bpftool: `btf_id N  frozen` on one line, either alone when the other is absent.
  if (info.btfId !== 0 || info.frozen) text += '\n\t';
  if (info.btfId !== 0) text += `btf_id ${info.btfId}`;
  if (info.frozen) text += `${info.btfId !== 0 ? '  ' : ''}frozen`;
  return text;
}

/** Mount points of bpf filesystems (from /proc/mounts), /sys/fs/bpf when unreadable. */
function bpffsMounts(): string[] {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => fields[2] === 'bpf')
      .map((fields) => (fields[1] ?? '').replace(/\\040/g, ' '));
    return mounts.length > 0 ? [...new Set(mounts)] : ['/sys/fs/bpf'];
  } catch {
    return ['/sys/fs/bpf'];
  }
}

/** Map id → the paths it is pinned at, found by walking every bpffs mount (bpftool's `-f`). */
export function pinnedPaths(): Map<number, string[]> {
  const paths = new Map<number, string[]>();
  const visit = (dir: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        visit(full);
        continue;
      }
      try {
        // BpfMap refuses pins of programs and links (ERR_BPFMAP_NOT_A_MAP): skipped below.
        using map = BpfMap.openPinned(full, { readOnly: true });
        const list = paths.get(map.id) ?? [];
        list.push(full);
        paths.set(map.id, list);
      } catch {
        // Pins of programs, links, or objects we may not open are not maps to list.
      }
    }
  };
  for (const mount of bpffsMounts()) visit(mount);
  return paths;
}

function run({ args, options, global, out }: CommandContext): void {
  const ref = args.done ? undefined : parseMapRef(args);
  args.end();
  options.end();
  const ids = ref === undefined ? [...BpfMap.ids()] : mapIdsOf(ref);
  const pins = global.bpffs ? pinnedPaths() : undefined;
  const infos: MapInfo[] = [];
  for (const id of ids) {
    try {
      infos.push(BpfMap.infoById(id));
    } catch (error) {
      // Listing races with maps going away; a map asked for by id must exist.
      if (ref === undefined && error instanceof BpfError && error.code === 'ENOENT') continue;
      throw error;
    }
  }
  if (out.json) {
    const objects = infos.map((info) => showJson(info, pins?.get(info.id), progArrayOwner(info)));
    // bpftool prints an array when listing, and the object itself for one map.
    out.document(ref !== undefined && objects.length === 1 ? objects[0] : objects);
    return;
  }
  for (const info of infos) out.line(showText(info, pins?.get(info.id), progArrayOwner(info)));
}

/** `show [MAP]`. */
export const showCommand: Command = { run };
/** `list`: the same as `show`. */
export const listCommand: Command = { run };
