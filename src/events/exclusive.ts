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
 * module instance; two copies of the library loaded side by side do not see each other). Other
 * processes and other libraries (libbpf's ring_buffer__new, a second bpfmap process) are not:
 * nothing in the kernel records who consumes a ring, and an advisory lock file could neither bind
 * libbpf nor be told apart from a stale one across pid namespaces. docs/events.md says so.
 */
import { BpfError } from '../sys/errors.js';

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
