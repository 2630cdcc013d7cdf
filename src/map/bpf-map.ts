/**
 * `BpfMap`: a handle on one BPF map, with a Map-like API over raw bpf(2).
 *
 * Keys and values are `Uint8Array`s by default; codecs (records, BTF types) make a map typed,
 * `BpfMap<K, V>`. Each map has a staging area for one key and one value, owned by the addon:
 * element operations put their key and value there and pass the addon only the map's handle, so
 * they allocate nothing but the decoded result and cross into native code once per operation.
 */
import { show, type Codec, bytesCodec, isBytesCodec, copyBytes, describe, uint8ArrayLength } from '../codec/codec.js';
import { native, nativeObject, nativeObjectOf, NativeKind, type HasNativeObject, type NativeMapHandle, type NativeMapId, type NativeObject } from '../sys/native.js';
import { Command } from '../sys/commands.js';
import { BpfError, BpfBatchError, Errno, check, checkHandle, sizeError, argumentError, errnoName, type ErrorSubject } from '../sys/errors.js';
import type { CommandName } from '../sys/commands.js';
import type { MapTypeName } from '../sys/constants.js';
import {
  FileFlags,
  MapFlags,
  MapType,
  UpdateFlags,
  holdsFdsType,
  isKeylessType,
  isPerCpuType,
  mapTypeName,
  type UpdateFlag,
} from '../sys/constants.js';
import { idAttr, StructBuffer } from '../sys/layout.js';
import { possibleCpus } from '../sys/cpus.js';
import { bpfObjectKind } from '../sys/fd-kind.js';
import { explainOpenPinFailure, explainPinFailure } from '../sys/pin-path.js';
import { readMapInfo, readFdInfo, type MapInfo } from './info.js';
import { encodeMapSpec, type MapSpec } from './spec.js';
import { perCpuCodec } from './codecs.js';
import { roundUp8 } from '../sys/layout.js';
import { MappedArray } from './mapped-array.js';
import { BatchCursor, BatchBuffers, type MapBatch, type BatchOptions } from './batch.js';
import { PinMismatchError, isNotPinned, pinDifferences, shapeOfSpec } from './pinned.js';
import type { Btf } from '../codec/btf/btf.js';

/**
 * What `btf()` and `typed()` need from btf-map.ts, which installs it when it loads (the package's
 * entry point loads it). Raw-map users inside the package (the CLI's lookup, dump, ...) then start
 * without loading the BTF parser and codecs, a third of the modules a command would load.
 */
interface BtfSupport {
  loadMapBtf(map: BpfMap<unknown, unknown>): Btf | undefined;
  typedMap<K, V>(map: BpfMap<unknown, unknown>): BpfMap<K, V>;
}

let btfSupport: BtfSupport | undefined;

/** Installs BTF support (btf-map.ts calls this when it loads). Internal. */
export function installBtfSupport(support: BtfSupport): void {
  btfSupport = support;
}

function requireBtfSupport(): BtfSupport {
  if (btfSupport === undefined) throw new Error("bpfmap: BTF support is not loaded; import BpfMap from 'bpfmap' (the package entry point loads it)");
  return btfSupport;
}

/** Per-CPU map types, by name or number: their values are arrays, one per possible CPU. */
export type PerCpuMapType =
  | 'percpu_hash' | 'percpu_array' | 'lru_percpu_hash' | 'percpu_cgroup_storage'
  | MapType.percpu_hash | MapType.percpu_array | MapType.lru_percpu_hash | MapType.percpu_cgroup_storage;

/** The value type of a map of type `Type` whose one-CPU value codec gives `T`. */
export type MapValue<Type, T> = Type extends PerCpuMapType ? T[] : T;

/**
 * The map type a handle's type knows: a `MapTypeName` for maps made by `BpfMap.create` with a
 * type name, or `AnyMapKind` (every name) when it is not known (opened by pin, id or fd).
 */
export type AnyMapKind = MapTypeName | 'unknown';

/** The kind of a created map, from its spec's `type`. */
export type MapKindOf<Type> = Type extends MapTypeName ? Type : AnyMapKind;

/**
 * `Kind` when a method fits a map of that kind (`Allowed`) or the kind is not known; `never`
 * otherwise, which makes the method's `this` check fail at compile time: `push` on a hash map,
 * `get` on a ring buffer. The runtime checks stay for maps whose type is not known.
 */
export type KindFor<Kind, Allowed extends string> = AnyMapKind extends Kind ? Kind : Kind extends Allowed ? Kind : never;

/** Map types with keys and values that `get`/`set`/`delete`/iteration work on. */
export type KeyedMapKind = Exclude<MapTypeName, 'queue' | 'stack' | 'bloom_filter' | 'ringbuf' | 'user_ringbuf'>;

/** Codecs that make a map typed. Omitted ones stay raw bytes. */
export interface MapCodecs<K, T = unknown> {
  /** Key codec; its size must equal the map's key size. */
  readonly key?: Codec<K>;
  /**
   * Value codec for one value; its size must equal the map's value size. For per-CPU maps give
   * the codec of one CPU's value: the map decodes to, and encodes from, an array per possible CPU.
   */
  readonly value?: Codec<T>;
}

/** How to open a pinned map or a map by id. */
export interface OpenOptions<K, T = unknown> extends MapCodecs<K, T> {
  /** Open read-only (BPF_F_RDONLY): writes fail with EACCES/EPERM, `mmap()` maps read-only. */
  readonly readOnly?: boolean;
  /** Open write-only (BPF_F_WRONLY). */
  readonly writeOnly?: boolean;
}

/** A flag for `set`: bpftool's word or the raw number. */
export type SetFlags = UpdateFlag | number;

/** Lookup flags: `'lock'` (BPF_F_LOCK) reads the value under its bpf_spin_lock. */
export type GetFlags = 'lock';

/** One page of a typed batch lookup. */
export interface BatchPage<K, V> {
  /** The entries of this page, decoded. */
  readonly entries: Array<[K, V]>;
  /** Pass to the next call to continue after this page. */
  readonly cursor: BatchCursor;
  /** True when the map has no more entries after this page. */
  readonly done: boolean;
}

const ENOENT = -Errno.ENOENT;
const EINVAL = -Errno.EINVAL;
/** Map types besides maps-of-maps and prog_array whose updates take an fd. */
const TAKES_FD_TYPES: readonly number[] = [MapType.perf_event_array, MapType.cgroup_array, MapType.sockmap, MapType.sockhash];
const DEFAULT_BATCH = 4096;
/** The most buffer memory one batch call may allocate (keys and values together). */
const MAX_BATCH_BYTES = 1 << 30;

/** The items of an iterable, with a typed error when it is not one. */
function listOf<T>(items: Iterable<T>, what: string): T[] {
  if (items === null || (typeof items !== 'object' && typeof items !== 'function') || typeof (items as Partial<Iterable<T>>)[Symbol.iterator] !== 'function') {
    throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `${what} must be iterable, got ${describe(items)}`);
  }
  try {
    return Array.from(items);
  } catch (error) {
    // A fake iterable (Object.create(Uint8Array.prototype) inherits the typed array iterator).
    if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') throw error;
    throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `${what} could not be iterated: ${error instanceof Error ? error.message : show(error)}`);
  }
}

/** Checks that batch options are an object (or omitted). */
function batchOptions<T extends object>(options: T | undefined, operation: string): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `${operation} options must be an object, got ${describe(options)}`);
  }
  return options;
}

/** Every bit an element update takes: BPF_NOEXIST | BPF_EXIST | BPF_F_LOCK. */
const UPDATE_FLAG_BITS = UpdateFlags.noexist | UpdateFlags.exist | UpdateFlags.lock;

/**
 * Checks update flags before anything reaches the kernel. The addon passes flags as 32 bits, so a
 * number at or above 2^32 would wrap to another flag (2^32 + 1 is noexist): only the bits the
 * kernel defines are taken, and noexist with exist together (which the kernel refuses) is
 * refused here.
 */
export function resolveSetFlags(flags: SetFlags | undefined): number {
  if (flags === undefined) return 0;
  if (typeof flags === 'number') {
    if (!Number.isInteger(flags) || flags < 0 || (flags & ~UPDATE_FLAG_BITS) !== 0 || flags > UPDATE_FLAG_BITS ||
        (flags & (UpdateFlags.noexist | UpdateFlags.exist)) === (UpdateFlags.noexist | UpdateFlags.exist)) {
      throw argumentError(RangeError, 'ERR_BPFMAP_FLAGS', `update flags must be 0 (any), 1 (noexist) or 2 (exist), optionally | 4 (lock), got ${flags}`);
    }
    return flags;
  }
  const value = typeof flags === 'string' && Object.hasOwn(UpdateFlags, flags) ? UpdateFlags[flags] : undefined;
  if (value === undefined) {
    throw argumentError(TypeError, 'ERR_BPFMAP_FLAGS', `unknown update flag ${typeof flags === 'string' ? `'${flags}'` : describe(flags)}: expected any, noexist, exist, lock or a number`);
  }
  return value;
}

function resolveGetFlags(flags: GetFlags): number {
  if (flags !== 'lock') throw argumentError(TypeError, 'ERR_BPFMAP_FLAGS', `unknown lookup flag ${typeof flags === 'string' ? `'${flags}'` : describe(flags)}: expected 'lock'`);
  return UpdateFlags.lock;
}

function openFlags(options: { readOnly?: boolean; writeOnly?: boolean } | undefined): number {
  if (options?.readOnly && options.writeOnly) {
    throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'readOnly and writeOnly exclude each other');
  }
  return options?.readOnly ? FileFlags.RDONLY : options?.writeOnly ? FileFlags.WRONLY : 0;
}

/**
 * A BPF map.
 *
 * @example
 * using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1024, name: 'counts' });
 * map.set(Uint8Array.of(1, 0, 0, 0), new Uint8Array(8));
 * for (const [key, value] of map) console.log(key, value);
 */
export class BpfMap<K = Uint8Array, V = Uint8Array, Kind extends AnyMapKind = AnyMapKind> implements Iterable<[K, V]> {
  /**
   * Type-level only (always undefined at run time): the map type this handle's type knows, which
   * decides what methods type-check (`KindFor`). `AnyMapKind` for maps opened by pin, id or fd.
   */
  declare readonly typeKind?: Kind;

  /** Map type number (`MapType`). */
  readonly type: number;
  /** Map name as the kernel has it. */
  readonly name: string;
  /** Kernel-wide map id. */
  readonly id: number;
  /** Key size in bytes. */
  readonly keySize: number;
  /** Value size in bytes (one CPU's value, for per-CPU maps). */
  readonly valueSize: number;
  /** Maximum number of entries. */
  readonly maxEntries: number;
  /** Map creation flags. */
  readonly flags: number;
  /** True for per-CPU maps, whose values are arrays with one entry per possible CPU. */
  readonly perCpu: boolean;
  /** Bytes the kernel reads or writes for one value (per-CPU: roundup(valueSize, 8) * CPUs). */
  readonly valueBufferSize: number;
  /** True when this handle was opened read-only. */
  readonly readOnly: boolean;
  /** The key codec. */
  readonly keyCodec: Codec<K>;
  /** The codec of a whole value as the kernel sees it (per-CPU arrays included). */
  readonly valueCodec: Codec<V>;
  /** The codec of one value as given at open (one CPU's value for per-CPU maps). */
  readonly elementCodec: Codec<unknown>;

  /** The map: owns the private fd every operation uses (closed when collected: the GC safety net). */
  readonly #object: NativeObject<'map'>;
  /** The binding the element functions use (references #object). */
  readonly #owner: NativeMapHandle;
  /** What the native element functions take. */
  readonly #handle: NativeMapId;
  /** The staged key: a view of the addon-owned staging area the `*Staged` calls read. */
  readonly #keyBuffer: Uint8Array;
  readonly #nextKeyBuffer: Uint8Array;
  /** The staged value (at least 1 byte), in the same staging area. */
  readonly #valueBuffer: Uint8Array;
  /** The staged value, exactly `valueBufferSize` bytes, and a DataView over it. */
  readonly #stagedValue: Uint8Array;
  readonly #stagedValueView: DataView;
  readonly #rawKeys: boolean;
  readonly #rawValues: boolean;
  readonly #subject: ErrorSubject;
  readonly #countOut = new Uint32Array(1);
  #mappings: MappedArray[] = [];
  #closed = false;
  #batchUnsupported = false;
  /**
   * True while an operation of a map with user codecs runs: its codecs may call back into this
   * map (a value encoder that looks another key up), and such a nested call must not touch the
   * staging area the outer call has half filled. Nested calls run on `#reentrant` instead.
   */
  #codecBusy = false;
  /** Whether the codecs can run user code (raw keys and values cannot). */
  readonly #userCodecs: boolean;
  /** A second handle with its own staging area for nested calls; made on first need, closed with this map. */
  #reentrant: BpfMap<K, V> | undefined;

  /** Use the static constructors (`create`, `openPinned`, `fromId`, `fromFd`). Takes ownership of the handle. */
  protected constructor(object: NativeObject<'map'>, codecs: MapCodecs<K, unknown> = {}, options: { readOnly?: boolean; path?: string } = {}) {
    let info: MapInfo;
    let handle: NativeMapHandle;
    try {
      info = readMapInfo(object);
      // Per-CPU maps: a false possible-CPU count is this typed error, before any buffer is sized.
      if (isPerCpuType(info.type)) possibleCpus();
      handle = checkHandle('OBJ_GET_INFO_BY_FD', native.mapBind(object));
    } catch (error) {
      native.objClose(object);
      throw error;
    }
    this.#object = object;
    this.#owner = handle;
    this.#handle = handle.id;
    this.type = info.type;
    this.name = info.name;
    this.id = info.id;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.readOnly = options.readOnly ?? false;
    this.perCpu = isPerCpuType(info.type);
    this.#subject = { name: info.name, id: info.id, ...(options.path ? { path: options.path } : {}) };

    const keyCodec = (codecs.key ?? bytesCodec(info.keySize)) as Codec<K>;
    if (keyCodec.size !== info.keySize && !isKeylessType(info.type)) {
      this.#handleFailure();
      throw argumentError(RangeError, 'ERR_BPFMAP_CODEC', `key codec is ${keyCodec.size} bytes but ${info.name ? `map '${info.name}'` : `map ${info.id}`} has ${info.keySize}-byte keys`);
    }
    const element = codecs.value ?? bytesCodec(info.valueSize);
    if (element.size !== info.valueSize) {
      this.#handleFailure();
      throw argumentError(RangeError, 'ERR_BPFMAP_CODEC', `value codec is ${element.size} bytes but ${info.name ? `map '${info.name}'` : `map ${info.id}`} has ${info.valueSize}-byte values`);
    }
    this.keyCodec = keyCodec;
    this.elementCodec = element;
    this.valueCodec = (this.perCpu ? perCpuCodec(element, possibleCpus()) : element) as Codec<V>;
    this.valueBufferSize = this.perCpu ? roundUp8(info.valueSize) * possibleCpus() : info.valueSize;
    this.#rawKeys = isBytesCodec(keyCodec);
    this.#rawValues = isBytesCodec(element) && !this.perCpu;
    this.#userCodecs = !(this.#rawKeys && this.#rawValues);
    // The staging area holds a key of at least 4 bytes, so that it can serve as a batch cursor,
    // and one whole value; the addon sized it from the kernel's own sizes.
    this.#keyBuffer = new Uint8Array(handle.staging, 0, Math.max(info.keySize, 4));
    this.#nextKeyBuffer = new Uint8Array(Math.max(info.keySize, 4));
    this.#valueBuffer = new Uint8Array(handle.staging, handle.valueOffset, Math.max(this.valueBufferSize, 1));
    this.#stagedValue = this.#valueBuffer.subarray(0, this.valueBufferSize);
    this.#stagedValueView = new DataView(handle.staging, handle.valueOffset, this.#valueBuffer.length);
  }

  #handleFailure(): void {
    native.mapClose(this.#handle);
    this.#closed = true;
  }

  /**
   * The map's public file descriptor (close-on-exec, never below 3): a duplicate made on first
   * use and owned by this map, for passing to other tools. bpfmap never acts on it: closing it
   * (or anything else reusing its number) cannot make this map act on another object; `close()`
   * closes it only if it still refers to this map. Throws `ERR_BPFMAP_CLOSED` after `close()`.
   */
  get fd(): number {
    this.#ensureOpen();
    const fd = native.objPublicFd(this.#object);
    if (fd < 0) throw this.#fail('OBJ_GET_INFO_BY_FD', fd);
    return fd;
  }

  /** @internal The native handle, for functions that take this map as an argument. */
  get [nativeObject](): NativeObject<'map'> {
    return this.#object;
  }

  // ---------------------------------------------------------------- constructors

  /**
   * Creates a map. The value type follows the spec: per-CPU types give arrays of values.
   * @throws BpfError (MAP_CREATE) when the kernel rejects the spec, with the reason.
   * @throws TypeError/RangeError when the spec itself is malformed (nothing reaches the kernel).
   *
   * @example
   * const counts = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 1 });
   * const perCpu: Uint8Array[] | undefined = counts.get(Uint8Array.of(0, 0, 0, 0));
   */
  static create<const S extends MapSpec, K = Uint8Array, T = Uint8Array>(spec: S, codecs?: MapCodecs<K, T>): BpfMap<K, MapValue<S['type'], T>, MapKindOf<S['type']>> {
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
      return new BpfMap<K, MapValue<S['type'], T>, MapKindOf<S['type']>>(object, codecs);
    } finally {
      // Duplicates of fds the caller passed: the map holds its own references now.
      for (const object of owned) native.objClose(object);
    }
  }

  /**
   * Opens a map pinned on bpffs. For per-CPU maps, values are arrays: state it in the type
   * parameters (`BpfMap.openPinned<Uint8Array, Uint8Array[]>(path)`).
   * @throws BpfError (OBJ_GET) with code ENOENT when nothing is pinned there.
   */
  static openPinned<K = Uint8Array, T = Uint8Array, V = T>(path: string, options?: OpenOptions<K, T>): BpfMap<K, V> {
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
    return BpfMap.#fromOwned<K, V>(object as NativeObject<'map'>, options, path);
  }

  /**
   * Opens the map pinned at `path` when its type, key and value sizes, max entries, flags and
   * map_extra are those of `spec` (libbpf's check before it reuses a map pinned by name);
   * otherwise, when nothing is pinned there, creates the map and pins it.
   * @throws PinMismatchError (`ERR_BPFMAP_PIN_MISMATCH`) naming each attribute that differs; the
   *   pin is left alone.
   *
   * @example
   * const counts = BpfMap.openOrCreatePinned('/sys/fs/bpf/counts', { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'counts' });
   */
  static openOrCreatePinned<const S extends MapSpec, K = Uint8Array, T = Uint8Array>(path: string, spec: S, codecs?: MapCodecs<K, T>): BpfMap<K, MapValue<S['type'], T>> {
    checkPinPath(path);
    const wanted = shapeOfSpec(spec);
    let pinned: BpfMap<K, MapValue<S['type'], T>>;
    try {
      pinned = BpfMap.openPinned<K, T, MapValue<S['type'], T>>(path, codecs);
    } catch (error) {
      if (!isNotPinned(error)) throw error;
      const created = BpfMap.create<S, K, T>(spec, codecs);
      try {
        created.pin(path);
      } catch (pinError) {
        created.close();
        throw pinError;
      }
      return created;
    }
    const differences = pinDifferences(pinned.info, wanted);
    if (differences.length > 0) {
      pinned.close();
      throw new PinMismatchError(path, differences, spec.name);
    }
    return pinned;
  }

  /** Opens a map by its kernel-wide id (needs CAP_SYS_ADMIN). */
  static fromId<K = Uint8Array, T = Uint8Array, V = T>(id: number, options?: OpenOptions<K, T>): BpfMap<K, V> {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_ID', `map id must be a positive 32-bit integer, got ${show(id)}`);
    const attr = new StructBuffer(idAttr).setU32('id', id).setU32('open_flags', openFlags(options));
    const object = native.objGetById<'map'>(Command.MAP_GET_FD_BY_ID, id, openFlags(options));
    if (typeof object === 'number') {
      const fd = object;
      if (-fd === Errno.ENOENT) {
        throw new BpfError(`no map with id ${id}`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'MAP_GET_FD_BY_ID', subject: { id } });
      }
      throw BpfError.fromErrno('MAP_GET_FD_BY_ID', -fd, { id });
    }
    return BpfMap.#fromOwned<K, V>(object, options);
  }

  /** @internal A map on a handle the caller gives up (it is closed with the map). */
  static adopt<K = Uint8Array, V = Uint8Array>(object: NativeObject<'map'>): BpfMap<K, V> {
    return new BpfMap<K, V>(object);
  }

  /** Opens the map behind an fd the caller owns; the fd is duplicated, the caller keeps its own. */
  static fromFd<K = Uint8Array, T = Uint8Array, V = T>(fd: number, codecs?: MapCodecs<K, T>): BpfMap<K, V> {
    if (!Number.isInteger(fd) || fd < 0) throw argumentError(RangeError, 'ERR_BPFMAP_FD', `fd must be a non-negative integer, got ${show(fd)}`);
    return new BpfMap<K, V>(mapFromUserFd(fd), codecs);
  }

  /**
   * Opens the map with this name. Names are not unique (every libbpf tool has a `.rodata`, two
   * runs of one tool share every name): when several maps have it, this throws unless
   * `ambiguous: 'first'` asks for the one with the lowest id. `allFromName` opens them all.
   * @throws BpfError with code ENOENT when no map has that name.
   * @throws RangeError with code `ERR_BPFMAP_AMBIGUOUS_NAME` (and `ids`, the matching ids) when
   *   several maps have it.
   * @example
   * using events = BpfMap.fromName('events');                        // throws if two exist
   * using first = BpfMap.fromName('events', { ambiguous: 'first' });
   */
  static fromName<K = Uint8Array, T = Uint8Array, V = T>(name: string, options?: OpenOptions<K, T> & { readonly ambiguous?: 'throw' | 'first' }): BpfMap<K, V> {
    const ambiguous = options?.ambiguous ?? 'throw';
    if (ambiguous !== 'throw' && ambiguous !== 'first') {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `ambiguous must be 'throw' or 'first', got ${show(ambiguous)}`);
    }
    const ids = BpfMap.idsByName(name);
    if (ids.length === 0) {
      throw new BpfError(`no map named '${name}'`, { code: 'ENOENT', errno: Errno.ENOENT, command: 'MAP_GET_NEXT_ID', subject: { name } });
    }
    if (ids.length > 1 && ambiguous === 'throw') {
      const error = argumentError(RangeError, 'ERR_BPFMAP_AMBIGUOUS_NAME',
        `${ids.length} maps are named '${name}' (ids ${ids.join(', ')}): open one with fromId(), or pass { ambiguous: 'first' }, or use allFromName()`);
      throw Object.assign(error, { ids });
    }
    return BpfMap.fromId<K, T, V>(ids[0] as number, options);
  }

  /**
   * Opens every map with this name, in increasing id order (an empty array when none has it).
   * Maps that go away between listing and opening are left out.
   */
  static allFromName<K = Uint8Array, T = Uint8Array, V = T>(name: string, options?: OpenOptions<K, T>): Array<BpfMap<K, V>> {
    const maps: Array<BpfMap<K, V>> = [];
    for (const id of BpfMap.idsByName(name)) {
      try {
        maps.push(BpfMap.fromId<K, T, V>(id, options));
      } catch (error) {
        if (error instanceof BpfError && error.code === 'ENOENT') continue;
        for (const map of maps) map.close();
        throw error;
      }
    }
    return maps;
  }

  /** Ids of the maps with this name, in increasing order (maps that vanish while listing are skipped). */
  static idsByName(name: string): number[] {
    const ids: number[] = [];
    for (const id of BpfMap.ids()) {
      let info: MapInfo;
      try {
        info = BpfMap.infoById(id);
      } catch (error) {
        if (error instanceof BpfError && error.code === 'ENOENT') continue;
        throw error;
      }
      if (info.name === name) ids.push(id);
    }
    return ids;
  }

  static #fromOwned<K, V>(object: NativeObject<'map'>, options: OpenOptions<K, unknown> | undefined, path?: string): BpfMap<K, V> {
    const codecs: MapCodecs<K, unknown> = {
      ...(options?.key ? { key: options.key } : {}),
      ...(options?.value ? { value: options.value } : {}),
    };
    return new BpfMap<K, V>(object, codecs, { readOnly: options?.readOnly ?? false, ...(path ? { path } : {}) });
  }

  /** Ids of every map on the system, in increasing order (needs CAP_SYS_ADMIN). */
  static *ids(): Generator<number> {
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
  static infoById(id: number): MapInfo {
    const object = checkHandle('MAP_GET_FD_BY_ID', native.objGetById<'map'>(Command.MAP_GET_FD_BY_ID, id, 0), { id });
    try {
      return readMapInfo(object);
    } finally {
      native.objClose(object);
    }
  }

  /** Info of every map on the system, like `bpftool map show` (maps that vanish meanwhile are skipped). */
  static list(): MapInfo[] {
    const infos: MapInfo[] = [];
    for (const id of BpfMap.ids()) {
      try {
        infos.push(BpfMap.infoById(id));
      } catch (error) {
        if (error instanceof BpfError && error.code === 'ENOENT') continue;
        throw error;
      }
    }
    return infos;
  }

  /**
   * A typed view of this map: a new handle (duplicated fd) that reads and writes through the
   * given codecs (omitted ones keep this map's). Closing one handle does not close the other.
   * The value type is inferred from the codec; for per-CPU maps state it as an array:
   * `map.withCodecs<Key, Value[]>(keyCodec, valueCodec)`.
   */
  withCodecs<K2, T2>(key: Codec<K2>, value: Codec<T2>): BpfMap<K2, T2>;
  /** With explicit types, for codecs whose decoded type is not known statically (BTF). */
  withCodecs<K2 = K, V2 = V>(key?: Codec<K2>, value?: Codec<unknown>): BpfMap<K2, V2>;
  withCodecs<K2, V2>(key?: Codec<K2>, value?: Codec<unknown>): BpfMap<K2, V2> {
    this.#ensureOpen();
    const codecs: MapCodecs<K2, unknown> = {
      key: (key ?? this.keyCodec) as Codec<K2>,
      value: value ?? this.elementCodec,
    };
    const object = checkHandle('OBJ_GET_INFO_BY_FD', native.objDup(this.#object), this.#subject);
    const map = new BpfMap<K2, V2>(object, codecs);
    (map as { readOnly: boolean }).readOnly = this.readOnly;
    return map;
  }

  /**
   * The map's own BTF (the C types of its key and value, from the object that created it), or
   * undefined when it has none. Parsed once per BTF id.
   */
  btf(): Btf | undefined {
    this.#ensureOpen();
    return requireBtfSupport().loadMapBtf(this as unknown as BpfMap<unknown, unknown>);
  }

  /**
   * A typed handle through the map's own BTF: keys and values decode to objects, enums to names,
   * 64-bit integers to bigints (per-CPU maps to arrays). A new
   * handle: this one stays open and raw.
   * @throws TypeError `ERR_BPFMAP_NO_BTF` when the map has no BTF value type.
   *
   * @example
   * using flows = BpfMap.openPinned('/sys/fs/bpf/flows').typed<FlowKey, FlowStats>();
   */
  typed<K2 = unknown, V2 = unknown>(): BpfMap<K2, V2> {
    this.#ensureOpen();
    return requireBtfSupport().typedMap<K2, V2>(this as unknown as BpfMap<unknown, unknown>);
  }

  // ---------------------------------------------------------------- info

  /** Fresh info from the kernel, including `frozen` and `memlock`. */
  get info(): MapInfo {
    this.#ensureOpen();
    return readMapInfo(this.#object);
  }

  /** bpftool's name of the map type. */
  get typeName(): string {
    return mapTypeName(this.type);
  }

  /** True once the map is frozen. */
  get frozen(): boolean {
    this.#ensureOpen();
    return readFdInfo(this.#object).frozen;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  // ---------------------------------------------------------------- element operations

  /** Checks a raw key; throws before any syscall. */
  #rawKey(key: K): Uint8Array {
    const length = uint8ArrayLength(key);
    if (length < 0) throw argumentError(TypeError, 'ERR_BPFMAP_KEY_TYPE', `key expected a Uint8Array of ${this.keySize} bytes, got ${describe(key)}`);
    if (length !== this.keySize) throw sizeError('key', this.keySize, length);
    return key as Uint8Array;
  }

  /** Checks a raw value; throws before any syscall. */
  #rawValue(value: V): Uint8Array {
    const length = uint8ArrayLength(value);
    if (length < 0) throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `value expected a Uint8Array of ${this.valueSize} bytes, got ${describe(value)}`);
    if (length !== this.valueSize) throw sizeError('value', this.valueSize, length);
    return value as Uint8Array;
  }

  /** A key's bytes: a checked raw key, or the key encoded into the staging area. */
  #key(key: K): Uint8Array {
    if (this.#rawKeys) return this.#rawKey(key);
    this.keyCodec.encode(key, this.#keyBuffer, 0);
    return this.#keyBuffer;
  }

  /** A value's bytes: a checked raw value, or the value encoded into the staging area. */
  #value(value: V): Uint8Array {
    if (this.#rawValues) return this.#rawValue(value);
    this.valueCodec.encode(value, this.#valueBuffer, 0);
    return this.#valueBuffer;
  }

  /**
   * Puts a key into the staging area (copied after checks, or encoded there); throws before any
   * syscall. The staged native calls then pass only the handle: two typed-array lookups fewer in
   * the addon per operation, which is most of what a call costs beyond the syscall itself.
   */
  #stageKey(key: K): void {
    if (this.#rawKeys) copyBytes(this.#rawKey(key), this.#keyBuffer);
    else this.keyCodec.encode(key, this.#keyBuffer, 0);
  }

  /** Puts a value into the staging area, like `#stageKey`. */
  #stageValue(value: V): void {
    if (this.#rawValues) copyBytes(this.#rawValue(value), this.#valueBuffer);
    else this.valueCodec.encode(value, this.#valueBuffer, 0);
  }

  #fail(command: CommandName, rc: number): BpfError {
    if (this.#closed) {
      return new BpfError(`${command} on map '${this.name}' id ${this.id}: the map handle is closed`, {
        code: 'EBADF',
        errno: Errno.EBADF,
        command,
        subject: this.#subject,
      });
    }
    return BpfError.fromErrno(command, -rc, this.#subject);
  }

  /**
   * The handle nested calls run on: same map, same codecs, its own staging area, so that a codec
   * that calls back into this map (get inside encode, set inside decode) reads and writes the
   * keys it names and leaves the outer call's staged key and value alone.
   */
  #reentry(): BpfMap<K, V> {
    this.#ensureOpen();
    this.#reentrant ??= this.withCodecs<K, V>(this.keyCodec, this.elementCodec);
    return this.#reentrant;
  }

  #ensureOpen(): void {
    if (this.#closed) throw this.#fail('OBJ_GET_INFO_BY_FD', -Errno.EBADF);
  }

  #requireKeyed(operation: string): void {
    if (isKeylessType(this.type)) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `${operation} needs a keyed map; ${this.typeName} map '${this.name}' has no keys (use push/pop/peek, or add/has for bloom_filter)`);
    }
  }

  /**
   * The value stored under `key`, or `undefined` when there is none. On an lpm_trie this is the
   * longest-prefix match. With `'lock'`, the kernel copies the value while holding its
   * bpf_spin_lock (the map's value type must have one), so the read is never torn by a program
   * that updates under the lock; the lock's own bytes read as zero either way.
   */
  get(this: BpfMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K, flags?: GetFlags): V | undefined {
    if (this.#codecBusy) return this.#reentry().get(key, flags);
    if (!this.#userCodecs) return this.#get(key, flags);
    this.#codecBusy = true;
    try {
      return this.#get(key, flags);
    } finally {
      this.#codecBusy = false;
    }
  }

  #get(key: K, flags?: GetFlags): V | undefined {
    const flagBits = flags === undefined ? 0 : resolveGetFlags(flags);
    this.#stageKey(key);
    const rc = native.mapLookupStaged(this.#handle, flagBits);
    if (rc === 0) return this.valueCodec.decode(this.#valueBuffer, 0);
    if (rc === ENOENT) return undefined;
    throw this.#lookupFailure(rc, flagBits);
  }

  /**
   * Raw lookup into a caller buffer of `valueBufferSize` bytes: no allocation at all.
   * Returns false when the key is missing. `flags` as for `get`.
   */
  getInto(key: K, target: Uint8Array, flags?: GetFlags): boolean {
    if (this.#codecBusy) return this.#reentry().getInto(key, target, flags);
    if (!this.#userCodecs) return this.#getInto(key, target, flags);
    this.#codecBusy = true;
    try {
      return this.#getInto(key, target, flags);
    } finally {
      this.#codecBusy = false;
    }
  }

  #getInto(key: K, target: Uint8Array, flags?: GetFlags): boolean {
    const targetLength = uint8ArrayLength(target);
    if (targetLength !== this.valueBufferSize) {
      if (targetLength < 0) throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `value buffer expected a Uint8Array of ${this.valueBufferSize} bytes, got ${describe(target)}`);
      throw sizeError('value buffer', this.valueBufferSize, targetLength);
    }
    const flagBits = flags === undefined ? 0 : resolveGetFlags(flags);
    this.#stageKey(key);
    const rc = native.mapLookupStaged(this.#handle, flagBits);
    if (rc === 0) {
      copyBytes(this.#stagedValue, target);
      return true;
    }
    if (rc === ENOENT) return false;
    throw this.#lookupFailure(rc, flagBits);
  }

  #lookupFailure(rc: number, flagBits: number): BpfError {
    return this.#elementFailure('MAP_LOOKUP_ELEM', rc, flagBits);
  }

  /**
   * The error of a failed lookup or update. EINVAL with the `lock` flag has one usual cause,
   * which the errno does not say: the value has no bpf_spin_lock (or the map no BTF at all).
   */
  #elementFailure(command: 'MAP_LOOKUP_ELEM' | 'MAP_UPDATE_ELEM', rc: number, flagBits: number): BpfError {
    if (rc === EINVAL && (flagBits & UpdateFlags.lock) !== 0 && !this.#closed) {
      let btfId = 0;
      try {
        btfId = this.info.btfId;
      } catch {
        // The explanation below holds either way.
      }
      const why = btfId === 0 ? 'this map has no BTF, so no lock' : "this map's value type has none";
      return BpfError.withReason(command, Errno.EINVAL, `flag 'lock' needs a value type (in the map's BTF) that holds a struct bpf_spin_lock: ${why}`, this.#subject);
    }
    return this.#fail(command, rc);
  }

  /**
   * Stores `value` under `key`. `flags`: `'any'` (default) creates or replaces, `'noexist'` only
   * creates, `'exist'` only replaces, `'lock'` updates under the value's bpf_spin_lock.
   * Per-CPU maps take an array with one value per possible CPU.
   * @throws BpfError EEXIST (noexist on an existing key), ENOENT (exist on a missing key),
   *   E2BIG (map full), EPERM (frozen map).
   */
  set(this: BpfMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K, value: V, flags?: SetFlags): BpfMap<K, V, Kind> {
    if (this.#codecBusy) {
      this.#reentry().set(key, value, flags);
      return this as unknown as BpfMap<K, V, Kind>;
    }
    if (!this.#userCodecs) return (this.#set(key, value, flags), this as unknown as BpfMap<K, V, Kind>);
    this.#codecBusy = true;
    try {
      return (this.#set(key, value, flags), this as unknown as BpfMap<K, V, Kind>);
    } finally {
      this.#codecBusy = false;
    }
  }

  #set(key: K, value: V, flags?: SetFlags): this {
    this.#requireKeyed('set');
    const flagBits = resolveSetFlags(flags);
    this.#stageKey(key);
    this.#stageValue(value);
    const rc = native.mapUpdateStaged(this.#handle, flagBits);
    if (rc !== 0) throw this.#elementFailure('MAP_UPDATE_ELEM', rc, flagBits);
    return this;
  }

  /** Deletes `key`; true when it existed. */
  delete(key: K): boolean {
    if (this.#codecBusy) return this.#reentry().delete(key);
    if (!this.#userCodecs) return this.#delete(key);
    this.#codecBusy = true;
    try {
      return this.#delete(key);
    } finally {
      this.#codecBusy = false;
    }
  }

  #delete(key: K): boolean {
    this.#requireKeyed('delete');
    this.#stageKey(key);
    const rc = native.mapDeleteStaged(this.#handle);
    if (rc === 0) return true;
    if (rc === ENOENT) return false;
    throw this.#fail('MAP_DELETE_ELEM', rc);
  }

  /** True when the bloom filter may hold `value` (false: it surely does not). */
  has(this: BpfMap<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): boolean;
  /** True when `key` has a value. */
  has(this: BpfMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K): boolean;
  has(keyOrValue: K | V): boolean {
    const key = keyOrValue as K;
    if (this.#codecBusy) return this.#reentry().has(key);
    if (!this.#userCodecs) return this.#has(key);
    this.#codecBusy = true;
    try {
      return this.#has(key);
    } finally {
      this.#codecBusy = false;
    }
  }

  #has(key: K): boolean {
    if (this.type === MapType.bloom_filter) return this.#mayContain(key as unknown as V);
    this.#stageKey(key);
    const rc = native.mapLookupStaged(this.#handle, 0);
    if (rc === 0) return true;
    if (rc === ENOENT) return false;
    throw this.#fail('MAP_LOOKUP_ELEM', rc);
  }

  /** Removes `key` and returns its value in one step (hash maps, kernel 5.14+); undefined when missing. */
  getAndDelete(key: K): V | undefined {
    if (this.#codecBusy) return this.#reentry().getAndDelete(key);
    if (!this.#userCodecs) return this.#getAndDelete(key);
    this.#codecBusy = true;
    try {
      return this.#getAndDelete(key);
    } finally {
      this.#codecBusy = false;
    }
  }

  #getAndDelete(key: K): V | undefined {
    this.#requireKeyed('getAndDelete');
    this.#stageKey(key);
    const rc = native.mapLookupAndDeleteStaged(this.#handle, 0);
    if (rc === 0) return this.valueCodec.decode(this.#valueBuffer, 0);
    if (rc === ENOENT) return undefined;
    throw this.#fail('MAP_LOOKUP_AND_DELETE_ELEM', rc);
  }

  /**
   * The key after `key` in the kernel's order, or the first key when `key` is omitted;
   * `undefined` at the end. (A key that is not in a hash map yields the first key.)
   */
  nextKey(key?: K): K | undefined {
    if (this.#codecBusy) return this.#reentry().nextKey(key);
    if (!this.#userCodecs) return this.#nextKey(key);
    this.#codecBusy = true;
    try {
      return this.#nextKey(key);
    } finally {
      this.#codecBusy = false;
    }
  }

  #nextKey(key?: K): K | undefined {
    this.#requireKeyed('nextKey');
    const current = key === undefined ? null : this.#key(key);
    const rc = native.mapNextKey(this.#handle, current, this.#nextKeyBuffer);
    if (rc === 0) return this.keyCodec.decode(this.#nextKeyBuffer, 0);
    if (rc === ENOENT) return undefined;
    throw this.#fail('MAP_GET_NEXT_KEY', rc);
  }

  // ---------------------------------------------------------------- queue, stack, bloom filter

  #requireType(operation: string, ...types: MapType[]): void {
    if (!types.includes(this.type)) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `${operation} needs a ${types.map(mapTypeName).join(' or ')} map; '${this.name}' is ${this.typeName}`);
    }
  }

  /** Pushes onto a queue or stack. `flags: 'exist'` overwrites the oldest element when full. */
  push(this: BpfMap<K, V, KindFor<Kind, 'queue' | 'stack'>>, value: V, flags?: SetFlags): BpfMap<K, V, Kind> {
    if (this.#codecBusy) {
      this.#reentry().push(value, flags);
      return this as unknown as BpfMap<K, V, Kind>;
    }
    if (!this.#userCodecs) return (this.#push(value, flags), this as unknown as BpfMap<K, V, Kind>);
    this.#codecBusy = true;
    try {
      return (this.#push(value, flags), this as unknown as BpfMap<K, V, Kind>);
    } finally {
      this.#codecBusy = false;
    }
  }

  #push(value: V, flags?: SetFlags): this {
    this.#requireType('push', MapType.queue, MapType.stack);
    const flagBits = resolveSetFlags(flags);
    this.#stageValue(value);
    const rc = native.mapUpdateStaged(this.#handle, flagBits);
    if (rc !== 0) throw this.#fail('MAP_UPDATE_ELEM', rc);
    return this;
  }

  /** Removes and returns the next element of a queue (oldest) or stack (newest); undefined when empty. */
  pop(this: BpfMap<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined {
    if (this.#codecBusy) return this.#reentry().pop();
    if (!this.#userCodecs) return this.#pop();
    this.#codecBusy = true;
    try {
      return this.#pop();
    } finally {
      this.#codecBusy = false;
    }
  }

  #pop(): V | undefined {
    this.#requireType('pop', MapType.queue, MapType.stack);
    const rc = native.mapLookupAndDeleteStaged(this.#handle, 0);
    if (rc === 0) return this.valueCodec.decode(this.#valueBuffer, 0);
    if (rc === ENOENT) return undefined;
    throw this.#fail('MAP_LOOKUP_AND_DELETE_ELEM', rc);
  }

  /** Returns the next element of a queue or stack without removing it; undefined when empty. */
  peek(this: BpfMap<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined {
    if (this.#codecBusy) return this.#reentry().peek();
    if (!this.#userCodecs) return this.#peek();
    this.#codecBusy = true;
    try {
      return this.#peek();
    } finally {
      this.#codecBusy = false;
    }
  }

  #peek(): V | undefined {
    this.#requireType('peek', MapType.queue, MapType.stack);
    const rc = native.mapLookupStaged(this.#handle, 0);
    if (rc === 0) return this.valueCodec.decode(this.#valueBuffer, 0);
    if (rc === ENOENT) return undefined;
    throw this.#fail('MAP_LOOKUP_ELEM', rc);
  }

  /** Adds a value to a bloom filter. */
  add(this: BpfMap<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): BpfMap<K, V, Kind> {
    if (this.#codecBusy) {
      this.#reentry().add(value);
      return this as unknown as BpfMap<K, V, Kind>;
    }
    if (!this.#userCodecs) return (this.#add(value), this as unknown as BpfMap<K, V, Kind>);
    this.#codecBusy = true;
    try {
      return (this.#add(value), this as unknown as BpfMap<K, V, Kind>);
    } finally {
      this.#codecBusy = false;
    }
  }

  #add(value: V): this {
    this.#requireType('add', MapType.bloom_filter);
    this.#stageValue(value);
    const rc = native.mapUpdateStaged(this.#handle, 0);
    if (rc !== 0) throw this.#fail('MAP_UPDATE_ELEM', rc);
    return this;
  }

  /** True when a bloom filter may contain `value` (false means it certainly does not). */
  mayContain(value: V): boolean {
    if (this.#codecBusy) return this.#reentry().mayContain(value);
    if (!this.#userCodecs) return this.#mayContain(value);
    this.#codecBusy = true;
    try {
      return this.#mayContain(value);
    } finally {
      this.#codecBusy = false;
    }
  }

  #mayContain(value: V): boolean {
    this.#requireType('mayContain', MapType.bloom_filter);
    this.#stageValue(value);
    const rc = native.mapLookupStaged(this.#handle, 0);
    if (rc === 0) return true;
    if (rc === ENOENT) return false;
    throw this.#fail('MAP_LOOKUP_ELEM', rc);
  }

  // ---------------------------------------------------------------- maps of maps, program arrays

  #requireFdMap(operation: string): void {
    if (!holdsFdsType(this.type)) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `${operation} needs an array_of_maps, hash_of_maps or prog_array; '${this.name}' is ${this.typeName}`);
    }
  }

  /**
   * Stores an fd under `key`: an inner map (array_of_maps, hash_of_maps), a program
   * (prog_array), a perf event (perf_event_array), a cgroup (cgroup_array) or a socket
   * (sockmap, sockhash). The kernel keeps its own reference; lookups give ids, not fds.
   */
  setFd(key: K, target: { readonly fd: number } | HasNativeObject | number, flags?: SetFlags): this {
    if (this.#codecBusy) {
      this.#reentry().setFd(key, target, flags);
      return this;
    }
    if (!this.#userCodecs) return this.#setFd(key, target, flags);
    this.#codecBusy = true;
    try {
      return this.#setFd(key, target, flags);
    } finally {
      this.#codecBusy = false;
    }
  }

  #setFd(key: K, target: { readonly fd: number } | HasNativeObject | number, flags?: SetFlags): this {
    if (!holdsFdsType(this.type) && !TAKES_FD_TYPES.includes(this.type)) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `setFd needs a map whose values are fds (array_of_maps, hash_of_maps, prog_array, perf_event_array, cgroup_array, sockmap, sockhash); '${this.name}' is ${this.typeName}`);
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
    this.#ensureOpen();
    this.#stageKey(key);
    let rc: number;
    if (object !== undefined) {
      rc = native.mapUpdateStagedObject(this.#handle, object, flagBits);
    } else {
      this.#stagedValueView.setUint32(0, fd as number, true);
      rc = native.mapUpdateStaged(this.#handle, flagBits);
    }
    if (rc !== 0) throw this.#fail('MAP_UPDATE_ELEM', rc);
    return this;
  }

  /** Stores an inner map under `key` of an array_of_maps / hash_of_maps. */
  setInnerMap(key: K, inner: { readonly fd: number } | HasNativeObject | number, flags?: SetFlags): this {
    this.#requireType('setInnerMap', MapType.array_of_maps, MapType.hash_of_maps);
    return this.setFd(key, inner, flags);
  }

  /** The id of the inner map or program stored under `key`, or undefined. */
  getId(key: K): number | undefined {
    if (this.#codecBusy) return this.#reentry().getId(key);
    if (!this.#userCodecs) return this.#getId(key);
    this.#codecBusy = true;
    try {
      return this.#getId(key);
    } finally {
      this.#codecBusy = false;
    }
  }

  #getId(key: K): number | undefined {
    this.#requireFdMap('getId');
    this.#stageKey(key);
    const rc = native.mapLookupStaged(this.#handle, 0);
    if (rc === 0) return this.#stagedValueView.getUint32(0, true);
    if (rc === ENOENT) return undefined;
    throw this.#fail('MAP_LOOKUP_ELEM', rc);
  }

  /** Opens the inner map stored under `key` of a map-in-map; undefined when the slot is empty. */
  openInnerMap<K2 = Uint8Array, T2 = Uint8Array, V2 = T2>(key: K, options?: OpenOptions<K2, T2>): BpfMap<K2, V2> | undefined {
    this.#requireType('openInnerMap', MapType.array_of_maps, MapType.hash_of_maps);
    const id = this.getId(key);
    return id === undefined ? undefined : BpfMap.fromId<K2, T2, V2>(id, options);
  }

  // ---------------------------------------------------------------- iteration

  /** Entries `[key, value]`, decoded. Uses batch lookups where the kernel has them. */
  entries(): Generator<[K, V]> {
    return this.#iterate('entries', (key, value) => [key(), value()]);
  }

  /** Keys, decoded (values are fetched by the batch but not decoded). */
  keys(): Generator<K> {
    return this.#iterate('keys', (key) => key());
  }

  /** Values, decoded. */
  values(): Generator<V> {
    return this.#iterate('values', (_key, value) => value());
  }

  /**
   * The one iteration loop: batches where possible, next-key walks otherwise; `pick` decides
   * what each step yields and decodes only that.
   */
  *#iterate<R>(operation: string, pick: (key: () => K, value: () => V) => R): Generator<R> {
    this.#requireKeyed(operation);
    let keys: Uint8Array = new Uint8Array(0);
    let values: Uint8Array = new Uint8Array(0);
    let index = 0;
    const key = (): K => this.keyCodec.decode(keys, index * this.keySize);
    const value = (): V => this.valueCodec.decode(values, index * this.valueBufferSize);
    if (this.#canBatch()) {
      for (const batch of this.#batches(DEFAULT_BATCH, false)) {
        keys = batch.keys;
        values = batch.values;
        for (index = 0; index < batch.count; index++) yield pick(key, value);
      }
      if (!this.#batchUnsupported) return;
    }
    index = 0;
    for ([keys, values] of this.#walkByNextKey()) yield pick(key, value);
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  /**
   * Walks the map with GET_NEXT_KEY + LOOKUP, yielding views of a key and a value buffer that
   * the next step reuses. The next key is fetched before yielding, so deleting the yielded key
   * is safe; keys that vanish between the two calls are skipped; the walk aborts after more
   * than max_entries keys, which only concurrent deletes (restarting hash iteration) can cause.
   */
  *#walkByNextKey(): Generator<[Uint8Array, Uint8Array]> {
    let current = new Uint8Array(Math.max(this.keySize, 4));
    let next = new Uint8Array(Math.max(this.keySize, 4));
    const value = new Uint8Array(Math.max(this.valueBufferSize, 1));
    let rc = native.mapNextKey(this.#handle, null, current);
    let steps = 0;
    while (rc === 0) {
      if (++steps > this.maxEntries + 1) {
        throw new BpfError(
          `MAP_GET_NEXT_KEY on map '${this.name}' id ${this.id}: iteration aborted after ${steps - 1} keys, more than max_entries (${this.maxEntries}); keys are being deleted concurrently`,
          { code: 'ERR_ITERATION_ABORTED', errno: 0, command: 'MAP_GET_NEXT_KEY', subject: this.#subject },
        );
      }
      const found = native.mapLookup(this.#handle, current, value, 0);
      if (found !== 0 && found !== ENOENT) throw this.#fail('MAP_LOOKUP_ELEM', found);
      const nextRc = native.mapNextKey(this.#handle, current, next);
      if (nextRc !== 0 && nextRc !== ENOENT) throw this.#fail('MAP_GET_NEXT_KEY', nextRc);
      if (found === 0) yield [current.subarray(0, this.keySize), value.subarray(0, this.valueBufferSize)];
      [current, next] = [next, current];
      rc = nextRc;
    }
    if (rc !== ENOENT) throw this.#fail('MAP_GET_NEXT_KEY', rc);
  }

  #canBatch(): boolean {
    return !this.#batchUnsupported && (
      this.type === MapType.hash || this.type === MapType.array || this.type === MapType.percpu_hash ||
      this.type === MapType.percpu_array || this.type === MapType.lru_hash || this.type === MapType.lru_percpu_hash
    );
  }

  /**
   * Raw batch lookups: each chunk hands over whole key and value buffers (views over buffers
   * reused by the next chunk: copy what you keep). Falls back to per-element next-key lookups
   * on map types or kernels without batch support. With `delete`, entries are removed as read.
   *
   * @example
   * for (const { count, keys, values, keySize, valueStride } of map.batches()) {
   *   for (let i = 0; i < count; i++) use(keys.subarray(i * keySize, (i + 1) * keySize), ...);
   * }
   */
  *batches(options?: BatchOptions): Generator<MapBatch> {
    this.#requireKeyed('batches');
    const given = batchOptions(options, 'batches');
    const size = this.#batchCount(given.batchSize ?? DEFAULT_BATCH, 'batchSize');
    const andDelete = given.delete ?? false;
    if (typeof andDelete !== 'boolean') throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `delete must be a boolean, got ${describe(andDelete)}`);
    if (this.#canBatch()) {
      yield* this.#batches(size, andDelete);
      if (!this.#batchUnsupported) return;
    }
    // Fallback: assemble chunks from next-key iteration, in the same shape.
    const buffers = new BatchBuffers(this.keySize, this.valueBufferSize, size);
    let count = 0;
    for (const [key, value] of this.#walkByNextKey()) {
      buffers.keys.set(key, count * this.keySize);
      buffers.values.set(value, count * this.valueBufferSize);
      if (andDelete) this.#deleteRaw(key);
      if (++count === size) {
        yield buffers.chunk(count);
        count = 0;
      }
    }
    if (count > 0) yield buffers.chunk(count);
  }

  /**
   * A batch size as given (a positive 32-bit integer, what the kernel's count holds), capped at
   * max_entries, since no batch returns more entries than the map holds, and checked against the
   * memory its buffers would take.
   */
  #batchCount(given: unknown, option: string): number {
    if (typeof given !== 'number' || !Number.isInteger(given) || given <= 0 || given > 0xffffffff) {
      throw argumentError(RangeError, 'ERR_BPFMAP_BATCH', `${option} must be an integer from 1 to 4294967295, got ${describe(given)}`);
    }
    const count = Math.min(given, Math.max(this.maxEntries, 1));
    const bytes = count * (this.keySize + this.valueBufferSize);
    if (bytes > MAX_BATCH_BYTES) {
      throw argumentError(RangeError, 'ERR_BPFMAP_BATCH', `${option} ${given} needs ${bytes} bytes of buffers for map '${this.name}', more than the ${MAX_BATCH_BYTES} a batch may take: use a smaller ${option}`);
    }
    return count;
  }

  #deleteRaw(key: Uint8Array): void {
    const rc = native.mapDelete(this.#handle, key);
    if (rc !== 0 && rc !== ENOENT) throw this.#fail('MAP_DELETE_ELEM', rc);
  }

  /**
   * The batch loop. Sets #batchUnsupported (and yields nothing) when the first call says the
   * kernel or map type has no batch support; retries ENOSPC with a doubled batch; treats ENOENT
   * with a partial count as the last chunk.
   */
  *#batches(initialSize: number, andDelete: boolean): Generator<MapBatch> {
    const command = andDelete ? Command.MAP_LOOKUP_AND_DELETE_BATCH : Command.MAP_LOOKUP_BATCH;
    const name: CommandName = andDelete ? 'MAP_LOOKUP_AND_DELETE_BATCH' : 'MAP_LOOKUP_BATCH';
    let size = Math.min(initialSize, Math.max(this.maxEntries, 1));
    let buffers = new BatchBuffers(this.keySize, this.valueBufferSize, size);
    const cursor = new BatchCursor(this.keySize);
    let started = false;
    for (;;) {
      const rc = native.mapBatch(
        this.#handle, command, started ? cursor.in : null, cursor.out,
        buffers.keys, buffers.values, size, 0, this.#countOut,
      );
      const count = this.#countOut[0] ?? 0;
      if (rc === 0 || rc === ENOENT) {
        if (count > 0) yield buffers.chunk(count);
        if (rc === ENOENT) return;
        cursor.advance();
        started = true;
        continue;
      }
      if (rc === -Errno.ENOSPC && count === 0 && size < this.maxEntries) {
        // A hash bucket holds more entries than the batch: grow and retry from the same cursor.
        size = Math.min(size * 2, this.maxEntries);
        buffers = new BatchBuffers(this.keySize, this.valueBufferSize, size);
        continue;
      }
      if (!started && count === 0 && (rc === -Errno.EINVAL || rc === -Errno.ENOTSUPP || rc === -Errno.EOPNOTSUPP)) {
        this.#batchUnsupported = true;
        return;
      }
      throw this.#fail(name, rc);
    }
  }

  /**
   * One page of a batch lookup, decoded: up to `count` entries after `cursor` (from the start
   * when omitted). Pass the returned cursor to continue; `done` marks the end.
   */
  getBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V> {
    return this.#page(options, false);
  }

  /** Like `getBatch`, but deletes the entries it returns (LOOKUP_AND_DELETE_BATCH). */
  getAndDeleteBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V> {
    return this.#page(options, true);
  }

  #page(options: { cursor?: BatchCursor; count?: number } | undefined, andDelete: boolean): BatchPage<K, V> {
    this.#requireKeyed(andDelete ? 'getAndDeleteBatch' : 'getBatch');
    const given = batchOptions(options, andDelete ? 'getAndDeleteBatch' : 'getBatch');
    let count = this.#batchCount(given.count ?? DEFAULT_BATCH, 'count');
    const cursor = given.cursor ?? new BatchCursor(this.keySize);
    if (!(cursor instanceof BatchCursor)) throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `cursor must be a BatchCursor from an earlier page, got ${describe(cursor)}`);
    if (cursor.keySize !== this.keySize) throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', 'the cursor belongs to a map with another key size');
    if (cursor.done) return { entries: [], cursor, done: true };
    const command = andDelete ? Command.MAP_LOOKUP_AND_DELETE_BATCH : Command.MAP_LOOKUP_BATCH;
    for (;;) {
      const buffers = new BatchBuffers(this.keySize, this.valueBufferSize, count);
      const rc = native.mapBatch(this.#handle, command, cursor.started ? cursor.in : null, cursor.out, buffers.keys, buffers.values, count, 0, this.#countOut);
      const got = this.#countOut[0] ?? 0;
      if (rc === -Errno.ENOSPC && got === 0 && count < this.maxEntries) {
        count = Math.min(count * 2, this.maxEntries);
        continue;
      }
      if (rc !== 0 && rc !== ENOENT) throw this.#fail(andDelete ? 'MAP_LOOKUP_AND_DELETE_BATCH' : 'MAP_LOOKUP_BATCH', rc);
      const entries: Array<[K, V]> = [];
      for (let i = 0; i < got; i++) {
        entries.push([this.keyCodec.decode(buffers.keys, i * this.keySize), this.valueCodec.decode(buffers.values, i * this.valueBufferSize)]);
      }
      if (rc === ENOENT) cursor.finish();
      else cursor.advance();
      return { entries, cursor, done: cursor.done };
    }
  }

  /**
   * Writes many entries in one syscall (UPDATE_BATCH), falling back to one update per entry
   * where batches are unsupported. Every key and value is encoded and checked before anything
   * reaches the kernel. Returns the number written.
   *
   * `flags` `'any'` and `'lock'` go to the kernel's batch; `'noexist'` and `'exist'`, which the
   * kernel's batch update refuses (it takes only BPF_F_LOCK per element), are applied one update
   * per entry, in order, stopping at the first entry that fails (EEXIST / ENOENT): the entries
   * before it took effect, and `BpfBatchError.processed` says how many.
   * @throws BpfBatchError with `processed` when the kernel stops part-way (0 when it refused the
   *   batch before writing anything, e.g. EPERM on a frozen map).
   */
  setBatch(entries: Iterable<readonly [K, V]>, flags?: SetFlags): number {
    if (this.#codecBusy) return this.#reentry().setBatch(entries, flags);
    if (!this.#userCodecs) return this.#setBatch(entries, flags);
    this.#codecBusy = true;
    try {
      return this.#setBatch(entries, flags);
    } finally {
      this.#codecBusy = false;
    }
  }

  #setBatch(entries: Iterable<readonly [K, V]>, flags?: SetFlags): number {
    this.#requireKeyed('setBatch');
    const flagBits = resolveSetFlags(flags);
    const list = listOf<readonly [K, V]>(entries, 'setBatch entries');
    if (list.length === 0) return 0;
    const buffers = new BatchBuffers(this.keySize, this.valueBufferSize, list.length);
    list.forEach((entry, i) => {
      try {
        if (!Array.isArray(entry) || entry.length !== 2) {
          throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `expected a [key, value] pair, got ${describe(entry)}`);
        }
        buffers.keys.set(this.#key(entry[0] as K), i * this.keySize);
        buffers.values.set(this.#value(entry[1] as V), i * this.valueBufferSize);
      } catch (error) {
        if (error instanceof Error) error.message = `entry ${i}: ${error.message}`;
        throw error;
      }
    });
    return this.#writeBatch(Command.MAP_UPDATE_BATCH, 'MAP_UPDATE_BATCH', buffers, list.length, flagBits);
  }

  /**
   * Deletes many keys in one syscall (DELETE_BATCH), falling back to one delete per key.
   * Returns the number deleted.
   * @throws BpfBatchError with `processed` when the kernel stops part-way (e.g. ENOENT on a
   *   missing key; 0 when it refused the batch before deleting anything, e.g. EPERM read-only).
   */
  deleteBatch(keys: Iterable<K>): number {
    if (this.#codecBusy) return this.#reentry().deleteBatch(keys);
    if (!this.#userCodecs) return this.#deleteBatch(keys);
    this.#codecBusy = true;
    try {
      return this.#deleteBatch(keys);
    } finally {
      this.#codecBusy = false;
    }
  }

  #deleteBatch(keys: Iterable<K>): number {
    this.#requireKeyed('deleteBatch');
    const list = listOf<K>(keys, 'deleteBatch keys');
    if (list.length === 0) return 0;
    const buffers = new BatchBuffers(this.keySize, 0, list.length);
    list.forEach((key, i) => {
      try {
        buffers.keys.set(this.#key(key), i * this.keySize);
      } catch (error) {
        if (error instanceof Error) error.message = `key ${i}: ${error.message}`;
        throw error;
      }
    });
    return this.#writeBatch(Command.MAP_DELETE_BATCH, 'MAP_DELETE_BATCH', buffers, list.length, 0);
  }

  #writeBatch(command: number, name: CommandName, buffers: BatchBuffers, count: number, flags: number): number {
    const isDelete = command === Command.MAP_DELETE_BATCH;
    // The kernel's batch update takes only BPF_F_LOCK as elem_flags (EINVAL otherwise).
    const batchable = (flags & ~UpdateFlags.lock) === 0;
    if (this.#canBatch() && batchable) {
      const rc = native.mapBatch(this.#handle, command, null, null, buffers.keys, isDelete ? null : buffers.values, count, flags, this.#countOut);
      if (rc === 0) return this.#countOut[0] ?? 0;
      // generic_map_{update,delete}_batch write back how many elements they processed when the
      // loop stops; every earlier refusal (attribute checks, EPERM on a frozen or read-only map,
      // no batch support) returns before that and leaves our count as it was. The loop never
      // stops after the last element, so an unchanged full count means nothing was processed.
      const reported = this.#countOut[0] ?? 0;
      const processed = reported === count ? 0 : reported;
      const unsupported = rc === -Errno.EINVAL || rc === -Errno.ENOTSUPP || rc === -Errno.EOPNOTSUPP;
      // Anything but "no batch support" (or a bad argument the element path will name) is final.
      if (!unsupported || processed !== 0) throw new BpfBatchError(this.#fail(name, rc), processed);
    }
    // Per-element fallback, reporting how many went through before a failure.
    for (let i = 0; i < count; i++) {
      const key = buffers.keys.subarray(i * this.keySize, (i + 1) * this.keySize);
      const rc = isDelete
        ? native.mapDelete(this.#handle, key)
        : native.mapUpdate(this.#handle, key, buffers.values.subarray(i * this.valueBufferSize, (i + 1) * this.valueBufferSize), flags);
      if (rc !== 0) throw new BpfBatchError(this.#fail(isDelete ? 'MAP_DELETE_ELEM' : 'MAP_UPDATE_ELEM', rc), i);
    }
    return count;
  }

  /**
   * Removes every entry. Array maps cannot delete: their values are zeroed instead. Queues and
   * stacks are popped empty.
   */
  clear(): void {
    if (this.type === MapType.queue || this.type === MapType.stack) {
      let rc: number;
      while ((rc = native.mapLookupAndDeleteStaged(this.#handle, 0)) === 0);
      if (rc !== ENOENT) throw this.#fail('MAP_LOOKUP_AND_DELETE_ELEM', rc);
      return;
    }
    this.#requireKeyed('clear');
    if (this.type === MapType.array || this.type === MapType.percpu_array) {
      const zero = new Uint8Array(this.valueBufferSize);
      const key = new Uint8Array(4);
      const view = new DataView(key.buffer);
      for (let i = 0; i < this.maxEntries; i++) {
        view.setUint32(0, i, true);
        const rc = native.mapUpdate(this.#handle, key, zero, 0);
        if (rc !== 0) throw this.#fail('MAP_UPDATE_ELEM', rc);
      }
      return;
    }
    for (;;) {
      const keys: Uint8Array[] = [];
      for (const batch of this.batches()) {
        for (let i = 0; i < batch.count; i++) keys.push(batch.keys.slice(i * this.keySize, (i + 1) * this.keySize));
      }
      if (keys.length === 0) return;
      for (const key of keys) this.#deleteRaw(key);
    }
  }

  // ---------------------------------------------------------------- whole-map operations

  /** Pins the map on bpffs at `path` (the folder must exist on a bpf filesystem). */
  pin(path: string): this {
    this.#ensureOpen();
    checkPinPath(path);
    const rc = native.objPin(this.#object, path);
    if (rc !== 0) {
      const reason = -rc === Errno.EEXIST ? undefined : explainPinFailure(path);
      throw reason === undefined ? BpfError.fromErrno('OBJ_PIN', -rc, { ...this.#subject, path }) : BpfError.withReason('OBJ_PIN', -rc, reason, { ...this.#subject, path });
    }
    return this;
  }

  /** Freezes the map: user space can no longer write it (programs still can, unless RDONLY_PROG). */
  freeze(): this {
    const rc = native.mapFreeze(this.#handle);
    if (rc !== 0) throw this.#fail('MAP_FREEZE', rc);
    return this;
  }

  /**
   * Maps the values of an MMAPABLE array into memory: reads and writes through the returned
   * view cost no syscall. Frozen maps are mapped read-only. Needs a read-write handle (the kernel
   * refuses to map a map through a read-only fd).
   * Unmapped by `close()`.
   */
  mmap(): MappedArray {
    this.#ensureOpen();
    if ((this.type !== MapType.array) || (this.flags & MapFlags.MMAPABLE) === 0) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `mmap needs an array map created with the MMAPABLE flag; '${this.name}' is ${this.typeName}${this.type === MapType.array ? ' without MMAPABLE' : ''}`);
    }
    if (this.readOnly) {
      // MAP_SHARED over a file opened without write access loses VM_SHARED, which bpf_map_mmap
      // rejects with EINVAL: say why instead.
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `mmap needs a read-write handle: the kernel cannot map map '${this.name}' through a read-only fd; open it read-write (a frozen map is then mapped read-only)`);
    }
    const writable = !this.frozen;
    const mapping = MappedArray.map(this.#object, this.valueSize, this.maxEntries, writable, this.#subject);
    this.#mappings.push(mapping);
    return mapping;
  }

  /** Closes the map's fd and unmaps its mappings. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reentrant?.close();
    this.#reentrant = undefined;
    for (const mapping of this.#mappings) mapping.unmap();
    this.#mappings = [];
    native.objClose(this.#object);
  }

  /** `using map = ...` closes the map at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A pin path must be a non-empty string without NUL: the kernel reads a C string, so anything
 * after a NUL would be silently cut off and another path pinned or opened.
 */
function checkPinPath(path: unknown): asserts path is string {
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
