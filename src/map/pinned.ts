/**
 * Reusing pinned maps: the compatibility check libbpf makes before it reuses a map pinned by
 * name (type, key and value sizes, max entries, flags, map_extra), and `openOrCreatePinned`,
 * which opens a compatible pin or creates and pins the map; it also compares the key and value
 * BTF types when the spec names some (`btfDifferences`).
 */
import type { Btf } from '../codec/btf/btf.js';
import { btfTypeShape } from '../codec/btf/shape.js';
import { btfFromFd, btfFromHandle, btfFromId } from '../codec/btf/sources.js';
import { resolveMapType, mapTypeName, MapFlags } from '../sys/constants.js';
import { BpfError, Errno } from '../sys/errors.js';
import { nativeObjectOf, type NativeObject } from '../sys/native.js';
import type { MapInfo } from './info.js';
import { resolveFlags, type MapBtfSpec, type MapSpec } from './spec.js';

/** One attribute that differs between a pinned map and the map wanted there. */
export interface PinDifference {
  /**
   * `'type'`, `'keySize'`, `'valueSize'`, `'maxEntries'`, `'flags'`, `'mapExtra'`; `'btf'` when
   * the spec gives BTF types and the pin has none; `'keyType'`/`'valueType'` when both have BTF
   * and the layouts differ (`pinned` and `wanted` are then `btfTypeShape` texts).
   */
  readonly field: 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'mapExtra' | 'btf' | 'keyType' | 'valueType';
  readonly pinned: number | bigint | string;
  readonly wanted: number | bigint | string;
}

/** A pinned map that cannot be reused: its attributes differ from the spec's (`differences` says which). */
export class PinMismatchError extends Error {
  /** Always `'PinMismatchError'`. */
  override readonly name = 'PinMismatchError';
  /** Always `'ERR_BPFMAP_PIN_MISMATCH'`. */
  readonly code = 'ERR_BPFMAP_PIN_MISMATCH';
  /** The pin path. */
  readonly path: string;
  /** Each attribute that differs. */
  readonly differences: readonly PinDifference[];

  constructor(path: string, differences: readonly PinDifference[], mapName?: string) {
    const list = differences.map((d) => `${d.field} is ${String(d.pinned)} there but ${String(d.wanted)} in the spec`).join(', ');
    super(`the map pinned at ${path} cannot be reused${mapName ? ` for map '${mapName}'` : ''}: ${list} (remove the pin or change the spec)`);
    this.path = path;
    this.differences = differences;
  }
}

/** The attributes of a spec the check compares. */
export interface PinnedShape {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly mapExtra: bigint;
}

/** The shape a `MapSpec` asks for (flags as MAP_CREATE would send them). */
export function shapeOfSpec(spec: MapSpec): PinnedShape {
  let flags = resolveFlags(spec.flags);
  if (spec.mmapable) flags |= MapFlags.MMAPABLE;
  if (spec.numaNode !== undefined) flags |= MapFlags.NUMA_NODE;
  return {
    type: resolveMapType(spec.type),
    keySize: spec.keySize ?? 0, // left out only where it must be 0 (ring buffers, queues, ...)
    valueSize: spec.valueSize ?? 0,
    maxEntries: spec.maxEntries,
    flags: flags >>> 0,
    mapExtra: BigInt(spec.mapExtra ?? 0),
  };
}

/** What differs between a pinned map's info and the wanted shape (empty: compatible). */
export function pinDifferences(info: MapInfo, wanted: PinnedShape): PinDifference[] {
  const differences: PinDifference[] = [];
  if (info.type !== wanted.type) differences.push({ field: 'type', pinned: mapTypeName(info.type), wanted: mapTypeName(wanted.type) });
  if (info.keySize !== wanted.keySize) differences.push({ field: 'keySize', pinned: info.keySize, wanted: wanted.keySize });
  if (info.valueSize !== wanted.valueSize) differences.push({ field: 'valueSize', pinned: info.valueSize, wanted: wanted.valueSize });
  if (info.maxEntries !== wanted.maxEntries) differences.push({ field: 'maxEntries', pinned: info.maxEntries, wanted: wanted.maxEntries });
  if (info.flags !== wanted.flags) differences.push({ field: 'flags', pinned: `0x${info.flags.toString(16)}`, wanted: `0x${wanted.flags.toString(16)}` });
  if (info.mapExtra !== wanted.mapExtra) differences.push({ field: 'mapExtra', pinned: info.mapExtra, wanted: wanted.mapExtra });
  return differences;
}

/** The parsed BTF that a spec's `btf.fd` names (an fd of the caller's, or a bpfmap BTF object). */
function specBtf(spec: MapBtfSpec): Btf {
  const fd: unknown = spec.fd;
  if (typeof fd === 'number') return btfFromFd(fd).btf;
  return btfFromHandle(nativeObjectOf(fd) as NativeObject<'btf'>).btf;
}

/**
 * What differs between the key and value BTF types of a pinned map and those a spec gives
 * (empty when the spec gives none, or when they lay out and name their bytes alike: typedef names
 * do not count, see `btfTypeShape`). A pin without BTF is one difference, `btf`.
 */
export function btfDifferences(info: MapInfo, spec: MapSpec): PinDifference[] {
  if (spec.btf === undefined) return [];
  const wantedBtf = specBtf(spec.btf);
  const shape = (btf: Btf, id: number): string => (id === 0 ? 'none' : btfTypeShape(btf, id));
  const wantedKey = shape(wantedBtf, spec.btf.keyTypeId);
  const wantedValue = shape(wantedBtf, spec.btf.valueTypeId);
  const pinnedBtf = info.btfId !== 0 && info.btfValueTypeId !== 0 ? btfFromId(info.btfId).btf : undefined;
  if (pinnedBtf === undefined) return [{ field: 'btf', pinned: 'none', wanted: `key ${wantedKey}, value ${wantedValue}` }];
  const differences: PinDifference[] = [];
  const pinnedKey = shape(pinnedBtf, info.btfKeyTypeId);
  const pinnedValue = shape(pinnedBtf, info.btfValueTypeId);
  if (pinnedKey !== wantedKey) differences.push({ field: 'keyType', pinned: pinnedKey, wanted: wantedKey });
  if (pinnedValue !== wantedValue) differences.push({ field: 'valueType', pinned: pinnedValue, wanted: wantedValue });
  return differences;
}

/** True for a BpfError that says nothing is pinned at the path. */
export function isNotPinned(error: unknown): boolean {
  return error instanceof BpfError && error.errno === Errno.ENOENT;
}
