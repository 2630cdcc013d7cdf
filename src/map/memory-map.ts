/**
 * `MemoryMap`: a BPF map kept in this process's memory, with `BpfMap`'s interface, for unit tests
 * of code that uses bpfmap without root, a kernel or the native addon.
 *
 * Every operation checks its arguments as `BpfMap` does (same `TypeError`/`RangeError` codes),
 * then asks a store (memory-store.ts) that answers as the kernel's map code does, and turns a
 * refusal into the same `BpfError` (code, errno, command) a kernel map gives. A differential test
 * (test/map/memory-differential.test.ts) runs one random sequence on both and compares.
 *
 * Not modelled: iteration in hash order (a memory map iterates hash maps in insertion order, LRU
 * maps from least to most recently written), bloom filter false positives, `bpf_spin_lock` values
 * (`'lock'` gives EINVAL, as on a map whose value has no lock), fds, pins, mmap and map types
 * other than hash, array, their per-CPU and LRU variants, queue, stack and bloom_filter.
 */
import { type Codec, bytesCodec, describe, isBytesCodec, show, uint8ArrayLength } from '../codec/codec.js';
import { BpfError, Errno, argumentError, sizeError, type ErrorSubject } from '../sys/errors.js';
import type { CommandName } from '../sys/commands.js';
import { MapFlags, MapType, UpdateFlags, isKeylessType, isPerCpuType, mapTypeName } from '../sys/constants.js';
import type { BatchCursor, BatchOptions, MapBatch } from './batch.js';
import { perCpuCodec } from './codecs.js';
import { memoryShape, type MemoryShape } from './memory-spec.js';
import { ArrayStore, BloomStore, HashStore, QueueStore, step, storeFor, type HashWalk, type MemoryStore } from './memory-store.js';
import { resolveGetFlags, resolveSetFlags, type GetFlags, type SetFlags } from './flags.js';
import type { MapSpec } from './spec.js';
import type { MapInfo } from './info.js';
import type { AnyMapKind, KeyedMapKind, KindFor, MapCodecs, MapKindOf, MapValue } from './map-kinds.js';
import type { BatchPage } from './batch-ops.js';
import { memoryBatchPage, memoryBatches, memoryDeleteBatch, memorySetBatch, type MemoryBatchHost } from './memory-batches.js';
import type { Btf } from '../codec/btf/btf.js';
import { btfCodec } from '../codec/btf/codec.js';
import { BtfError } from '../codec/btf/errors.js';
import { btfForRecords } from '../codec/btf/from-record.js';
import type { BpfRecord, RecordObject } from '../codec/record/record.js';

const ENOENT = -Errno.ENOENT;
const EPERM = -Errno.EPERM;
const EINVAL = -Errno.EINVAL;
const ENOTSUPP = -Errno.ENOTSUPP;

/** Options of an in-memory map. */
export interface MemoryMapOptions {
  /**
   * Possible CPUs of per-CPU maps (the length of their value arrays). Default: the count in
   * /sys/devices/system/cpu/possible, which is what a kernel map on this machine would have.
   */
  readonly possibleCpus?: number;
}

/** A map's own BTF, as a memory map holds it: the `Btf` and the key and value type ids. */
interface OwnBtf {
  readonly btf: Btf;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
}

/** What every handle on one memory map shares: its elements, whether it is frozen, its BTF. */
interface MemoryCore {
  readonly shape: MemoryShape;
  readonly store: MemoryStore;
  readonly id: number;
  readonly btf: OwnBtf | undefined;
  frozen: boolean;
  /** Live walks of getBatch cursors over a hash store. */
  readonly cursors: WeakMap<BatchCursor, HashWalk>;
}

let nextId = 1;

/**
 * A BPF map in memory with `BpfMap`'s interface: the same methods, argument checks, error classes
 * and codes, codecs (raw bytes, records, BTF types, `typed()`), and batch semantics. Needs no
 * root, no kernel and no native addon (import it from `bpfmap/memory` to leave the addon unloaded).
 *
 * @example
 * import { MemoryMap, type BpfMapLike } from 'bpfmap/memory';
 * function countPid(map: BpfMapLike<Uint8Array, Uint8Array>, pid: number): void { ... }
 * using map = MemoryMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64 });
 * countPid(map, 42);
 */
export class MemoryMap<K = Uint8Array, V = Uint8Array, Kind extends AnyMapKind = AnyMapKind> implements Iterable<[K, V]> {
  /** Type-level only, as on `BpfMap`: the map type this handle's type knows. */
  declare readonly typeKind?: Kind;

  /** Map type number (`MapType`). */
  readonly type: number;
  /** Map name as given. */
  readonly name: string;
  /** An id unique among this process's memory maps (not a kernel id). */
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
  /** Possible CPUs: the length of a per-CPU value (1 for other maps). */
  readonly possibleCpus: number;
  /** Bytes of one whole value as `getInto` and batches hand it over (per-CPU: roundup(valueSize, 8) * CPUs). */
  readonly valueBufferSize: number;
  /** Always false: the map's own `RDONLY` flag is what refuses writes. */
  readonly readOnly = false;
  /** The key codec. */
  readonly keyCodec: Codec<K>;
  /** The codec of a whole value (per-CPU arrays included). */
  readonly valueCodec: Codec<V>;
  /** The codec of one value as given (one CPU's value for per-CPU maps). */
  readonly elementCodec: Codec<unknown>;

  readonly #core: MemoryCore;
  readonly #subject: ErrorSubject;
  readonly #rawKeys: boolean;
  readonly #rawValues: boolean;
  readonly #keyScratch: Uint8Array;
  readonly #valueScratch: Uint8Array;
  /** Codec calls under way: a codec that calls back into this map gets fresh buffers, not the scratch ones. */
  #encoding = 0;
  #closed = false;
  /** This map's checks and store as the batch operations (memory-batches.ts) see them. */
  readonly #host: MemoryBatchHost<K, V>;

  private constructor(core: MemoryCore, codecs: MapCodecs<K, unknown>) {
    const { shape } = core;
    this.#core = core;
    this.type = shape.type;
    this.name = shape.name;
    this.id = core.id;
    this.keySize = shape.keySize;
    this.valueSize = shape.valueSize;
    this.maxEntries = shape.maxEntries;
    this.flags = shape.flags;
    this.perCpu = isPerCpuType(shape.type);
    this.possibleCpus = shape.cpus;
    this.valueBufferSize = shape.valueStride;
    this.#subject = { ...(shape.name ? { name: shape.name } : {}), id: core.id };
    const label = shape.name ? `map '${shape.name}'` : `map ${core.id}`;
    const keyCodec = (codecs.key ?? bytesCodec(shape.keySize)) as Codec<K>;
    if (keyCodec.size !== shape.keySize && !isKeylessType(shape.type)) {
      throw argumentError(RangeError, 'ERR_BPFMAP_CODEC', `key codec is ${keyCodec.size} bytes but ${label} has ${shape.keySize}-byte keys`);
    }
    const element = codecs.value ?? bytesCodec(shape.valueSize);
    if (element.size !== shape.valueSize) {
      throw argumentError(RangeError, 'ERR_BPFMAP_CODEC', `value codec is ${element.size} bytes but ${label} has ${shape.valueSize}-byte values`);
    }
    this.keyCodec = keyCodec;
    this.elementCodec = element;
    this.valueCodec = (this.perCpu ? perCpuCodec(element, shape.cpus) : element) as Codec<V>;
    this.#rawKeys = isBytesCodec(keyCodec);
    this.#rawValues = isBytesCodec(element) && !this.perCpu;
    this.#keyScratch = new Uint8Array(shape.keySize);
    this.#valueScratch = new Uint8Array(shape.valueStride);
    this.#host = {
      name: this.name, type: this.type, keySize: this.keySize, valueBufferSize: this.valueBufferSize, maxEntries: this.maxEntries,
      keyCodec: this.keyCodec, valueCodec: this.valueCodec, core,
      keyed: () => this.#keyed,
      requireKeyed: (operation) => this.#requireKeyed(operation),
      access: (read, write) => this.#access(read, write),
      fail: (command, rc) => this.#fail(command, rc),
      key: (key) => this.#key(key),
      value: (value) => this.#value(value),
      update: (key, value, flagBits) => this.#update(key, value, flagBits),
      deleteRaw: (key) => this.#deleteRaw(key),
      raw: <R>(pick: (key: Uint8Array, value: Uint8Array) => R) => this.#raw(pick),
    };
  }

  // ---------------------------------------------------------------- constructors

  /**
   * Creates a map in memory. Takes what `BpfMap.create` takes and refuses what the kernel would
   * refuse, with the same error (a hash map with keySize 0 is `BpfError` EINVAL from MAP_CREATE).
   * @throws TypeError `ERR_BPFMAP_MEMORY_UNSUPPORTED` for map types without an in-memory model
   *   (ring buffers, maps of maps, ...) and for `btf`/`innerMap`, which name kernel objects.
   */
  static create<const S extends MapSpec, K = Uint8Array, T = Uint8Array>(spec: S, codecs?: MapCodecs<K, T>, options?: MemoryMapOptions): MemoryMap<K, MapValue<S['type'], T>, MapKindOf<S['type']>> {
    return MemoryMap.#make(spec, codecs, options, undefined);
  }

  static #make<K, V, Kind extends AnyMapKind>(spec: MapSpec, codecs: MapCodecs<K, unknown> | undefined, options: MemoryMapOptions | undefined, btf: OwnBtf | undefined): MemoryMap<K, V, Kind> {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPTION', `MemoryMap options must be an object, got ${describe(options)}`);
    }
    const shape = memoryShape(spec, options?.possibleCpus);
    const store = storeFor({ type: shape.type, keySize: shape.keySize, valueStride: shape.valueStride, maxEntries: shape.maxEntries }) as MemoryStore;
    const core: MemoryCore = { shape, store, id: nextId++, btf, frozen: false, cursors: new WeakMap() };
    return new MemoryMap<K, V, Kind>(core, codecs ?? {});
  }

  /**
   * A memory map whose key and value are typed by BTF types (ids or names in `types.btf`), as
   * `createWithBtf` makes a kernel map: sizes default to the types' sizes, `btf()` gives the BTF
   * and `typed()` works. Returns the map typed through those types.
   * @throws BtfError `ERR_BTF_SIZE_MISMATCH` when `keySize`/`valueSize` differ from the types' sizes.
   */
  static createWithBtf<K = unknown, V = unknown>(
    spec: Omit<MapSpec, 'keySize' | 'valueSize' | 'btf'> & { readonly keySize?: number; readonly valueSize?: number },
    types: { readonly btf: Btf; readonly key?: number | string; readonly value: number | string },
    options?: MemoryMapOptions,
  ): MemoryMap<K, V> {
    const { btf } = types;
    const keyTypeId = types.key === undefined ? 0 : typeof types.key === 'number' ? types.key : btf.typeByName(types.key).id;
    const valueTypeId = typeof types.value === 'number' ? types.value : btf.typeByName(types.value).id;
    const keyTypeSize = keyTypeId ? btf.size(keyTypeId) : 0;
    const valueTypeSize = btf.size(valueTypeId);
    const keySize = spec.keySize ?? keyTypeSize;
    const valueSize = spec.valueSize ?? valueTypeSize;
    if (keyTypeId && keySize !== keyTypeSize) throw new BtfError('ERR_BTF_SIZE_MISMATCH', `key type id ${keyTypeId} is ${keyTypeSize} bytes but keySize is ${keySize}`, { typeId: keyTypeId });
    if (valueSize !== valueTypeSize) throw new BtfError('ERR_BTF_SIZE_MISMATCH', `value type id ${valueTypeId} is ${valueTypeSize} bytes but valueSize is ${valueSize}`, { typeId: valueTypeId });
    const codecs: MapCodecs<K, unknown> = { ...(keyTypeId ? { key: btfCodec<K>(btf, keyTypeId) } : {}), value: btfCodec(btf, valueTypeId) };
    return MemoryMap.#make<K, V, AnyMapKind>({ ...spec, keySize, valueSize } as MapSpec, codecs, options, { btf, keyTypeId, valueTypeId });
  }

  /**
   * A memory map typed by records, with BTF built from them, as `createWithRecords` makes a
   * kernel map (sizes from the records; `btf()` and `typed()` work).
   */
  static createWithRecords<const S extends Omit<MapSpec, 'keySize' | 'valueSize' | 'btf'>, K = RecordObject, V = RecordObject>(
    spec: S,
    records: { readonly key?: BpfRecord<K>; readonly value: BpfRecord<V>; readonly keyName?: string; readonly valueName?: string },
    options?: MemoryMapOptions,
  ): MemoryMap<K, MapValue<S['type'], V>, MapKindOf<S['type']>> {
    const { key, value } = records;
    const isArray = spec.type === 'array' || spec.type === 'percpu_array' || spec.type === MapType.array || spec.type === MapType.percpu_array;
    const { btf, keyTypeId, valueTypeId } = btfForRecords(key, value, {
      ...(records.keyName !== undefined ? { keyName: records.keyName } : {}),
      ...(records.valueName !== undefined ? { valueName: records.valueName } : {}),
      u32Key: isArray && key?.size === 4,
    });
    const codecs: MapCodecs<K, V> = { ...(key ? { key } : {}), value };
    return MemoryMap.#make({ ...spec, keySize: key?.size ?? 0, valueSize: value.size } as MapSpec, codecs, options, { btf, keyTypeId, valueTypeId });
  }

  /**
   * Another handle on the same elements through other codecs (omitted ones keep this map's).
   * Closing one handle does not close the other.
   */
  withCodecs<K2, T2>(key: Codec<K2>, value: Codec<T2>): MemoryMap<K2, T2>;
  withCodecs<K2 = K, V2 = V>(key?: Codec<K2>, value?: Codec<unknown>): MemoryMap<K2, V2>;
  withCodecs<K2, V2>(key?: Codec<K2>, value?: Codec<unknown>): MemoryMap<K2, V2> {
    this.#ensureOpen();
    return new MemoryMap<K2, V2>(this.#core, { key: (key ?? this.keyCodec) as Codec<K2>, value: value ?? this.elementCodec });
  }

  /** The map's own BTF (given to `createWithBtf`/`createWithRecords`), or undefined. */
  btf(): Btf | undefined {
    this.#ensureOpen();
    return this.#core.btf?.btf;
  }

  /**
   * A handle typed through the map's own BTF, as `BpfMap.typed()`.
   * @throws TypeError `ERR_BPFMAP_NO_BTF` when the map was made without BTF.
   */
  typed<K2 = unknown, V2 = unknown>(): MemoryMap<K2, V2> {
    this.#ensureOpen();
    const own = this.#core.btf;
    if (own === undefined || !own.valueTypeId) {
      throw argumentError(TypeError, 'ERR_BPFMAP_NO_BTF', `map '${this.name}' id ${this.id} has no BTF value type, so it cannot be typed from its own BTF: use withCodecs() with records or codecs, or the raw handle`);
    }
    const arrayIndexed = (this.type === MapType.array || this.type === MapType.percpu_array) && this.keySize === 4;
    const key = own.keyTypeId ? btfCodec<K2>(own.btf, own.keyTypeId) : arrayIndexed ? (arrayIndexCodec as unknown as Codec<K2>) : (this.keyCodec as unknown as Codec<K2>);
    return this.withCodecs<K2, V2>(key, btfCodec(own.btf, own.valueTypeId));
  }

  // ---------------------------------------------------------------- info

  /** The map's info as `BpfMap.info` gives it (no BTF id: the BTF is not in a kernel). */
  get info(): MapInfo {
    this.#ensureOpen();
    const { shape, btf } = this.#core;
    return {
      type: shape.type, typeName: mapTypeName(shape.type), id: this.id, name: shape.name, keySize: shape.keySize,
      valueSize: shape.valueSize, maxEntries: shape.maxEntries, flags: shape.flags, btfId: 0,
      btfKeyTypeId: btf?.keyTypeId ?? 0, btfValueTypeId: btf?.valueTypeId ?? 0, btfVmlinuxValueTypeId: 0,
      mapExtra: shape.mapExtra, ifindex: 0, frozen: this.#core.frozen, memlock: undefined,
    };
  }

  /** bpftool's name of the map type. */
  get typeName(): string {
    return mapTypeName(this.type);
  }

  /** True once the map is frozen. */
  get frozen(): boolean {
    this.#ensureOpen();
    return this.#core.frozen;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Entries in the map now (what a kernel map counts; an array always has `maxEntries`). */
  get size(): number {
    const { store } = this.#core;
    return store instanceof HashStore || store instanceof QueueStore ? store.count : store instanceof ArrayStore ? this.maxEntries : 0;
  }

  // ---------------------------------------------------------------- checks and errors

  #key(key: K): Uint8Array {
    if (this.#rawKeys) {
      const length = uint8ArrayLength(key);
      if (length < 0) throw argumentError(TypeError, 'ERR_BPFMAP_KEY_TYPE', `key expected a Uint8Array of ${this.keySize} bytes, got ${describe(key)}`);
      if (length !== this.keySize) throw sizeError('key', this.keySize, length);
      return key as Uint8Array;
    }
    const target = this.#encoding === 0 ? this.#keyScratch : new Uint8Array(this.keySize);
    this.#encoding++;
    try {
      this.keyCodec.encode(key, target, 0);
    } finally {
      this.#encoding--;
    }
    return target;
  }

  #value(value: V): Uint8Array {
    if (this.#rawValues) {
      const length = uint8ArrayLength(value);
      if (length < 0) throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `value expected a Uint8Array of ${this.valueSize} bytes, got ${describe(value)}`);
      if (length !== this.valueSize) throw sizeError('value', this.valueSize, length);
      return value as Uint8Array;
    }
    const target = this.#encoding === 0 ? this.#valueScratch : new Uint8Array(this.valueBufferSize);
    this.#encoding++;
    try {
      this.valueCodec.encode(value, target, 0);
    } finally {
      this.#encoding--;
    }
    return target;
  }

  /** A value read out of the store: raw values are the fresh buffer itself, others decode from it. */
  #decodeOut(out: Uint8Array): V {
    return this.#rawValues ? (out as V) : this.valueCodec.decode(out, 0);
  }

  #fail(command: CommandName, rc: number): BpfError {
    if (this.#closed) {
      return new BpfError(`${command} on map '${this.name}' id ${this.id}: the map handle is closed`, { code: 'EBADF', errno: Errno.EBADF, command, subject: this.#subject });
    }
    if (rc === EINVAL && (command === 'MAP_LOOKUP_ELEM' || command === 'MAP_UPDATE_ELEM') && this.#lockFlag) {
      return BpfError.withReason(command, Errno.EINVAL, "flag 'lock' needs a value type (in the map's BTF) that holds a struct bpf_spin_lock: a MemoryMap models no bpf_spin_lock", this.#subject);
    }
    return BpfError.fromErrno(command, -rc, this.#subject);
  }

  /** Set for the duration of an element operation that carries the lock flag, for its message. */
  #lockFlag = false;

  #ensureOpen(): void {
    if (this.#closed) throw this.#fail('OBJ_GET_INFO_BY_FD', -Errno.EBADF);
  }

  /** The syscall's permission check: EBADF when closed, EPERM when the map cannot be read (WRONLY) or written (frozen, RDONLY). */
  #access(read: boolean, write: boolean): number {
    if (this.#closed) return -Errno.EBADF;
    if (read && (this.flags & MapFlags.WRONLY) !== 0) return EPERM;
    if (write && (this.#core.frozen || (this.flags & MapFlags.RDONLY) !== 0)) return EPERM;
    return 0;
  }

  #requireKeyed(operation: string): void {
    if (isKeylessType(this.type)) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `${operation} needs a keyed map; ${this.typeName} map '${this.name}' has no keys (use push/pop/peek, or add/has for bloom_filter)`);
    }
  }

  #requireType(operation: string, ...types: MapType[]): void {
    if (!types.includes(this.type)) {
      throw argumentError(TypeError, 'ERR_BPFMAP_OPERATION', `${operation} needs a ${types.map(mapTypeName).join(' or ')} map; '${this.name}' is ${this.typeName}`);
    }
  }

  /** The keyed store (hash or array); queues and bloom filters were refused before. */
  get #keyed(): HashStore | ArrayStore {
    return this.#core.store as HashStore | ArrayStore;
  }

  /** LOOKUP_ELEM's checks and lookup: a view of the stored value, or the errno. */
  #find(key: Uint8Array, flagBits: number): Uint8Array | number {
    const denied = this.#access(true, false);
    if (denied !== 0) return denied;
    if ((flagBits & UpdateFlags.lock) !== 0) return EINVAL;
    const { store } = this.#core;
    if (store instanceof QueueStore) {
      const out = new Uint8Array(this.valueBufferSize);
      const rc = store.take(out, false);
      return rc === 0 ? out : rc;
    }
    if (store instanceof BloomStore) return EINVAL;
    return store.view(key) ?? ENOENT;
  }

  /** UPDATE_ELEM's checks and update. */
  #update(key: Uint8Array, value: Uint8Array, flagBits: number): number {
    const denied = this.#access(false, true);
    if (denied !== 0) return denied;
    if ((flagBits & UpdateFlags.lock) !== 0) return EINVAL;
    return this.#keyed.update(key, value, flagBits);
  }

  /** DELETE_ELEM's checks and delete. */
  #deleteRaw(key: Uint8Array): number {
    const denied = this.#access(false, true);
    if (denied !== 0) return denied;
    const store = this.#keyed;
    return store instanceof HashStore ? store.delete(key) : EINVAL;
  }

  // ---------------------------------------------------------------- element operations

  /** The value stored under `key`, or `undefined` when there is none (as `BpfMap.get`). */
  get(this: MemoryMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K, flags?: GetFlags): V | undefined {
    const flagBits = flags === undefined ? 0 : resolveGetFlags(flags);
    const self = this as MemoryMap<K, V, Kind>;
    const found = self.#find(self.#key(key), flagBits);
    if (typeof found !== 'number') return self.valueCodec.decode(found, 0);
    if (found === ENOENT) return undefined;
    self.#lockFlag = flagBits !== 0;
    try {
      throw self.#fail('MAP_LOOKUP_ELEM', found);
    } finally {
      self.#lockFlag = false;
    }
  }

  /** Copies the value under `key` into `target` (`valueBufferSize` bytes); false when missing. */
  getInto(key: K, target: Uint8Array, flags?: GetFlags): boolean {
    const targetLength = uint8ArrayLength(target);
    if (targetLength !== this.valueBufferSize) {
      if (targetLength < 0) throw argumentError(TypeError, 'ERR_BPFMAP_VALUE_TYPE', `value buffer expected a Uint8Array of ${this.valueBufferSize} bytes, got ${describe(target)}`);
      throw sizeError('value buffer', this.valueBufferSize, targetLength);
    }
    const flagBits = flags === undefined ? 0 : resolveGetFlags(flags);
    const found = this.#find(this.#key(key), flagBits);
    if (typeof found !== 'number') {
      target.set(found);
      return true;
    }
    if (found === ENOENT) return false;
    this.#lockFlag = flagBits !== 0;
    try {
      throw this.#fail('MAP_LOOKUP_ELEM', found);
    } finally {
      this.#lockFlag = false;
    }
  }

  /**
   * Stores `value` under `key` (`'any'`, `'noexist'`, `'exist'`), as `BpfMap.set`.
   * @throws BpfError EEXIST, ENOENT, E2BIG (full; an LRU map evicts instead), EPERM (frozen).
   */
  set(this: MemoryMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K, value: V, flags?: SetFlags): MemoryMap<K, V, Kind> {
    const self = this as MemoryMap<K, V, Kind>;
    self.#requireKeyed('set');
    const flagBits = resolveSetFlags(flags);
    const keyBytes = self.#key(key);
    const rc = self.#update(keyBytes, self.#value(value), flagBits);
    if (rc !== 0) {
      self.#lockFlag = (flagBits & UpdateFlags.lock) !== 0;
      try {
        throw self.#fail('MAP_UPDATE_ELEM', rc);
      } finally {
        self.#lockFlag = false;
      }
    }
    return self;
  }

  /** Deletes `key`; true when it existed. Array maps refuse (EINVAL), as the kernel does. */
  delete(key: K): boolean {
    this.#requireKeyed('delete');
    const rc = this.#deleteRaw(this.#key(key));
    if (rc === 0) return true;
    if (rc === ENOENT) return false;
    throw this.#fail('MAP_DELETE_ELEM', rc);
  }

  /** True when the bloom filter may hold `value`. */
  has(this: MemoryMap<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): boolean;
  /** True when `key` has a value. */
  has(this: MemoryMap<K, V, KindFor<Kind, KeyedMapKind>>, key: K): boolean;
  has(keyOrValue: K | V): boolean {
    if (this.type === MapType.bloom_filter) return this.mayContain(keyOrValue as V);
    const found = this.#find(this.#key(keyOrValue as K), 0);
    if (typeof found !== 'number') return true;
    if (found === ENOENT) return false;
    throw this.#fail('MAP_LOOKUP_ELEM', found);
  }

  /** Removes `key` and returns its value (hash maps; ENOTSUPP on arrays, as the kernel). */
  getAndDelete(key: K): V | undefined {
    this.#requireKeyed('getAndDelete');
    const keyBytes = this.#key(key);
    let rc = this.#access(true, true);
    const out = new Uint8Array(this.valueBufferSize);
    if (rc === 0) {
      const store = this.#keyed;
      rc = store instanceof HashStore ? store.lookupAndDelete(keyBytes, out) : ENOTSUPP;
    }
    if (rc === 0) return this.#decodeOut(out);
    if (rc === ENOENT) return undefined;
    throw this.#fail('MAP_LOOKUP_AND_DELETE_ELEM', rc);
  }

  /**
   * The key after `key`, or the first key when `key` is omitted or not in the map; undefined at
   * the end. Hash maps go in insertion order (the kernel's is hash order), arrays by index.
   */
  nextKey(key?: K): K | undefined {
    this.#requireKeyed('nextKey');
    const current = key === undefined ? null : this.#key(key);
    let rc = this.#access(true, false);
    const out = new Uint8Array(this.keySize);
    if (rc === 0) rc = this.#keyed.nextKey(current, out);
    if (rc === 0) return this.#rawKeys ? (out as K) : this.keyCodec.decode(out, 0);
    if (rc === ENOENT) return undefined;
    throw this.#fail('MAP_GET_NEXT_KEY', rc);
  }

  // ---------------------------------------------------------------- queue, stack, bloom filter

  /** Pushes onto a queue or stack; `'exist'` overwrites the oldest element when full (E2BIG otherwise). */
  push(this: MemoryMap<K, V, KindFor<Kind, 'queue' | 'stack'>>, value: V, flags?: SetFlags): MemoryMap<K, V, Kind> {
    const self = this as MemoryMap<K, V, Kind>;
    self.#requireType('push', MapType.queue, MapType.stack);
    const flagBits = resolveSetFlags(flags);
    const bytes = self.#value(value);
    let rc = self.#access(false, true);
    if (rc === 0) rc = (flagBits & UpdateFlags.lock) !== 0 ? EINVAL : (self.#core.store as QueueStore).push(bytes, flagBits);
    if (rc !== 0) throw self.#fail('MAP_UPDATE_ELEM', rc);
    return self;
  }

  /** Removes and returns the oldest (queue) or newest (stack) element; undefined when empty. */
  pop(this: MemoryMap<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined {
    const self = this as MemoryMap<K, V, Kind>;
    self.#requireType('pop', MapType.queue, MapType.stack);
    return self.#take(true);
  }

  /** Returns the next element of a queue or stack without removing it; undefined when empty. */
  peek(this: MemoryMap<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined {
    const self = this as MemoryMap<K, V, Kind>;
    self.#requireType('peek', MapType.queue, MapType.stack);
    return self.#take(false);
  }

  #take(remove: boolean): V | undefined {
    let rc = this.#access(true, remove);
    const out = new Uint8Array(this.valueBufferSize);
    if (rc === 0) rc = (this.#core.store as QueueStore).take(out, remove);
    if (rc === 0) return this.#decodeOut(out);
    if (rc === ENOENT) return undefined;
    throw this.#fail(remove ? 'MAP_LOOKUP_AND_DELETE_ELEM' : 'MAP_LOOKUP_ELEM', rc);
  }

  /** Adds a value to a bloom filter. */
  add(this: MemoryMap<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): MemoryMap<K, V, Kind> {
    const self = this as MemoryMap<K, V, Kind>;
    self.#requireType('add', MapType.bloom_filter);
    const bytes = self.#value(value);
    let rc = self.#access(false, true);
    if (rc === 0) rc = (self.#core.store as BloomStore).push(bytes, 0);
    if (rc !== 0) throw self.#fail('MAP_UPDATE_ELEM', rc);
    return self;
  }

  /** True when a bloom filter may contain `value` (a memory bloom filter is exact: no false positives). */
  mayContain(value: V): boolean {
    this.#requireType('mayContain', MapType.bloom_filter);
    const bytes = this.#value(value);
    let rc = this.#access(true, false);
    if (rc === 0) rc = (this.#core.store as BloomStore).peek(bytes);
    if (rc === 0) return true;
    if (rc === ENOENT) return false;
    throw this.#fail('MAP_LOOKUP_ELEM', rc);
  }

  // ---------------------------------------------------------------- iteration

  /** Entries `[key, value]`, decoded: hash maps in insertion order (not the kernel's hash order), arrays by index. */
  entries(): Generator<[K, V]> {
    return this.#iterate('entries', (key, value) => [this.keyCodec.decode(key, 0), this.valueCodec.decode(value, 0)]);
  }

  /** Keys, decoded. */
  keys(): Generator<K> {
    return this.#iterate('keys', (key) => this.keyCodec.decode(key, 0));
  }

  /** Values, decoded. */
  values(): Generator<V> {
    return this.#iterate('values', (_key, value) => this.valueCodec.decode(value, 0));
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  *#iterate<R>(operation: string, pick: (key: Uint8Array, value: Uint8Array) => R): Generator<R> {
    this.#requireKeyed(operation);
    const denied = this.#access(true, false);
    if (denied !== 0) throw this.#fail('MAP_LOOKUP_BATCH', denied);
    yield* this.#raw(pick);
  }

  /** Every entry as views of its stored bytes: a live walk of a hash store, every index of an array. */
  *#raw<R>(pick: (key: Uint8Array, value: Uint8Array) => R): Generator<R> {
    const store = this.#keyed;
    if (store instanceof HashStore) {
      const walk = store.walk();
      for (let entry = step(walk); entry !== undefined; entry = step(walk)) yield pick(entry.key, entry.value);
      return;
    }
    const key = new Uint8Array(4);
    for (let index = 0; index < this.maxEntries; index++) {
      ArrayStore.writeIndex(index, key);
      yield pick(key, store.values.subarray(index * this.valueBufferSize, (index + 1) * this.valueBufferSize));
    }
  }

  /**
   * Raw chunks of entries, as `BpfMap.batches()`: views over buffers the next chunk reuses. With
   * `delete`, entries are removed as read (an array map refuses: ENOTSUPP from
   * MAP_LOOKUP_AND_DELETE_BATCH, the kernel's answer).
   */
  batches(options?: BatchOptions): Generator<MapBatch> {
    return memoryBatches(this.#host, options);
  }

  /** One page of entries after `cursor`, decoded, as `BpfMap.getBatch`; `done` once a page comes back short. */
  getBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V> {
    return memoryBatchPage(this.#host, options, false);
  }

  /** Like `getBatch`, but deletes the entries it returns (hash maps; ENOTSUPP on arrays, as the kernel). */
  getAndDeleteBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V> {
    return memoryBatchPage(this.#host, options, true);
  }

  /**
   * Writes many entries, as `BpfMap.setBatch` (see memory-batches.ts): in order up to the first
   * refusal, which throws `BpfBatchError` with `processed`.
   */
  setBatch(entries: Iterable<readonly [K, V]>, flags?: SetFlags): number {
    return memorySetBatch(this.#host, entries, flags);
  }

  /** Deletes many keys, as `BpfMap.deleteBatch` (see memory-batches.ts). */
  deleteBatch(keys: Iterable<K>): number {
    return memoryDeleteBatch(this.#host, keys);
  }

  /** Removes every entry, as `BpfMap.clear`: arrays are zeroed, queues and stacks emptied. */
  clear(): void {
    const { store } = this.#core;
    if (store instanceof QueueStore) {
      const denied = this.#access(true, true);
      if (denied !== 0) throw this.#fail('MAP_LOOKUP_AND_DELETE_ELEM', denied);
      store.clear();
      return;
    }
    this.#requireKeyed('clear');
    if (store instanceof ArrayStore) {
      const denied = this.#access(false, true);
      if (denied !== 0) throw this.#fail('MAP_UPDATE_ELEM', denied);
      store.clear();
      return;
    }
    // BpfMap reads the keys in batches, then deletes them one by one.
    const hash = store as HashStore;
    const unreadable = this.#access(true, false);
    if (unreadable !== 0) throw this.#fail('MAP_LOOKUP_BATCH', unreadable);
    if (hash.count === 0) return;
    const unwritable = this.#access(false, true);
    if (unwritable !== 0) throw this.#fail('MAP_DELETE_ELEM', unwritable);
    hash.clear();
  }

  // ---------------------------------------------------------------- whole-map operations

  /** Freezes the map: writes are refused with EPERM from now on, through every handle. */
  freeze(): this {
    const denied = this.#access(false, true);
    if (denied !== 0) throw this.#fail('MAP_FREEZE', denied);
    this.#core.frozen = true;
    return this;
  }

  /** Closes this handle (other handles on the same elements stay open). Idempotent. */
  close(): void {
    this.#closed = true;
  }

  /** `using map = ...` closes the map at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The index of an array map as a key: a host-order u32 (what `typed()` gives arrays whose BTF has no key type). */
const arrayIndexCodec: Codec<number> = {
  size: 4,
  encode(value: number, target: Uint8Array, offset: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw argumentError(RangeError, 'ERR_BPFMAP_KEY_TYPE', `array index must be an integer from 0 to 4294967295, got ${show(value)}`);
    ArrayStore.writeIndex(value, target, offset);
  },
  decode(source: Uint8Array, offset: number): number {
    return ArrayStore.indexOf(source.subarray(offset, offset + 4));
  },
};
