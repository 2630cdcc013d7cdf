/**
 * BTF-typed maps: a map's own BTF (via its `btf_id`), codecs for its key and value types, typed
 * maps without a user-written layout, and map creation with BTF (so that bpftool and bpfmap show
 * `formatted` values for maps made from JavaScript).
 */
import { show } from '../codec/codec.js';
import { native, nativeObject } from '../sys/native.js';
import { BpfError, Errno, argumentError } from '../sys/errors.js';
import type { Codec } from '../codec/codec.js';
import { Btf } from '../codec/btf/btf.js';
import { btfCodec } from '../codec/btf/codec.js';
import { btfFromId } from '../codec/btf/sources.js';
import { BtfBuilder } from '../codec/btf/writer.js';
import { loadBtfHandle } from '../codec/btf/load.js';
import { formatMapEntry, type FormattedEntry } from '../codec/btf/format.js';
import type { FieldFormatOptions } from '../codec/btf/field-format.js';
import { possibleCpus } from '../sys/cpus.js';
import { MapType, mapTypeName, resolveMapType } from '../sys/constants.js';
import { BtfError } from '../codec/btf/errors.js';
import { btfForRecords } from '../codec/btf/from-record.js';
import type { BpfRecord, RecordObject } from '../codec/record/record.js';
import { BpfMap, installBtfSupport, type MapCodecs, type MapValue } from './bpf-map.js';
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
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_KEY_TYPE', `array index must be an integer from 0 to 4294967295, got ${show(value)}`);
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
 * Per-CPU maps decode to one value per possible CPU.
 * @throws TypeError `ERR_BPFMAP_NO_BTF` when the map has no BTF value type.
 *
 * @example
 * const counts = typedMap<{ pid: number }, { packets: bigint }>(BpfMap.openPinned('/sys/fs/bpf/counts'));
 */
export function typedMap<K = unknown, V = unknown>(map: BpfMap<unknown, unknown>): BpfMap<K, V> {
  const codecs = btfCodecsForMap(map);
  if (!codecs) {
    // A raw handle typed as K/V would fail later with a confusing size error.
    throw argumentError(TypeError, 'ERR_BPFMAP_NO_BTF', `map '${map.name}' id ${map.id} has no BTF value type, so it cannot be typed from its own BTF: use withCodecs() with records or codecs, or the raw handle`);
  }
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
 * map has no BTF. `value` is the whole per-CPU buffer for per-CPU maps. `format` shows chosen
 * fields as addresses, ports, ... (see `FieldFormatOptions`).
 * @example
 * formatEntry(flows, key, value, { fields: { saddr: 'ip', dport: 'port' } });
 */
export function formatEntry(map: BpfMap<unknown, unknown>, key: Uint8Array, value: Uint8Array, format?: FieldFormatOptions): FormattedEntry | undefined {
  const info = map.info;
  const btf = loadMapBtf(info);
  if (!btf || !(info.btfValueTypeId || info.btfVmlinuxValueTypeId)) return undefined;
  return formatMapEntry(btf, info, key, value, map.perCpu ? possibleCpus() : undefined, format);
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

/** A map spec without sizes or BTF: those come from the types. */
export type SpecWithoutTypes = Omit<MapSpec, 'keySize' | 'valueSize' | 'btf'>;

/**
 * Creates a map whose key and value carry BTF: copies the two types (and what they use) into a
 * fresh blob, loads it (BTF_LOAD; the verifier log is in the error on failure), and passes the
 * type ids to MAP_CREATE. Key and value sizes default to the types' sizes. When the kernel
 * rejects BTF for this map type, the map is created without it and a warning is emitted
 * (`BPFMAP_BTF_REJECTED`). Returns the map typed through those codecs.
 * @throws BtfError (`ERR_BTF_SIZE_MISMATCH`) when `keySize`/`valueSize` differ from the types' sizes.
 *
 * @example
 * const btf = btfFromFile('prog.bpf.o');
 * const map = createWithBtf({ type: 'hash', maxEntries: 64 }, { btf, key: 'key', value: 'value' });
 */
export function createWithBtf<K = unknown, V = unknown>(
  spec: SpecWithoutTypes & { readonly keySize?: number; readonly valueSize?: number },
  types: MapTypesSpec,
): BpfMap<K, V> {
  const keyId = types.key === undefined ? 0 : typeIdOf(types.btf, types.key);
  const valueId = typeIdOf(types.btf, types.value);
  const keyTypeSize = keyId ? types.btf.size(keyId) : 0;
  const valueTypeSize = types.btf.size(valueId);
  const keySize = spec.keySize ?? keyTypeSize;
  const valueSize = spec.valueSize ?? valueTypeSize;
  // The kernel answers a size mismatch with a bare EINVAL and no log: name it here instead.
  if (keyId && keySize !== keyTypeSize) {
    throw new BtfError('ERR_BTF_SIZE_MISMATCH', `key type ${describeType(types.btf, keyId)} is ${keyTypeSize} bytes but keySize is ${keySize}`, { typeId: keyId });
  }
  if (valueSize !== valueTypeSize) {
    throw new BtfError('ERR_BTF_SIZE_MISMATCH', `value type ${describeType(types.btf, valueId)} is ${valueTypeSize} bytes but valueSize is ${valueSize}`, { typeId: valueId });
  }
  const builder = new BtfBuilder();
  const newKeyId = keyId ? builder.import(types.btf, keyId) : 0;
  const newValueId = builder.import(types.btf, valueId);
  const codecs: MapCodecs<K, unknown> = {
    ...(keyId ? { key: btfCodec<K>(types.btf, keyId) } : {}),
    value: btfCodec(types.btf, valueId),
  };
  return createTyped({ ...spec, keySize, valueSize }, builder.build(), newKeyId, newValueId, codecs) as unknown as BpfMap<K, V>;
}

/** Key and value records for `createWithRecords`. */
export interface MapRecordsSpec<K, V> {
  /** The key record; omit for keyless maps (queue, stack, bloom_filter). */
  readonly key?: BpfRecord<K>;
  /** The value record (one CPU's value for per-CPU maps). */
  readonly value: BpfRecord<V>;
  /** C name of the key's struct in the BTF (default `'key'`). */
  readonly keyName?: string;
  /** C name of the value's struct in the BTF (default `'value'`). */
  readonly valueName?: string;
}

/**
 * Creates a map typed by records whose key and value also carry BTF built from the records'
 * layouts (see `btfForRecords`): bpftool prints its entries `formatted`, and other processes can
 * open it typed through its own BTF (`openTyped`) without knowing the records. Sizes come from
 * the records. Array maps get `unsigned int` as their BTF key type (the only key type the kernel
 * accepts for them). Map types that take no BTF are created without it, with a
 * `BPFMAP_BTF_REJECTED` warning.
 *
 * @example
 * const key = new BpfRecord([['pid', 'I'], ['comm', '16s']], { byteOrder: '@', strings: 'text' });
 * const value = new BpfRecord([['packets', 'Q'], ['bytes', 'Q']], { byteOrder: '@' });
 * const map = createWithRecords({ type: 'hash', maxEntries: 1024, name: 'flows' }, { key, value });
 * map.set({ pid: 1, comm: 'init' }, { packets: 1n, bytes: 60n });
 * // bpftool -j map dump name flows → [{ ..., "formatted": { "key": {"pid":1,"comm":"init"}, "value": {"packets":1,"bytes":60} } }]
 */
export function createWithRecords<const S extends SpecWithoutTypes, K = RecordObject, V = RecordObject>(
  spec: S,
  records: MapRecordsSpec<K, V>,
): BpfMap<K, MapValue<S['type'], V>> {
  const { key, value } = records;
  const isArray = ARRAY_MAP_TYPES.has(resolveMapType(spec.type));
  const { blob, keyTypeId, valueTypeId } = btfForRecords(key, value, {
    ...(records.keyName !== undefined ? { keyName: records.keyName } : {}),
    ...(records.valueName !== undefined ? { valueName: records.valueName } : {}),
    u32Key: isArray && key?.size === 4,
  });
  const codecs: MapCodecs<K, V> = { ...(key ? { key } : {}), value };
  return createTyped({ ...spec, keySize: key?.size ?? 0, valueSize: value.size }, blob, keyTypeId, valueTypeId, codecs) as unknown as BpfMap<K, MapValue<S['type'], V>>;
}

/** Map types whose BTF key must be a 32-bit int (the kernel's `array_map_check_btf`). */
const ARRAY_MAP_TYPES = new Set<number>([MapType.array, MapType.percpu_array]);

function describeType(btf: Btf, id: number): string {
  const type = btf.type(id);
  return type.name ? `'${type.kind === 'struct' || type.kind === 'union' || type.kind === 'enum' ? `${type.kind} ` : ''}${type.name}' (id ${id})` : `${type.kind} id ${id}`;
}

/**
 * Loads `blob`, creates the map with its key/value type ids, and falls back to a map without BTF
 * when the kernel refuses BTF for this map type.
 *
 * The kernel says "no BTF for this type" in two ways: ENOTSUPP from types whose `map_check_btf`
 * is `map_check_no_btf` (devmap, sockmap, cpumap, perf_event_array, ...), and EINVAL from types
 * that have no BTF check at all and so take no keyless BTF (queue, stack, ringbuf) or refuse the
 * key type (array maps need an int key). Sizes were checked before, so an EINVAL that goes away
 * without BTF is such a refusal; an EINVAL that stays is the spec's own fault and is thrown.
 */
function createTyped<K, V>(spec: MapSpec, blob: Uint8Array, keyTypeId: number, valueTypeId: number, codecs: MapCodecs<K, V>): BpfMap<K, unknown> {
  const btfObject = loadBtfHandle(blob);
  try {
    try {
      const btf = { [nativeObject]: btfObject };
      return BpfMap.create({ ...spec, btf: { fd: btf, keyTypeId, valueTypeId } }, codecs) as BpfMap<K, unknown>;
    } catch (error) {
      const refused = error instanceof BpfError && (error.errno === Errno.ENOTSUPP || error.errno === Errno.EOPNOTSUPP || error.errno === Errno.EINVAL);
      if (!refused) throw error;
      const map = BpfMap.create(spec, codecs) as BpfMap<K, unknown>;
      const typeName = mapTypeName(resolveMapType(spec.type));
      const why = error.errno === Errno.EINVAL
        ? 'the kernel accepts no BTF of this shape for this map type: keyless maps other than bloom_filter take none, array maps need a 32-bit int key'
        : 'the kernel takes no BTF key/value types for this map type';
      process.emitWarning(
        `map type ${typeName} rejected BTF key/value types (MAP_CREATE failed with ${error.code}: ${why}); ` +
          `created map${spec.name ? ` '${spec.name}'` : ''} without BTF, so bpftool shows raw bytes and openTyped() refuses it (ERR_BPFMAP_NO_BTF)`,
        { code: 'BPFMAP_BTF_REJECTED' },
      );
      return map;
    }
  } finally {
    // The map holds its own reference to the BTF object.
    native.objClose(btfObject);
  }
}

// BpfMap's btf() and typed() reach this module through this hook, so that bpf-map.ts need not import it.
installBtfSupport({ loadMapBtf, typedMap });
