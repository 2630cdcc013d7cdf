/** Which map an event reader reads: a `BpfMap` the caller keeps, or a pin path. */
import { BpfMap } from '../map/bpf-map.js';
import { mapTypeName } from '../sys/constants.js';
import { argumentError, checkHandle } from '../sys/errors.js';
import { native, nativeObjectOf, type NativeObject } from '../sys/native.js';

/** A map to read events from: an open map (its fd is duplicated; close yours when you like) or a pin path. */
export type EventMapSource = { readonly fd: number } | string;

/**
 * Opens the reader's own handle on the map and checks its type. The reader closes it.
 * @throws TypeError (ERR_BPFMAP_OPERATION) naming the map's actual type when it is not `expected`.
 */
export function openEventMap(source: EventMapSource, expected: number, reader: string): BpfMap {
  let map: BpfMap;
  const object = nativeObjectOf(source);
  if (typeof source === 'string') map = BpfMap.openPinned(source);
  // A bpfmap map: a duplicate of its handle (ERR_BPFMAP_CLOSED when it is closed), never its fd number.
  else if (object !== undefined) map = BpfMap.adopt(checkHandle('OBJ_GET_INFO_BY_FD', native.objDup(object as NativeObject<'map'>)));
  // An fd the caller owns: duplicated and checked to be a BPF map now; later closes change nothing here.
  else if (source !== null && typeof source === 'object' && typeof source.fd === 'number') map = BpfMap.fromFd(source.fd);
  else throw argumentError(TypeError, 'ERR_BPFMAP_SOURCE', `${reader} needs a map (an object with fd) or a pin path`);
  if (map.type !== expected) {
    const actual = map.typeName;
    map.close();
    throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `${reader} needs a ${mapTypeName(expected)} map; ${map.name ? `'${map.name}'` : `map ${map.id}`} is ${actual}`);
  }
  return map;
}
