/**
 * Element operations of keyed maps: get, getInto, set, delete, has, getAndDelete, nextKey.
 *
 * Each public operation runs on the map's staging area. With user codecs it marks the core busy
 * while it runs, so that a codec calling back into the same map runs on `core.reentry()` and
 * leaves the half-filled staging area alone; raw maps skip that bookkeeping.
 */
import { copyBytes, describe, isUint8ArrayOfSize, uint8ArrayLength } from '../codec/codec.js';
import { native } from '../sys/native.js';
import { BpfError, sizeError, argumentError } from '../sys/errors.js';
import { MapType } from '../sys/constants.js';
import { ENOENT, type MapCore } from './map-core.js';
import { resolveGetFlags, resolveSetFlags, type GetFlags, type SetFlags } from './flags.js';
import { bloomMayContain } from './queue-stack-bloom.js';

/** The value under `key` (decoded), or undefined. */
export function getElement<K, V>(core: MapCore<K, V>, key: K, flags?: GetFlags): V | undefined {
  if (core.codecBusy) return getElement(core.reentry(), key, flags);
  if (!core.userCodecs) return lookup(core, key, flags);
  core.codecBusy = true;
  try {
    return lookup(core, key, flags);
  } finally {
    core.codecBusy = false;
  }
}

function lookup<K, V>(core: MapCore<K, V>, key: K, flags?: GetFlags): V | undefined {
  core.requireKeyed('get');
  const flagBits = flags === undefined ? 0 : resolveGetFlags(flags);
  core.stageKey(key);
  const rc = native.mapLookupStaged(core.handle, flagBits);
  if (rc === 0) return core.valueCodec.decode(core.valueBuffer, 0);
  if (rc === ENOENT) return undefined;
  throw lookupFailure(core, rc, flagBits);
}

/** Looks `key` up into `target` (`valueBufferSize` bytes); false when missing. */
export function getElementInto<K, V>(core: MapCore<K, V>, key: K, target: Uint8Array, flags?: GetFlags): boolean {
  if (core.codecBusy) return getElementInto(core.reentry(), key, target, flags);
  if (!core.userCodecs) return lookupInto(core, key, target, flags);
  core.codecBusy = true;
  try {
    return lookupInto(core, key, target, flags);
  } finally {
    core.codecBusy = false;
  }
}

function lookupInto<K, V>(core: MapCore<K, V>, key: K, target: Uint8Array, flags?: GetFlags): boolean {
  core.requireKeyed('getInto');
  if (!isUint8ArrayOfSize(target, core.valueBufferSize)) {
    const targetLength = uint8ArrayLength(target);
    if (targetLength < 0) throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `value buffer expected a Uint8Array of ${core.valueBufferSize} bytes, got ${describe(target)}`);
    throw sizeError('value buffer', core.valueBufferSize, targetLength);
  }
  const flagBits = flags === undefined ? 0 : resolveGetFlags(flags);
  core.stageKey(key);
  const rc = native.mapLookupStaged(core.handle, flagBits);
  if (rc === 0) {
    copyBytes(core.stagedValue, target);
    return true;
  }
  if (rc === ENOENT) return false;
  throw lookupFailure(core, rc, flagBits);
}

function lookupFailure<K, V>(core: MapCore<K, V>, rc: number, flagBits: number): BpfError {
  return core.elementFailure('MAP_LOOKUP_ELEM', rc, flagBits);
}

/** Stores `value` under `key`. */
export function setElement<K, V>(core: MapCore<K, V>, key: K, value: V, flags?: SetFlags): void {
  if (core.codecBusy) return setElement(core.reentry(), key, value, flags);
  if (!core.userCodecs) return update(core, key, value, flags);
  core.codecBusy = true;
  try {
    update(core, key, value, flags);
  } finally {
    core.codecBusy = false;
  }
}

function update<K, V>(core: MapCore<K, V>, key: K, value: V, flags?: SetFlags): void {
  core.requireKeyed('set');
  const flagBits = resolveSetFlags(flags);
  core.stageKey(key);
  core.stageValue(value);
  const rc = native.mapUpdateStaged(core.handle, flagBits);
  if (rc !== 0) throw core.elementFailure('MAP_UPDATE_ELEM', rc, flagBits);
}

/** Deletes `key`; true when it existed. */
export function deleteElement<K, V>(core: MapCore<K, V>, key: K): boolean {
  if (core.codecBusy) return deleteElement(core.reentry(), key);
  if (!core.userCodecs) return remove(core, key);
  core.codecBusy = true;
  try {
    return remove(core, key);
  } finally {
    core.codecBusy = false;
  }
}

function remove<K, V>(core: MapCore<K, V>, key: K): boolean {
  core.requireKeyed('delete');
  core.stageKey(key);
  const rc = native.mapDeleteStaged(core.handle);
  if (rc === 0) return true;
  if (rc === ENOENT) return false;
  throw core.fail('MAP_DELETE_ELEM', rc);
}

/** True when `key` has a value (bloom filters: when the filter may hold it). */
export function hasElement<K, V>(core: MapCore<K, V>, key: K): boolean {
  if (core.codecBusy) return hasElement(core.reentry(), key);
  if (!core.userCodecs) return has(core, key);
  core.codecBusy = true;
  try {
    return has(core, key);
  } finally {
    core.codecBusy = false;
  }
}

function has<K, V>(core: MapCore<K, V>, key: K): boolean {
  if (core.type === MapType.bloom_filter) return bloomMayContain(core, key as unknown as V);
  core.requireKeyed('has');
  core.stageKey(key);
  const rc = native.mapLookupStaged(core.handle, 0);
  if (rc === 0) return true;
  if (rc === ENOENT) return false;
  throw core.fail('MAP_LOOKUP_ELEM', rc);
}

/** Removes `key` and returns its value (decoded), or undefined. */
export function getAndDeleteElement<K, V>(core: MapCore<K, V>, key: K): V | undefined {
  if (core.codecBusy) return getAndDeleteElement(core.reentry(), key);
  if (!core.userCodecs) return lookupAndDelete(core, key);
  core.codecBusy = true;
  try {
    return lookupAndDelete(core, key);
  } finally {
    core.codecBusy = false;
  }
}

function lookupAndDelete<K, V>(core: MapCore<K, V>, key: K): V | undefined {
  core.requireKeyed('getAndDelete');
  core.stageKey(key);
  const rc = native.mapLookupAndDeleteStaged(core.handle, 0);
  if (rc === 0) return core.valueCodec.decode(core.valueBuffer, 0);
  if (rc === ENOENT) return undefined;
  throw core.fail('MAP_LOOKUP_AND_DELETE_ELEM', rc);
}

/** The key after `key` (the first when omitted), decoded, or undefined at the end. */
export function nextKeyOf<K, V>(core: MapCore<K, V>, key?: K): K | undefined {
  if (core.codecBusy) return nextKeyOf(core.reentry(), key);
  if (!core.userCodecs) return nextKey(core, key);
  core.codecBusy = true;
  try {
    return nextKey(core, key);
  } finally {
    core.codecBusy = false;
  }
}

function nextKey<K, V>(core: MapCore<K, V>, key?: K): K | undefined {
  core.requireKeyed('nextKey');
  const current = key === undefined ? null : core.key(key);
  const rc = native.mapNextKey(core.handle, current, core.nextKeyBuffer);
  if (rc === 0) return core.keyCodec.decode(core.nextKeyBuffer, 0);
  if (rc === ENOENT) return undefined;
  throw core.fail('MAP_GET_NEXT_KEY', rc);
}
