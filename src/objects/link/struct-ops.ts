/**
 * Registering a loaded object's struct_ops map (see ../struct-ops.ts for the spec and the value's
 * layout): a `.struct_ops.link` map through a bpf_link, a `.struct_ops` map by writing its value.
 * Apart from the layout so that loading an object does not load the link modules.
 */
import { native, nativeObject } from '../../sys/native.js';
import { BpfError, Errno, argumentError, errnoName } from '../../sys/errors.js';
import { MapFlags } from '../../sys/constants.js';
import { ObjectError } from '../errors.js';
import type { BpfObject } from '../object.js';
import { layoutStructOps, type StructOpsSpec } from '../struct-ops.js';
import type { ObjectMapSpec } from '../map-spec.js';
import type { BpfMap } from '../../map/bpf-map.js';
import { Link } from './link.js';

/** A `.struct_ops` map registered by writing its value; closing it deletes the value, which unregisters it. */
export class StructOpsRegistration implements Disposable {
  readonly #unregister: () => void;
  #closed = false;
  /** The struct_ops variable's name. */
  readonly name: string;

  /** @internal */
  constructor(name: string, unregister: () => void) {
    this.name = name;
    this.#unregister = unregister;
  }

  /** Unregisters (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unregister();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Registers a loaded object's struct_ops map with the kernel: writes its value (data members and
 * its programs' fds), then, for `SEC(".struct_ops.link")` maps, creates the bpf_link that
 * registers it. Closing the result unregisters (the link's close, or deleting a `.struct_ops`
 * map's value).
 * @throws ObjectError `ERR_BPFMAP_OBJECT_NAME` when the object has no struct_ops map of that name;
 *   BpfError when the kernel refuses the value or the registration (EEXIST: a congestion
 *   control of the same name is registered already).
 *
 * @example
 * using object = BpfObject.load('my_ca.bpf.o');
 * using link = attachStructOps(object, 'my_ca');   // selectable by setsockopt(TCP_CONGESTION) now
 */
export function attachStructOps(object: BpfObject, name: string): Link | StructOpsRegistration {
  const { mapSpec, structOps, map } = writeStructOpsValue(object, name, false);
  if (!(mapSpec.flags & MapFlags.LINK)) {
    return new StructOpsRegistration(name, () => {
      if (!map.closed) map.delete(new Uint8Array(4) as never);
    });
  }
  const handle = native.structOpsLinkCreate(map[nativeObject]);
  if (typeof handle === 'number') {
    throw new BpfError(`registering struct_ops '${name}' (struct ${structOps.typeName}): BPF_LINK_CREATE failed with ${errnoName(-handle)}${-handle === 17 ? ' (one of that name is registered already)' : ''}`, { code: errnoName(-handle), errno: -handle, command: 'LINK_CREATE' });
  }
  return Link.adopt(handle, { program: name, kind: 'struct_ops', target: structOps.typeName });
}

/**
 * Swaps what a struct_ops link registers for another `SEC(".struct_ops.link")` map of a loaded
 * object, atomically (BPF_LINK_UPDATE with the map, Linux 6.4+), as libbpf's
 * `bpf_link__update_map`: the new map's value is written first (its programs' fds), then the
 * link is pointed at it. For TCP congestion controls the new ops must carry the same name; new
 * sockets (and those that select it again) get the new ops, and the old map stays loaded.
 * With `replace`, only if that map is the one the link holds now.
 * @throws ObjectError `ERR_BPFMAP_OBJECT_NAME` when the object has no struct_ops map of that name,
 *   `ERR_BPFMAP_OBJECT_STATE` when it is a `.struct_ops` map (no link); BpfError with the errno
 *   when the kernel refuses (EOPNOTSUPP before 6.4 or for a type without update, EINVAL for
 *   another struct_ops type or name, EPERM when `replace` is not the current map).
 *
 * @example
 * using link = attachStructOps(object, 'ca_v1') as Link;
 * updateStructOps(link, object, 'ca_v2');   // same .name, new programs
 */
export function updateStructOps(link: Link, object: BpfObject, name: string, options: { replace?: BpfMap<unknown, unknown> } = {}): void {
  if (!(link instanceof Link)) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'updateStructOps: link must be the Link attachStructOps returned for a .struct_ops.link map');
  const linkHandle = link.handle;
  const { structOps, map } = writeStructOpsValue(object, name, true);
  const old = options.replace;
  const rc = native.structOpsLinkUpdate(linkHandle, map[nativeObject], old === undefined ? null : old[nativeObject]);
  if (rc < 0) {
    const errno = -rc;
    const why =
      errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP
        ? ` (the kernel cannot update struct ${structOps.typeName} links: Linux 6.4+ and a type with an update operation)`
        : errno === Errno.EPERM && old
          ? ' (the link does not hold the map to replace)'
          : errno === Errno.EINVAL
            ? ' (not a struct_ops link, another struct_ops type, or the kernel refused the new ops: a TCP congestion control must keep its name)'
            : '';
    throw new BpfError(`updating the struct_ops link of '${link.program}' to '${name}' (struct ${structOps.typeName}): BPF_LINK_UPDATE failed with ${errnoName(errno)}${why}`, { code: errnoName(errno), errno, command: 'LINK_UPDATE' });
  }
}

/** Writes a struct_ops map's value (data members and its programs' fds); `forLink` requires a `.struct_ops.link` map. */
function writeStructOpsValue(object: BpfObject, name: string, forLink: boolean): { mapSpec: ObjectMapSpec; structOps: StructOpsSpec; map: BpfMap<unknown, unknown> } {
  const mapSpec = object.spec.maps.get(name);
  const structOps = mapSpec?.structOps;
  if (!mapSpec || !structOps) {
    const names = [...object.spec.maps.values()].filter((m) => m.structOps).map((m) => m.name);
    throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no struct_ops map named '${name}' (struct_ops maps: ${names.join(', ') || 'none'})`);
  }
  if (forLink && !(mapSpec.flags & MapFlags.LINK)) {
    throw new ObjectError('ERR_BPFMAP_OBJECT_STATE', `'${name}' is a .struct_ops map, registered without a link: only .struct_ops.link maps can replace what a link registers`, { map: name });
  }
  if (!object.spec.btf) throw new ObjectError('ERR_BPFMAP_OBJECT_STATE', 'the object has no BTF', { map: name });
  const layout = layoutStructOps(structOps, object.spec.btf);
  const map = object.map(name);
  const programs = layout.slots.map((slot) => {
    const program = object.programs.get(slot.program);
    if (!program) throw new ObjectError('ERR_BPFMAP_OBJECT_STATE', `member '${slot.member}' names program '${slot.program}', which was not loaded`, { map: name, program: slot.program });
    return program.handle;
  });
  const rc = native.structOpsUpdate(map[nativeObject], layout.value, Uint32Array.from(layout.slots, (s) => s.offset), programs);
  // A link map whose value was written before (it registered or was updated to once) answers
  // EBUSY, and keeps that value: what a link update needs (libbpf's bpf_link__update_map does the same).
  if (rc < 0 && !(forLink && -rc === Errno.EBUSY)) {
    throw new BpfError(`registering struct_ops '${name}' (struct ${structOps.typeName}): MAP_UPDATE_ELEM failed with ${errnoName(-rc)}${-rc === 17 ? ' (one of that name is registered already)' : ''}`, { code: errnoName(-rc), errno: -rc, command: 'MAP_UPDATE_ELEM' });
  }
  return { mapSpec, structOps, map };
}
