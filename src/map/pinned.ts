/**
 * Reusing pinned maps: the compatibility check libbpf makes before it reuses a map pinned by
 * name (type, key and value sizes, max entries, flags, map_extra), and `openOrCreatePinned`,
 * which opens a compatible pin or creates and pins the map.
 */
import { resolveMapType, mapTypeName, MapFlags } from '../sys/constants.js';
import { BpfError, Errno } from '../sys/errors.js';
import type { MapInfo } from './info.js';
import { resolveFlags, type MapSpec } from './spec.js';

/** One attribute that differs between a pinned map and the map wanted there. */
export interface PinDifference {
  /** `'type'`, `'keySize'`, `'valueSize'`, `'maxEntries'`, `'flags'` or `'mapExtra'`. */
  readonly field: 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'mapExtra';
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

/** True for a BpfError that says nothing is pinned at the path. */
export function isNotPinned(error: unknown): boolean {
  return error instanceof BpfError && error.errno === Errno.ENOENT;
}
