/** The type-level vocabulary of `BpfMap`: which map kinds a handle knows, value types, codecs. */
import type { Codec } from '../codec/codec.js';
import type { MapType, MapTypeName } from '../sys/constants.js';

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
