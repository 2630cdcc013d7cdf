/**
 * Registering a loaded object's struct_ops map (see ../struct-ops.ts for the spec and the value's
 * layout): a `.struct_ops.link` map through a bpf_link, a `.struct_ops` map by writing its value.
 * Apart from the layout so that loading an object does not load the link modules.
 */
import { native, nativeObject } from '../../sys/native.js';
import { BpfError, errnoName } from '../../sys/errors.js';
import { MapFlags } from '../../sys/constants.js';
import { ObjectError } from '../errors.js';
import type { BpfObject } from '../object.js';
import { layoutStructOps } from '../struct-ops.js';
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
  const mapSpec = object.spec.maps.get(name);
  const structOps = mapSpec?.structOps;
  if (!mapSpec || !structOps) {
    const names = [...object.spec.maps.values()].filter((m) => m.structOps).map((m) => m.name);
    throw new ObjectError('ERR_BPFMAP_OBJECT_NAME', `no struct_ops map named '${name}' (struct_ops maps: ${names.join(', ') || 'none'})`);
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
  if (rc < 0) {
    throw new BpfError(`registering struct_ops '${name}' (struct ${structOps.typeName}): MAP_UPDATE_ELEM failed with ${errnoName(-rc)}${-rc === 17 ? ' (one of that name is registered already)' : ''}`, { code: errnoName(-rc), errno: -rc, command: 'MAP_UPDATE_ELEM' });
  }
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
