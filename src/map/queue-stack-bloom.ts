/**
 * Operations of keyless maps: push, pop and peek on queues and stacks; add and mayContain on bloom
 * filters. Values go through the staging area like element operations (see elements.ts).
 */
import { native } from '../sys/native.js';
import { MapType } from '../sys/constants.js';
import { ENOENT, type MapCore } from './map-core.js';
import { resolveSetFlags, type SetFlags } from './flags.js';

/** Pushes onto a queue or stack. */
export function pushValue<K, V>(core: MapCore<K, V>, value: V, flags?: SetFlags): void {
  if (core.codecBusy) return pushValue(core.reentry(), value, flags);
  if (!core.userCodecs) return push(core, value, flags);
  core.codecBusy = true;
  try {
    push(core, value, flags);
  } finally {
    core.codecBusy = false;
  }
}

function push<K, V>(core: MapCore<K, V>, value: V, flags?: SetFlags): void {
  core.requireType('push', MapType.queue, MapType.stack);
  const flagBits = resolveSetFlags(flags);
  core.stageValue(value);
  const rc = native.mapUpdateStaged(core.handle, flagBits);
  if (rc !== 0) throw core.fail('MAP_UPDATE_ELEM', rc);
}

/** Removes and returns the next element of a queue or stack, or undefined. */
export function popValue<K, V>(core: MapCore<K, V>): V | undefined {
  if (core.codecBusy) return popValue(core.reentry());
  if (!core.userCodecs) return pop(core);
  core.codecBusy = true;
  try {
    return pop(core);
  } finally {
    core.codecBusy = false;
  }
}

function pop<K, V>(core: MapCore<K, V>): V | undefined {
  core.requireType('pop', MapType.queue, MapType.stack);
  const rc = native.mapLookupAndDeleteStaged(core.handle, 0);
  if (rc === 0) return core.valueCodec.decode(core.valueBuffer, 0);
  if (rc === ENOENT) return undefined;
  throw core.fail('MAP_LOOKUP_AND_DELETE_ELEM', rc);
}

/** The next element of a queue or stack without removing it, or undefined. */
export function peekValue<K, V>(core: MapCore<K, V>): V | undefined {
  if (core.codecBusy) return peekValue(core.reentry());
  if (!core.userCodecs) return peek(core);
  core.codecBusy = true;
  try {
    return peek(core);
  } finally {
    core.codecBusy = false;
  }
}

function peek<K, V>(core: MapCore<K, V>): V | undefined {
  core.requireType('peek', MapType.queue, MapType.stack);
  const rc = native.mapLookupStaged(core.handle, 0);
  if (rc === 0) return core.valueCodec.decode(core.valueBuffer, 0);
  if (rc === ENOENT) return undefined;
  throw core.fail('MAP_LOOKUP_ELEM', rc);
}

/** Adds a value to a bloom filter. */
export function addValue<K, V>(core: MapCore<K, V>, value: V): void {
  if (core.codecBusy) return addValue(core.reentry(), value);
  if (!core.userCodecs) return add(core, value);
  core.codecBusy = true;
  try {
    add(core, value);
  } finally {
    core.codecBusy = false;
  }
}

function add<K, V>(core: MapCore<K, V>, value: V): void {
  core.requireType('add', MapType.bloom_filter);
  core.stageValue(value);
  const rc = native.mapUpdateStaged(core.handle, 0);
  if (rc !== 0) throw core.fail('MAP_UPDATE_ELEM', rc);
}

/** True when a bloom filter may contain `value`. */
export function mayContainValue<K, V>(core: MapCore<K, V>, value: V): boolean {
  if (core.codecBusy) return mayContainValue(core.reentry(), value);
  if (!core.userCodecs) return bloomMayContain(core, value);
  core.codecBusy = true;
  try {
    return bloomMayContain(core, value);
  } finally {
    core.codecBusy = false;
  }
}

/** The bloom filter lookup itself, for callers that already run as one operation (`has`). */
export function bloomMayContain<K, V>(core: MapCore<K, V>, value: V): boolean {
  core.requireType('mayContain', MapType.bloom_filter);
  core.stageValue(value);
  const rc = native.mapLookupStaged(core.handle, 0);
  if (rc === 0) return true;
  if (rc === ENOENT) return false;
  throw core.fail('MAP_LOOKUP_ELEM', rc);
}
