/**
 * Maps whose values are fds: maps of maps (array_of_maps, hash_of_maps), prog_array,
 * perf_event_array, cgroup_array, sockmap and sockhash. Updates take an fd (or a bpfmap object's
 * handle); lookups of maps of maps and prog_array give ids.
 */
import { describe } from '../codec/codec.js';
import { native, nativeObjectOf, type HasNativeObject } from '../sys/native.js';
import { argumentError } from '../sys/errors.js';
import { MapType, holdsFdsType } from '../sys/constants.js';
import { ENOENT, type MapCore } from './map-core.js';
import { resolveSetFlags, type SetFlags } from './flags.js';

/** Map types besides maps-of-maps and prog_array whose updates take an fd. */
const TAKES_FD_TYPES: readonly number[] = [MapType.perf_event_array, MapType.cgroup_array, MapType.sockmap, MapType.sockhash];

/** What `setFd` stores: a bpfmap object, something with an fd, or an fd number. */
export type FdTarget = { readonly fd: number } | HasNativeObject | number;

/** Stores an fd (or a bpfmap object) under `key`. */
export function setFdValue<K, V>(core: MapCore<K, V>, key: K, target: FdTarget, flags?: SetFlags): void {
  if (core.codecBusy) return setFdValue(core.reentry(), key, target, flags);
  if (!core.userCodecs) return setFd(core, key, target, flags);
  core.codecBusy = true;
  try {
    setFd(core, key, target, flags);
  } finally {
    core.codecBusy = false;
  }
}

function setFd<K, V>(core: MapCore<K, V>, key: K, target: FdTarget, flags?: SetFlags): void {
  if (!holdsFdsType(core.type) && !TAKES_FD_TYPES.includes(core.type)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `setFd needs a map whose values are fds (array_of_maps, hash_of_maps, prog_array, perf_event_array, cgroup_array, sockmap, sockhash); '${core.name}' is ${core.typeName}`);
  }
  // A bpfmap object (map, program, perf event) passes its handle: the addon writes its private
  // fd, so a closed object is ERR_BPFMAP_CLOSED, never whatever reused its number. Anything
  // else is an fd the caller owns (a socket, a cgroup), used as is at this call.
  const object = nativeObjectOf(target);
  const fd = object !== undefined ? undefined : typeof target === 'number' ? target : (target as { readonly fd?: unknown } | null)?.fd;
  if (object === undefined && (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `expected a BpfMap or an fd, got ${describe(target)}`);
  }
  const flagBits = resolveSetFlags(flags);
  core.ensureOpen();
  core.stageKey(key);
  let rc: number;
  if (object !== undefined) {
    rc = native.mapUpdateStagedObject(core.handle, object, flagBits);
  } else {
    core.stagedValueView.setUint32(0, fd as number, true);
    rc = native.mapUpdateStaged(core.handle, flagBits);
  }
  if (rc !== 0) throw core.fail('MAP_UPDATE_ELEM', rc);
}

/** The id of the inner map or program under `key`, or undefined. */
export function getIdValue<K, V>(core: MapCore<K, V>, key: K): number | undefined {
  if (core.codecBusy) return getIdValue(core.reentry(), key);
  if (!core.userCodecs) return getId(core, key);
  core.codecBusy = true;
  try {
    return getId(core, key);
  } finally {
    core.codecBusy = false;
  }
}

function getId<K, V>(core: MapCore<K, V>, key: K): number | undefined {
  if (!holdsFdsType(core.type)) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `getId needs an array_of_maps, hash_of_maps or prog_array; '${core.name}' is ${core.typeName}`);
  }
  core.stageKey(key);
  const rc = native.mapLookupStaged(core.handle, 0);
  if (rc === 0) return core.stagedValueView.getUint32(0, true);
  if (rc === ENOENT) return undefined;
  throw core.fail('MAP_LOOKUP_ELEM', rc);
}
