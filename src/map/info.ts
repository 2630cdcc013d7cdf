/** What the kernel says about a map: `struct bpf_map_info` plus fdinfo's `frozen` and `memlock`. */
import { native, type NativeObject } from '../sys/native.js';
import { check } from '../sys/errors.js';
import { mapInfoLayout, StructBuffer } from '../sys/layout.js';
import { mapTypeName, type MapTypeName } from '../sys/constants.js';

/** A map's attributes as the kernel reports them. */
export interface MapInfo {
  /** Map type number (see `MapType`). */
  readonly type: number;
  /** bpftool's name of the type (`'percpu_hash'`), or the number as text for unknown types. */
  readonly typeName: MapTypeName | `${number}`;
  /** Kernel-wide map id. */
  readonly id: number;
  /** Map name (up to 15 characters). */
  readonly name: string;
  /** Key size in bytes. */
  readonly keySize: number;
  /** Value size in bytes (of one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  /** Maximum number of entries. */
  readonly maxEntries: number;
  /** Map creation flags (`MapFlags`). */
  readonly flags: number;
  /** Id of the map's BTF object, 0 when the map has none. */
  readonly btfId: number;
  /** BTF type id of the key, 0 when none. */
  readonly btfKeyTypeId: number;
  /** BTF type id of the value, 0 when none. */
  readonly btfValueTypeId: number;
  /** BTF type id of the kernel value type (struct_ops maps). */
  readonly btfVmlinuxValueTypeId: number;
  /** Type-specific extra (bloom filter hash count, arena address). */
  readonly mapExtra: bigint;
  /** Network interface index of an offloaded map, 0 when not offloaded. */
  readonly ifindex: number;
  /** True once the map was frozen (user space can no longer write it). */
  readonly frozen: boolean;
  /** Bytes of memory the map is charged for, as fdinfo reports (undefined when unavailable). */
  readonly memlock: number | undefined;
}

/** Reads `frozen` and `memlock` from the fdinfo of the handle's private fd. */
export function readFdInfo(handle: NativeObject<'map'>): { frozen: boolean; memlock: number | undefined } {
  const text = native.objFdInfo(handle);
  if (typeof text === 'number') return { frozen: false, memlock: undefined };
  const frozen = /^frozen:\s*(\d+)/m.exec(text);
  const memlock = /^memlock:\s*(\d+)/m.exec(text);
  return {
    frozen: frozen !== null && frozen[1] !== '0',
    memlock: memlock?.[1] === undefined ? undefined : Number(memlock[1]),
  };
}

/** Reads a map's info. Throws `BpfError` (OBJ_GET_INFO_BY_FD) when the kernel refuses. */
export function readMapInfo(handle: NativeObject<'map'>): MapInfo {
  const info = new StructBuffer(mapInfoLayout);
  check('OBJ_GET_INFO_BY_FD', native.objInfo(handle, info.bytes));
  const type = info.u32('type');
  return {
    type,
    typeName: mapTypeName(type),
    id: info.u32('id'),
    name: info.text('name'),
    keySize: info.u32('key_size'),
    valueSize: info.u32('value_size'),
    maxEntries: info.u32('max_entries'),
    flags: info.u32('map_flags'),
    btfId: info.u32('btf_id'),
    btfKeyTypeId: info.u32('btf_key_type_id'),
    btfValueTypeId: info.u32('btf_value_type_id'),
    btfVmlinuxValueTypeId: info.u32('btf_vmlinux_value_type_id'),
    mapExtra: info.u64('map_extra'),
    ifindex: info.u32('ifindex'),
    ...readFdInfo(handle),
  };
}
