/**
 * Getting map handles: creating a map from a spec, opening one by pin path, id or a caller's fd,
 * listing maps, and pinning. Each function returns the native handle `BpfMap` then takes over.
 */
import { show, describe } from '../codec/codec.js';
import { native, nativeObjectOf, NativeKind, type NativeObject } from '../sys/native.js';
import { Command } from '../sys/commands.js';
import { BpfError, Errno, check, checkHandle, argumentError, errnoName, type ErrorSubject } from '../sys/errors.js';
import { mapTypeName } from '../sys/constants.js';
import { idAttr, StructBuffer } from '../sys/layout.js';
import { bpfObjectKind } from '../sys/fd-kind.js';
import { explainOpenPinFailure, explainPinFailure } from '../sys/pin-path.js';
import { readMapInfo, type MapInfo } from './info.js';
import { encodeMapSpec, type MapSpec } from './spec.js';
import { openFlags } from './flags.js';

const ENOENT = -Errno.ENOENT;

/** Creates the map of `spec` (see `BpfMap.create`). */
export function createMapObject(spec: MapSpec): NativeObject<'map'> {
  const { attr, name, innerMap, btf } = encodeMapSpec(spec);
  const owned: NativeObject[] = [];
  try {
    const inner = innerMap === undefined ? null : objectArgument(innerMap, 'map', 'innerMap', owned);
    const btfObject = btf === undefined ? null : objectArgument(btf, 'btf', 'btf.fd', owned);
    const object = native.mapCreate(attr, inner, btfObject);
    if (typeof object === 'number') {
      const hint = -object === Errno.EINVAL ? describeCreateHint(spec) : undefined;
      throw BpfError.fromErrno('MAP_CREATE', -object, { name }, hint);
    }
    return object;
  } finally {
    // Duplicates of fds the caller passed: the map holds its own references now.
    for (const object of owned) native.objClose(object);
  }
}

/** Opens the map pinned at `path` (see `BpfMap.openPinned`). */
export function openPinnedObject(path: string, options: { readOnly?: boolean; writeOnly?: boolean } | undefined): NativeObject<'map'> {
  checkPinPath(path);
  const object = native.objGet(path, openFlags(options));
  if (typeof object === 'number') {
    const fd = object;
    if (-fd === Errno.EINVAL) {
      throw argumentError(TypeError, 'ERR_BPFMAP_NOT_A_MAP', `${path} is not a BPF map: it is a pinned object of another kind`);
    }
    if (-fd === Errno.ENOENT) {
      throw new BpfError(`no map pinned at ${path}`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'OBJ_GET', subject: { path } });
    }
    const reason = explainOpenPinFailure(path);
    throw reason === undefined ? BpfError.fromErrno('OBJ_GET', -fd, { path }) : BpfError.withReason('OBJ_GET', -fd, reason, { path });
  }
  if (native.objKind(object) !== NativeKind.map) {
    const kind = kindName(native.objKind(object));
    native.objClose(object);
    throw argumentError(TypeError, 'ERR_BPFMAP_NOT_A_MAP', `${path} is not a BPF map: it is a BPF ${kind}`);
  }
  return object as NativeObject<'map'>;
}

/** Opens the map with this id (see `BpfMap.fromId`). */
export function mapObjectById(id: number, options: { readOnly?: boolean; writeOnly?: boolean } | undefined): NativeObject<'map'> {
  if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_ID', `map id must be a positive 32-bit integer, got ${show(id)}`);
  const object = native.objGetById<'map'>(Command.MAP_GET_FD_BY_ID, id, openFlags(options));
  if (typeof object === 'number') {
    const fd = object;
    if (-fd === Errno.ENOENT) {
      throw new BpfError(`no map with id ${id}`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'MAP_GET_FD_BY_ID', subject: { id } });
    }
    throw BpfError.fromErrno('MAP_GET_FD_BY_ID', -fd, { id });
  }
  return object;
}

/** Ids of every map on the system, in increasing order (needs CAP_SYS_ADMIN). */
export function* mapIds(): Generator<number> {
  const attr = new StructBuffer(idAttr);
  let id = 0;
  for (;;) {
    attr.setU32('id', id).setU32('next_id', 0);
    const rc = native.bpfPlain(Command.MAP_GET_NEXT_ID, attr.bytes);
    if (rc === ENOENT) return;
    check('MAP_GET_NEXT_ID', rc);
    id = attr.u32('next_id');
    yield id;
  }
}

/** Info of one map by id, without keeping it open. */
export function mapInfoById(id: number): MapInfo {
  const object = checkHandle('MAP_GET_FD_BY_ID', native.objGetById<'map'>(Command.MAP_GET_FD_BY_ID, id, 0), { id });
  try {
    return readMapInfo(object);
  } finally {
    native.objClose(object);
  }
}

/** Pins a map on bpffs at `path`, with the likely reason when the kernel refuses. */
export function pinMapObject(object: NativeObject<'map'>, path: string, subject: ErrorSubject): void {
  checkPinPath(path);
  const rc = native.objPin(object, path);
  if (rc !== 0) {
    const reason = -rc === Errno.EEXIST ? undefined : explainPinFailure(path);
    throw reason === undefined ? BpfError.fromErrno('OBJ_PIN', -rc, { ...subject, path }) : BpfError.withReason('OBJ_PIN', -rc, reason, { ...subject, path });
  }
}

/**
 * A pin path must be a non-empty string without NUL: the kernel reads a C string, so anything
 * after a NUL would be silently cut off and another path pinned or opened.
 */
export function checkPinPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '') throw argumentError(TypeError, 'ERR_BPFMAP_PATH', `pin path must be a non-empty string, got ${describe(path)}`);
  if (path.includes('\0')) throw argumentError(TypeError, 'ERR_BPFMAP_PATH', `pin path must not contain a NUL character, got ${JSON.stringify(path)}`);
}

/** bpftool's word for a handle kind. */
function kindName(kind: number): string {
  return (Object.keys(NativeKind) as (keyof typeof NativeKind)[]).find((name) => NativeKind[name] === kind) ?? `object of kind ${kind}`;
}

/**
 * A map handle on a duplicate of an fd the caller owns (the caller keeps its own), checked to be
 * a BPF map: OBJ_GET_INFO_BY_FD succeeds on programs, links and BTF too, and their info would be
 * misread as a map's.
 */
export function mapFromUserFd(fd: number, option = 'fd'): NativeObject<'map'> {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw argumentError(RangeError, 'ERR_BPFMAP_FD', `${option} must be a non-negative integer, got ${describe(fd)}`);
  const object = native.objFromFd<'map'>(fd, NativeKind.map);
  if (typeof object !== 'number') return object;
  if (-object === Errno.EINVAL) {
    const kind = bpfObjectKind(fd) ?? 'unknown';
    const described = kind.startsWith('anon_inode:') || kind.startsWith('/') || kind.includes(':') ? `'${kind}'` : `a BPF ${kind}`;
    throw argumentError(TypeError, 'ERR_BPFMAP_NOT_A_MAP', `${option} ${fd} is not a BPF map: it is ${described}`);
  }
  throw argumentError(TypeError, 'ERR_BPFMAP_FD', `${option} ${fd} cannot be used: ${errnoName(-object)}`);
}

/**
 * The handle for an object argument: a bpfmap object's own handle (ERR_BPFMAP_CLOSED when it is
 * closed), or a checked duplicate of an fd number the caller owns (added to `owned`, for the
 * caller to close once the kernel holds its own reference).
 */
function objectArgument<Kind extends 'map' | 'btf'>(value: unknown, kind: Kind, option: string, owned: NativeObject[]): NativeObject<Kind> {
  const object = nativeObjectOf(value);
  if (object !== undefined) {
    if (native.objKind(object) !== NativeKind[kind]) throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `${option} must be a BPF ${kind}, got a BPF ${kindName(native.objKind(object))}`);
    if (!native.objIsOpen(object)) throw argumentError(TypeError, 'ERR_BPFMAP_CLOSED', `${option} is closed`);
    return object as NativeObject<Kind>;
  }
  const fd = typeof value === 'number' ? value : (value as { readonly fd?: unknown } | null)?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `${option} must be a ${kind === 'map' ? 'BpfMap' : 'BPF BTF object'} or an fd number, got ${describe(value)}`);
  }
  const dup = native.objFromFd<Kind>(fd, NativeKind[kind]);
  if (typeof dup === 'number') {
    throw argumentError(TypeError, 'ERR_BPFMAP_SPEC', `${option} ${fd} is not an open BPF ${kind === 'map' ? 'map' : 'BTF object'} (${errnoName(-dup)})`);
  }
  owned.push(dup);
  return dup;
}

/** Adds the most common cause to an EINVAL from MAP_CREATE. */
function describeCreateHint(spec: MapSpec): string | undefined {
  const type = typeof spec.type === 'string' ? spec.type : mapTypeName(spec.type);
  switch (type) {
    case 'lpm_trie':
      return 'lpm_trie needs the NO_PREALLOC flag and a key of 4 + N bytes';
    case 'queue':
    case 'stack':
    case 'bloom_filter':
      return `${type} needs keySize 0`;
    case 'ringbuf':
    case 'user_ringbuf':
      return `${type} needs keySize 0, valueSize 0 and maxEntries a power-of-two multiple of the page size`;
    case 'array':
    case 'percpu_array':
      return `${type} needs keySize 4`;
    case 'array_of_maps':
    case 'hash_of_maps':
      return `${type} needs innerMap (a template map) and valueSize 4`;
    default:
      return undefined;
  }
}

/** Ids of the maps with this name, in increasing order (maps that vanish while listing are skipped). */
export function mapIdsByName(name: string): number[] {
  const ids: number[] = [];
  for (const id of mapIds()) {
    let info: MapInfo;
    try {
      info = mapInfoById(id);
    } catch (error) {
      if (error instanceof BpfError && error.code === 'ENOENT') continue;
      throw error;
    }
    if (info.name === name) ids.push(id);
  }
  return ids;
}

/** Info of every map on the system (maps that vanish meanwhile are skipped). */
export function listMaps(): MapInfo[] {
  const infos: MapInfo[] = [];
  for (const id of mapIds()) {
    try {
      infos.push(mapInfoById(id));
    } catch (error) {
      if (error instanceof BpfError && error.code === 'ENOENT') continue;
      throw error;
    }
  }
  return infos;
}
