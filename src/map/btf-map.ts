/**
 * BTF-typed maps: a map's own BTF (via its `btf_id`), codecs for its key and value types, typed
 * maps without a user-written layout, and map creation with BTF (so that bpftool and bpfmap show
 * `formatted` values for maps made from JavaScript).
 */
import { native } from '../sys/native.js';
import { BpfError, Errno } from '../sys/errors.js';
import type { Codec } from '../codec/codec.js';
import { Btf } from '../codec/btf/btf.js';
import { btfCodec } from '../codec/btf/codec.js';
import { btfFromId } from '../codec/btf/sources.js';
import { BtfBuilder } from '../codec/btf/writer.js';
import { loadBtfIntoKernel } from '../codec/btf/load.js';
import { formatMapEntry, type FormattedEntry } from '../codec/btf/format.js';
import { possibleCpus } from '../sys/cpus.js';
import { BpfMap, type MapCodecs } from './bpf-map.js';
import type { MapInfo } from './info.js';
import type { MapSpec } from './spec.js';

/** Something with a map's info: a `BpfMap`, or a `MapInfo` itself. */
export type HasMapInfo = { readonly info: MapInfo } | MapInfo;

function infoOf(map: HasMapInfo): MapInfo {
  return 'info' in map ? map.info : map;
}

const btfById = new Map<number, Btf>();

/**
 * The map's own BTF (parsed from the kernel's copy named by `btf_id`), or undefined when the map
 * has none. Cached per BTF id: maps from one object share it.
 */
export function loadMapBtf(map: HasMapInfo): Btf | undefined {
  const { btfId } = infoOf(map);
  if (!btfId) return undefined;
  let btf = btfById.get(btfId);
  if (!btf) {
    btf = btfFromId(btfId).btf;
    btfById.set(btfId, btf);
  }
  return btf;
}

/** Key and value codecs of a map from its BTF. */
export interface MapBtfCodecs {
  /** The map's BTF. */
  readonly btf: Btf;
  /** Key codec; undefined when the map has no BTF key type (keyless maps, `.data` sections). */
  readonly key: Codec<unknown> | undefined;
  /** Codec of one value (of one CPU's value for per-CPU maps; `BpfMap` makes the arrays). */
  readonly value: Codec<unknown>;
}

/** Array maps whose BTF names no key type (the `.data`/`.bss`/`.rodata` maps) are still indexed by a u32. */
function isArrayIndexed(info: MapInfo): boolean {
  return (info.typeName === 'array' || info.typeName === 'percpu_array') && info.keySize === 4;
}

/** The index of an array map: a host-order u32. */
const arrayIndexCodec: Codec<number> = {
  size: 4,
  encode(value: number, target: Uint8Array, offset: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`array index must be an integer from 0 to 4294967295, got ${String(value)}`);
    new DataView(target.buffer, target.byteOffset, target.byteLength).setUint32(offset, value, true);
  },
  decode(source: Uint8Array, offset: number): number {
    return new DataView(source.buffer, source.byteOffset, source.byteLength).getUint32(offset, true);
  },
};

/**
 * Codecs for a map's key and value from the map's own BTF, or undefined when the map has no BTF
 * value type (then it stays raw).
 */
export function btfCodecsForMap(map: HasMapInfo): MapBtfCodecs | undefined {
  const info = infoOf(map);
  const btf = loadMapBtf(info);
  const valueTypeId = info.btfVmlinuxValueTypeId ? 0 : info.btfValueTypeId;
  if (!btf || !valueTypeId) return undefined;
  return {
    btf,
    key: info.btfKeyTypeId ? btfCodec(btf, info.btfKeyTypeId) : isArrayIndexed(info) ? arrayIndexCodec : undefined,
    value: btfCodec(btf, valueTypeId),
  };
}

/**
 * A typed view of a map through its own BTF (a new handle; the original stays open and raw).
 * Maps without BTF come back raw. Per-CPU maps decode to one value per possible CPU.
 *
 * @example
 * const counts = typedMap<{ pid: number }, { packets: bigint }>(BpfMap.openPinned('/sys/fs/bpf/counts'));
 */
export function typedMap<K = unknown, V = unknown>(map: BpfMap<unknown, unknown>): BpfMap<K, V> {
  const codecs = btfCodecsForMap(map);
  if (!codecs) return map.withCodecs<K, V>();
  // An undefined key codec keeps the map's own (raw) key codec.
  return map.withCodecs<K, V>(codecs.key as Codec<K>, codecs.value as Codec<V>);
}

/**
 * Opens a pinned map typed through its own BTF.
 * @example
 * for (const [key, value] of openTyped('/sys/fs/bpf/maps/btf_hash')) console.log(key, value);
 */
export function openTyped<K = unknown, V = unknown>(path: string, options: { readOnly?: boolean } = {}): BpfMap<K, V> {
  const raw = BpfMap.openPinned(path, options);
  try {
    return typedMap<K, V>(raw);
  } finally {
    raw.close();
  }
}

/**
 * bpftool's `formatted` object for one raw dump entry of a map with BTF, or undefined when the
 * map has no BTF. `value` is the whole per-CPU buffer for per-CPU maps.
 */
export function formatEntry(map: BpfMap<unknown, unknown>, key: Uint8Array, value: Uint8Array): FormattedEntry | undefined {
  const info = map.info;
  const btf = loadMapBtf(info);
  if (!btf || !(info.btfValueTypeId || info.btfVmlinuxValueTypeId)) return undefined;
  return formatMapEntry(btf, info, key, value, map.perCpu ? possibleCpus() : undefined);
}

/** Key and value types for `createWithBtf`: ids in `btf`, or names looked up there. */
export interface MapTypesSpec {
  /** The BTF holding the types (e.g. an object file's, or one built with `BtfBuilder`). */
  readonly btf: Btf;
  /** Key type id or name; omit for keyless maps. */
  readonly key?: number | string;
  /** Value type id or name. */
  readonly value: number | string;
}

function typeIdOf(btf: Btf, type: number | string): number {
  return typeof type === 'number' ? type : btf.typeByName(type).id;
}

/**
 * Creates a map whose key and value carry BTF: copies the two types (and what they use) into a
 * fresh blob, loads it (BTF_LOAD; the verifier log is in the error on failure), and passes the
 * type ids to MAP_CREATE. Key and value sizes default to the types' sizes. When the kernel
 * rejects BTF for this map type, the map is created without it and a warning is emitted.
 * Returns the map typed through those codecs.
 *
 * @example
 * const btf = btfFromFile('prog.bpf.o');
 * const map = createWithBtf({ type: 'hash', maxEntries: 64 }, { btf, key: 'key', value: 'value' });
 */
export function createWithBtf<K = unknown, V = unknown>(
  spec: Omit<MapSpec, 'keySize' | 'valueSize' | 'btf'> & { readonly keySize?: number; readonly valueSize?: number },
  types: MapTypesSpec,
): BpfMap<K, V> {
  const keyId = types.key === undefined ? 0 : typeIdOf(types.btf, types.key);
  const valueId = typeIdOf(types.btf, types.value);
  const keySize = spec.keySize ?? (keyId ? types.btf.size(keyId) : 0);
  const valueSize = spec.valueSize ?? types.btf.size(valueId);
  const builder = new BtfBuilder();
  const newKeyId = keyId ? builder.import(types.btf, keyId) : 0;
  const newValueId = builder.import(types.btf, valueId);
  const codecs: MapCodecs<K, unknown> = {
    ...(keyId ? { key: btfCodec<K>(types.btf, keyId) } : {}),
    value: btfCodec(types.btf, valueId),
  };
  const btfFd = loadBtfIntoKernel(builder.build());
  try {
    try {
      const withBtf: MapSpec = { ...spec, keySize, valueSize, btf: { fd: btfFd, keyTypeId: newKeyId, valueTypeId: newValueId } };
      return BpfMap.create(withBtf, codecs) as unknown as BpfMap<K, V>;
    } catch (error) {
      const rejected = error instanceof BpfError && (error.errno === Errno.ENOTSUPP || error.errno === Errno.EOPNOTSUPP || error.errno === Errno.EINVAL);
      if (!rejected) throw error;
      // Some map types take no BTF: if the map can be made without it, say so and go on.
      const withoutBtf: MapSpec = { ...spec, keySize, valueSize };
      const map = BpfMap.create(withoutBtf, codecs) as unknown as BpfMap<K, V>;
      process.emitWarning(`map type ${String(spec.type)} rejected BTF (${error.code}); created '${spec.name ?? ''}' without it`, { code: 'BPFMAP_BTF_REJECTED' });
      return map;
    }
  } finally {
    native.closeFd(btfFd);
  }
}
