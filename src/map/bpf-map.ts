/**
 * `BpfMap`: a handle on one BPF map, with a Map-like API over raw bpf(2).
 *
 * Keys and values are `Uint8Array`s by default; codecs (records, BTF types) make a map typed,
 * `BpfMap<K, V>`. Each map has a staging area for one key and one value, owned by the addon:
 * element operations put their key and value there and pass the addon only the map's handle, so
 * they allocate nothing but the decoded result and cross into native code once per operation.
 *
 * This file is the public class (members, types, docs) and the handle's lifecycle. The
 * operations live beside it as functions over the map's internals, a `MapCore` (map-core.ts):
 * open.ts (create, open, list, pin), elements.ts (get, set, delete, ...), iteration.ts
 * (entries, keys, values, batches, clear), batch-ops.ts (getBatch, setBatch, deleteBatch),
 * queue-stack-bloom.ts (push, pop, peek, add, mayContain) and fd-values.ts (setFd, getId).
 */
import { show, type Codec } from '../codec/codec.js';
import { native, nativeObject, type HasNativeObject, type NativeObject } from '../sys/native.js';
import { BpfError, Errno, argumentError } from '../sys/errors.js';
import { MapFlags, MapType } from '../sys/constants.js';
import { readMapInfo, readFdInfo, type MapInfo } from './info.js';
import type { MapSpec } from './spec.js';
import { MappedArray } from './mapped-array.js';
import type { BatchCursor, MapBatch, BatchOptions } from './batch.js';
import { PinMismatchError, btfDifferences, isNotPinned, pinDifferences, shapeOfSpec, type PinDifference } from './pinned.js';
import type { Btf } from '../codec/btf/btf.js';
import { MapCore } from './map-core.js';
import type { GetFlags, SetFlags } from './flags.js';
import type { AnyMapKind, KeyedMapKind, KindFor, MapCodecs, MapKindOf, MapValue, OpenOptions } from './map-kinds.js';
import { checkPinPath, createMapObject, listMaps, mapFromUserFd, mapIds, mapIdsByName, mapInfoById, mapObjectById, openPinnedObject, pinMapObject } from './open.js';
import { deleteElement, getAndDeleteElement, getElement, getElementInto, hasElement, nextKeyOf, setElement } from './elements.js';
import { addValue, mayContainValue, peekValue, popValue, pushValue } from './queue-stack-bloom.js';
import { getIdValue, setFdValue } from './fd-values.js';
import { clearMap, iterate, rawBatches } from './iteration.js';
import { batchPage, deleteBatchKeys, setBatchEntries, type BatchPage } from './batch-ops.js';

export { resolveSetFlags, type SetFlags, type GetFlags } from './flags.js';
export { mapFromUserFd } from './open.js';
export type { BatchPage } from './batch-ops.js';
export type { PerCpuMapType, MapValue, AnyMapKind, MapKindOf, KindFor, KeyedMapKind, MapCodecs, OpenOptions } from './map-kinds.js';

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

  /** The handle, staging area and codecs every operation works on (owns the map's private fd). */
  readonly #core: MapCore<K, V>;

  /** Use the static constructors (`create`, `openPinned`, `fromId`, `fromFd`). Takes ownership of the handle. */
  protected constructor(object: NativeObject<'map'>, codecs: MapCodecs<K, unknown> = {}, options: { readOnly?: boolean; path?: string } = {}) {
    const core = new MapCore<K, V>(object, codecs, options);
    this.#core = core;
    this.type = core.type;
    this.name = core.name;
    this.id = core.id;
    this.keySize = core.keySize;
    this.valueSize = core.valueSize;
    this.maxEntries = core.maxEntries;
    this.flags = core.flags;
    this.readOnly = core.readOnly;
    this.perCpu = core.perCpu;
    this.keyCodec = core.keyCodec;
    this.elementCodec = core.elementCodec;
    this.valueCodec = core.valueCodec;
    this.valueBufferSize = core.valueBufferSize;
  }

  /**
   * The map's public file descriptor (close-on-exec, never below 3): a duplicate made on first
   * use and owned by this map, for passing to other tools. bpfmap never acts on it: closing it
   * (or anything else reusing its number) cannot make this map act on another object; `close()`
   * closes it only if it still refers to this map. Throws `ERR_BPFMAP_CLOSED` after `close()`.
   */
  get fd(): number {
    this.#core.ensureOpen();
    const fd = native.objPublicFd(this.#core.object);
    if (fd < 0) throw this.#core.fail('OBJ_GET_INFO_BY_FD', fd);
    return fd;
  }

  /** @internal The native handle, for functions that take this map as an argument. */
  get [nativeObject](): NativeObject<'map'> {
    return this.#core.object;
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
    return new BpfMap<K, MapValue<S['type'], T>, MapKindOf<S['type']>>(createMapObject(spec), codecs);
  }

  /**
   * Opens a map pinned on bpffs. For per-CPU maps, values are arrays: state it in the type
   * parameters (`BpfMap.openPinned<Uint8Array, Uint8Array[]>(path)`).
   * @throws BpfError (OBJ_GET) with code ENOENT when nothing is pinned there.
   */
  static openPinned<K = Uint8Array, T = Uint8Array, V = T>(path: string, options?: OpenOptions<K, T>): BpfMap<K, V> {
    return BpfMap.#fromOwned<K, V>(openPinnedObject(path, options), options, path);
  }

  /**
   * Opens the map pinned at `path` when its type, key and value sizes, max entries, flags and
   * map_extra are those of `spec` (libbpf's check before it reuses a map pinned by name) and,
   * when `spec.btf` names key and value types, the pin's BTF types lay out and name their bytes
   * alike (`btfTypeShape`); otherwise, when nothing is pinned there, creates the map and pins it.
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
    let differences: PinDifference[];
    try {
      differences = pinDifferences(pinned.info, wanted);
      if (differences.length === 0) differences = btfDifferences(pinned.info, spec);
    } catch (error) {
      pinned.close();
      throw error;
    }
    if (differences.length > 0) {
      pinned.close();
      throw new PinMismatchError(path, differences, spec.name);
    }
    return pinned;
  }

  /** Opens a map by its kernel-wide id (needs CAP_SYS_ADMIN). */
  static fromId<K = Uint8Array, T = Uint8Array, V = T>(id: number, options?: OpenOptions<K, T>): BpfMap<K, V> {
    return BpfMap.#fromOwned<K, V>(mapObjectById(id, options), options);
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
    return mapIdsByName(name);
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
    yield* mapIds();
  }

  /** Info of one map by id, without keeping it open. */
  static infoById(id: number): MapInfo {
    return mapInfoById(id);
  }

  /** Info of every map on the system, like `bpftool map show` (maps that vanish meanwhile are skipped). */
  static list(): MapInfo[] {
    return listMaps();
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
    this.#core.ensureOpen();
    const codecs: MapCodecs<K2, unknown> = {
      key: (key ?? this.keyCodec) as Codec<K2>,
      value: value ?? this.elementCodec,
    };
    return new BpfMap<K2, V2>(this.#core.duplicateObject(), codecs, { readOnly: this.readOnly });
  }

  /**
   * The map's own BTF (the C types of its key and value, from the object that created it), or
   * undefined when it has none. Parsed once per BTF id.
   */
  btf(): Btf | undefined {
    this.#core.ensureOpen();
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
    this.#core.ensureOpen();
    return requireBtfSupport().typedMap<K2, V2>(this as unknown as BpfMap<unknown, unknown>);
  }

  // ---------------------------------------------------------------- info

  /** Fresh info from the kernel, including `frozen` and `memlock`. */
  get info(): MapInfo {
    this.#core.ensureOpen();
    return readMapInfo(this.#core.object);
  }

  /** bpftool's name of the map type. */
  get typeName(): string {
    return this.#core.typeName;
  }

  /** True once the map is frozen. */
  get frozen(): boolean {
    this.#core.ensureOpen();
    return readFdInfo(this.#core.object).frozen;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#core.closed;
  }

  // ---------------------------------------------------------------- element operations (elements.ts)

  /**
   * The value stored under `key`, or `undefined` when there is none. On an lpm_trie this is the
   * longest-prefix match. With `'lock'`, the kernel copies the value while holding its
   * bpf_spin_lock (the map's value type must have one), so the read is never torn by a program
   * that updates under the lock; the lock's own bytes read as zero either way.
   */
  get(this: BpfMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K, flags?: GetFlags): V | undefined {
    return getElement(this.#core, key, flags);
  }

  /**
   * Raw lookup into a caller buffer of `valueBufferSize` bytes: no allocation at all.
   * Returns false when the key is missing. `flags` as for `get`.
   */
  getInto(key: K, target: Uint8Array, flags?: GetFlags): boolean {
    return getElementInto(this.#core, key, target, flags);
  }

  /**
   * Stores `value` under `key`. `flags`: `'any'` (default) creates or replaces, `'noexist'` only
   * creates, `'exist'` only replaces, `'lock'` updates under the value's bpf_spin_lock.
   * Per-CPU maps take an array with one value per possible CPU.
   * @throws BpfError EEXIST (noexist on an existing key), ENOENT (exist on a missing key),
   *   E2BIG (map full), EPERM (frozen map).
   */
  set(this: BpfMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K, value: V, flags?: SetFlags): BpfMap<K, V, Kind> {
    setElement(this.#core, key, value, flags);
    return this as unknown as BpfMap<K, V, Kind>;
  }

  /** Deletes `key`; true when it existed. */
  delete(key: K): boolean {
    return deleteElement(this.#core, key);
  }

  /** True when the bloom filter may hold `value` (false: it surely does not). */
  has(this: BpfMap<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): boolean;
  /** True when `key` has a value. */
  has(this: BpfMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K): boolean;
  has(keyOrValue: K | V): boolean {
    return hasElement(this.#core, keyOrValue as K);
  }

  /** Removes `key` and returns its value in one step (hash maps, kernel 5.14+); undefined when missing. */
  getAndDelete(key: K): V | undefined {
    return getAndDeleteElement(this.#core, key);
  }

  /**
   * The key after `key` in the kernel's order, or the first key when `key` is omitted;
   * `undefined` at the end. (A key that is not in a hash map yields the first key.)
   */
  nextKey(key?: K): K | undefined {
    return nextKeyOf(this.#core, key);
  }

  // ---------------------------------------------------------------- queue, stack, bloom filter (queue-stack-bloom.ts)

  /** Pushes onto a queue or stack. `flags: 'exist'` overwrites the oldest element when full. */
  push(this: BpfMap<K, V, KindFor<Kind, 'queue' | 'stack'>>, value: V, flags?: SetFlags): BpfMap<K, V, Kind> {
    pushValue(this.#core, value, flags);
    return this as unknown as BpfMap<K, V, Kind>;
  }

  /** Removes and returns the next element of a queue (oldest) or stack (newest); undefined when empty. */
  pop(this: BpfMap<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined {
    return popValue(this.#core);
  }

  /** Returns the next element of a queue or stack without removing it; undefined when empty. */
  peek(this: BpfMap<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined {
    return peekValue(this.#core);
  }

  /** Adds a value to a bloom filter. */
  add(this: BpfMap<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): BpfMap<K, V, Kind> {
    addValue(this.#core, value);
    return this as unknown as BpfMap<K, V, Kind>;
  }

  /** True when a bloom filter may contain `value` (false means it certainly does not). */
  mayContain(value: V): boolean {
    return mayContainValue(this.#core, value);
  }

  // ---------------------------------------------------------------- maps of maps, program arrays (fd-values.ts)

  /**
   * Stores an fd under `key`: an inner map (array_of_maps, hash_of_maps), a program
   * (prog_array), a perf event (perf_event_array), a cgroup (cgroup_array) or a socket
   * (sockmap, sockhash). The kernel keeps its own reference; lookups give ids, not fds.
   */
  setFd(key: K, target: { readonly fd: number } | HasNativeObject | number, flags?: SetFlags): this {
    setFdValue(this.#core, key, target, flags);
    return this;
  }

  /** Stores an inner map under `key` of an array_of_maps / hash_of_maps. */
  setInnerMap(key: K, inner: { readonly fd: number } | HasNativeObject | number, flags?: SetFlags): this {
    this.#core.requireType('setInnerMap', MapType.array_of_maps, MapType.hash_of_maps);
    return this.setFd(key, inner, flags);
  }

  /** The id of the inner map or program stored under `key`, or undefined. */
  getId(key: K): number | undefined {
    return getIdValue(this.#core, key);
  }

  /** Opens the inner map stored under `key` of a map-in-map; undefined when the slot is empty. */
  openInnerMap<K2 = Uint8Array, T2 = Uint8Array, V2 = T2>(key: K, options?: OpenOptions<K2, T2>): BpfMap<K2, V2> | undefined {
    this.#core.requireType('openInnerMap', MapType.array_of_maps, MapType.hash_of_maps);
    const id = this.getId(key);
    return id === undefined ? undefined : BpfMap.fromId<K2, T2, V2>(id, options);
  }

  // ---------------------------------------------------------------- iteration (iteration.ts)

  /** Entries `[key, value]`, decoded. Uses batch lookups where the kernel has them. */
  entries(): Generator<[K, V]> {
    return iterate(this.#core, 'entries');
  }

  /** Keys, decoded (values are fetched by the batch but not decoded). */
  keys(): Generator<K> {
    return iterate(this.#core, 'keys');
  }

  /** Values, decoded. */
  values(): Generator<V> {
    return iterate(this.#core, 'values');
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
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
  batches(options?: BatchOptions): Generator<MapBatch> {
    return rawBatches(this.#core, options);
  }

  // ---------------------------------------------------------------- batch operations (batch-ops.ts)

  /**
   * One page of a batch lookup, decoded: up to `count` entries after `cursor` (from the start
   * when omitted). Pass the returned cursor to continue; `done` marks the end.
   */
  getBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V> {
    return batchPage(this.#core, options, false);
  }

  /** Like `getBatch`, but deletes the entries it returns (LOOKUP_AND_DELETE_BATCH). */
  getAndDeleteBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V> {
    return batchPage(this.#core, options, true);
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
    return setBatchEntries(this.#core, entries, flags);
  }

  /**
   * Deletes many keys in one syscall (DELETE_BATCH), falling back to one delete per key.
   * Returns the number deleted.
   * @throws BpfBatchError with `processed` when the kernel stops part-way (e.g. ENOENT on a
   *   missing key; 0 when it refused the batch before deleting anything, e.g. EPERM read-only).
   */
  deleteBatch(keys: Iterable<K>): number {
    return deleteBatchKeys(this.#core, keys);
  }

  /**
   * Removes every entry. Array maps cannot delete: their values are zeroed instead. Queues and
   * stacks are popped empty.
   */
  clear(): void {
    clearMap(this.#core);
  }

  // ---------------------------------------------------------------- whole-map operations

  /** Pins the map on bpffs at `path` (the folder must exist on a bpf filesystem). */
  pin(path: string): this {
    this.#core.ensureOpen();
    pinMapObject(this.#core.object, path, this.#core.subject);
    return this;
  }

  /** Freezes the map: user space can no longer write it (programs still can, unless RDONLY_PROG). */
  freeze(): this {
    const rc = native.mapFreeze(this.#core.handle);
    if (rc !== 0) throw this.#core.fail('MAP_FREEZE', rc);
    return this;
  }

  /**
   * Maps the values of an MMAPABLE array into memory: reads and writes through the returned
   * view cost no syscall. Frozen maps are mapped read-only. Needs a read-write handle (the kernel
   * refuses to map a map through a read-only fd).
   * Unmapped by `close()`.
   */
  mmap(): MappedArray {
    this.#core.ensureOpen();
    if ((this.type !== MapType.array) || (this.flags & MapFlags.MMAPABLE) === 0) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `mmap needs an array map created with the MMAPABLE flag; '${this.name}' is ${this.typeName}${this.type === MapType.array ? ' without MMAPABLE' : ''}`);
    }
    if (this.readOnly) {
      // MAP_SHARED over a file opened without write access loses VM_SHARED, which bpf_map_mmap
      // rejects with EINVAL: say why instead.
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `mmap needs a read-write handle: the kernel cannot map map '${this.name}' through a read-only fd; open it read-write (a frozen map is then mapped read-only)`);
    }
    const writable = !this.frozen;
    const mapping = MappedArray.map(this.#core.object, this.valueSize, this.maxEntries, writable, this.#core.subject);
    this.#core.mappings.push(mapping);
    return mapping;
  }

  /** Closes the map's fd and unmaps its mappings. Idempotent. */
  close(): void {
    this.#core.close();
  }

  /** `using map = ...` closes the map at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}
