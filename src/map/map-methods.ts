/**
 * Which `BpfMap` methods each map type supports, and the typed error for a method called on a map
 * type without it. The static types (`KindFor`) refuse these calls when a map's type is known;
 * this refuses them at run time too (maps opened by pin, id or fd), before any syscall. Free of
 * the native addon, so that `MemoryMap` can share it.
 */
import { argumentError } from '../sys/errors.js';
import { MapType, mapTypeName } from '../sys/constants.js';

/** Element, iteration and batch methods of maps with keys. */
const KEYED_METHODS: readonly string[] = [
  'get', 'getInto', 'set', 'delete', 'has', 'getAndDelete', 'nextKey', 'entries', 'keys', 'values',
  'batches', 'getBatch', 'getAndDeleteBatch', 'setBatch', 'deleteBatch', 'clear',
];
const QUEUE_METHODS: readonly string[] = ['push', 'pop', 'peek', 'clear'];
const BLOOM_METHODS: readonly string[] = ['add', 'has', 'mayContain'];

/** True for map types with keys, which the element, iteration and batch methods work on. */
export function isKeyedType(type: number): boolean {
  return type !== MapType.queue && type !== MapType.stack && type !== MapType.bloom_filter && type !== MapType.ringbuf && type !== MapType.user_ringbuf;
}

/** The element methods a map type supports (ring buffers: none; they are read and written by the readers of src/events). */
export function supportedMethods(type: number): readonly string[] {
  if (type === MapType.queue || type === MapType.stack) return QUEUE_METHODS;
  if (type === MapType.bloom_filter) return BLOOM_METHODS;
  if (type === MapType.ringbuf || type === MapType.user_ringbuf) return [];
  return KEYED_METHODS;
}

/** The error `unsupportedMethod` returns: `code` `ERR_BPFMAP_OPERATION`, with the map type and what it supports. */
export interface UnsupportedMethodError extends TypeError {
  readonly code: 'ERR_BPFMAP_OPERATION';
  /** The method that was called. */
  readonly method: string;
  /** bpftool's name of the map's type. */
  readonly mapType: string;
  /** The element methods this map type supports (empty for ring buffers). */
  readonly supported: readonly string[];
}

/**
 * The error for `method` called on a map of `type` that does not support it; `needs` says what
 * the method needs (`'a keyed map'`, `'a queue or stack map'`). Says what the map supports.
 */
export function unsupportedMethod(method: string, needs: string, type: number, mapName: string, mapId: number): UnsupportedMethodError {
  const typeName = mapTypeName(type);
  const supported = supportedMethods(type);
  const label = mapName ? `'${mapName}'` : `map id ${mapId}`;
  const what = type === MapType.ringbuf
    ? 'a ringbuf has no element methods: read it with RingBuffer'
    : type === MapType.user_ringbuf
      ? 'a user_ringbuf has no element methods: write it with UserRingBuffer'
      : `a ${typeName} map supports ${supported.join(', ')}`;
  const keyless = needs === 'a keyed map' && !isKeyedType(type);
  const message = keyless
    ? `${method} needs a keyed map; ${typeName} map ${label} has no keys (${what})`
    : `${method} needs ${needs}; ${label} is ${typeName} (${what})`;
  return Object.assign(argumentError(TypeError, 'ERR_BPFMAP_OPERATION', message), { method, mapType: typeName, supported }) as UnsupportedMethodError;
}

/** `needs` for `unsupportedMethod` from the map types a method works on. */
export function needsTypes(types: readonly MapType[]): string {
  return `a ${types.map(mapTypeName).join(' or ')} map`;
}
