/**
 * One consumer per ring buffer map, one producer per user ring buffer map, in this process.
 *
 * A ring's positions live in the map's shared pages, not in the handle: two consumers of one
 * ring buffer each deliver the same records and move consumer_pos past records the other has not
 * read; two producers of one user ring buffer reserve the same space and overwrite each other's
 * records. The kernel does not stop either (any process may map the pages), so the readers and
 * writers of this library refuse a second claim on a map id while the first is open.
 *
 * What is covered: every `RingBuffer` and `UserRingBuffer` of this process (the registry is per
 * module instance; two copies of the library loaded side by side do not see each other), and
 * other processes as far as /proc shows them (`findOtherRingUsers`): nothing in the kernel
 * records who consumes a ring, but a consumer maps the ring's pages in a shape that says so.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { BpfError } from '../sys/errors.js';
import { MapType } from '../sys/constants.js';
import { pageSize } from './layout.js';

/** What may claim a map: something that says when it is closed. */
export interface MapClaimant {
  readonly closed: boolean;
}

const claims = new Map<string, WeakRef<MapClaimant>>();

/**
 * Claims `role` on map `id` for `claimant`; returns the function that gives the claim back.
 * A claimant that was collected without `close()` holds nothing.
 * @throws BpfError `ERR_BPFMAP_IN_USE` when an open claimant holds it already.
 */
export function claimMap(role: 'consumer' | 'producer', reader: string, map: { readonly id: number; readonly name: string }, claimant: MapClaimant): () => void {
  const key = `${role}:${map.id}`;
  const holder = claims.get(key)?.deref();
  if (holder !== undefined && holder !== claimant && !holder.closed) {
    throw new BpfError(
      `map '${map.name}' id ${map.id} already has an open ${reader} in this process: a ring has one ${role}, and a second one would ${role === 'consumer' ? 'deliver the same records and move the consumer position past records the first has not read' : 'reserve the same space and overwrite the first one\'s records'}; close the first one, or share it`,
      { code: 'ERR_BPFMAP_IN_USE', errno: 0, subject: { name: map.name, id: map.id } },
    );
  }
  const ref = new WeakRef(claimant);
  claims.set(key, ref);
  return () => {
    if (claims.get(key) === ref) claims.delete(key);
  };
}

/** A process that maps a ring the way its consumer (or a user ring buffer's producer) does. */
export interface RingUser {
  readonly pid: number;
  /** Its command name (/proc/PID/comm), `?` when it could not be read. */
  readonly comm: string;
}

/** `ERR_BPFMAP_IN_USE` for a ring that another process reads (or writes): names the processes. */
export class BpfInUseError extends BpfError {
  /** The processes found using the map. */
  readonly processes: readonly RingUser[];

  constructor(message: string, map: { readonly id: number; readonly name: string }, processes: readonly RingUser[]) {
    super(message, { code: 'ERR_BPFMAP_IN_USE', errno: 0, subject: { name: map.name, id: map.id } });
    this.processes = processes;
  }
}

/**
 * Other processes that consume ring buffer `map` (role `'consumer'`) or produce into user ring
 * buffer `map` (role `'producer'`), as far as /proc shows them, and how many processes could
 * not be looked at (no permission: reading another user's /proc/PID/maps and fds needs ptrace
 * rights, as root or CAP_SYS_PTRACE has).
 *
 * A mapping does not say which map it maps (every BPF map shares one anonymous inode, and
 * /proc/PID/map_files cannot reopen it: ENXIO), so a process counts only when the shapes leave
 * no doubt: it holds an fd of this map (fdinfo `map_id`), and it has as many consumer-shaped
 * mappings of rings of this type and size as it holds fds of such rings. A ringbuf consumer
 * maps the consumer page writable at offset 0 (one page) and the producer page and data area
 * read-only at offset one page (a page plus twice max_entries); a user ringbuf producer maps the
 * producer page and data area writable at offset one page. A process that holds fds of two
 * same-sized rings and reads only one of them is not reported (it may be reading the other);
 * nor is one that closed its fd after mapping, nor one in another pid namespace.
 */
export function findOtherRingUsers(role: 'consumer' | 'producer', map: { readonly id: number; readonly maxEntries: number }): { users: RingUser[]; unreadable: number } {
  const page = pageSize();
  const dataSize = page + 2 * map.maxEntries;
  const type = role === 'consumer' ? MapType.ringbuf : MapType.user_ringbuf;
  const users: RingUser[] = [];
  let unreadable = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^[1-9]\d*$/.test(name) && Number(name) !== process.pid);
  } catch {
    return { users, unreadable: 1 };
  }
  for (const pid of pids) {
    let maps: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'latin1');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'EPERM') unreadable++;
      continue; // gone meanwhile, or not ours to read
    }
    if (!maps.includes('anon_inode:bpf-map')) continue;
    const shaped = ringMappings(maps, role, page, dataSize);
    if (shaped === 0) continue;
    const rings = ringFdsOf(pid, type, map.maxEntries);
    if (rings === undefined) {
      unreadable++;
      continue;
    }
    if (rings.has(map.id) && shaped >= rings.size) users.push({ pid: Number(pid), comm: commOf(pid) });
  }
  return { users, unreadable };
}

/** How many rings of this data size a process's maps file shows mapped as `role` does. */
function ringMappings(maps: string, role: 'consumer' | 'producer', page: number, dataSize: number): number {
  let consumerPages = 0;
  let readOnlyData = 0;
  let writableData = 0;
  for (const line of maps.split('\n')) {
    if (!line.endsWith('anon_inode:bpf-map')) continue;
    const match = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) /.exec(line);
    if (match === null) continue;
    const size = parseInt(match[2]!, 16) - parseInt(match[1]!, 16);
    const writable = match[3]![1] === 'w';
    const offset = parseInt(match[4]!, 16);
    if (offset === 0 && size === page && writable) consumerPages++;
    else if (offset === page && size === dataSize) {
      if (writable) writableData++;
      else readOnlyData++;
    }
  }
  return role === 'consumer' ? Math.min(consumerPages, readOnlyData) : writableData;
}

/** Ids of the maps of `type` and `maxEntries` a process holds fds of; undefined when its fds cannot be read. */
function ringFdsOf(pid: string, type: number, maxEntries: number): Set<number> | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const ids = new Set<number>();
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
      const field = (name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(info)?.[1] ?? -1);
      if (field('map_type') === type && field('max_entries') === maxEntries) ids.add(field('map_id'));
    } catch {
      // Closed meanwhile.
    }
  }
  return ids;
}

function commOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim() || '?';
  } catch {
    return '?';
  }
}

/**
 * Refuses to open a second consumer (producer) of a ring that another process reads (writes).
 * @throws BpfInUseError (`ERR_BPFMAP_IN_USE`) naming the processes.
 */
export function refuseOtherRingUsers(role: 'consumer' | 'producer', reader: string, map: { readonly id: number; readonly name: string; readonly maxEntries: number }): void {
  const { users } = findOtherRingUsers(role, map);
  if (users.length === 0) return;
  const who = users.map(({ pid, comm }) => `pid ${pid} (${comm})`).join(', ');
  const label = map.name ? `'${map.name}' id ${map.id}` : `map ${map.id}`;
  throw new BpfInUseError(
    `${label} is already ${role === 'consumer' ? 'read' : 'written'} by ${who}: a ring has one ${role}, and a second ${reader} would ${role === 'consumer' ? 'take records away from it' : 'overwrite its records'}; stop it, or pass { ignoreOtherProcesses: true } to ${role === 'consumer' ? 'read' : 'write'} anyway`,
    map,
    users,
  );
}
