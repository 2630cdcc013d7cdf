/**
 * `BpfMapLike`: what `BpfMap` and `MemoryMap` both are. Code that takes a `BpfMapLike` runs on a
 * kernel map in production and on an in-memory map in unit tests.
 */
import type { Codec } from '../codec/codec.js';
import type { Btf } from '../codec/btf/btf.js';
import type { BatchCursor, BatchOptions, MapBatch } from './batch.js';
import type { AnyMapKind, KeyedMapKind, KindFor } from './map-kinds.js';
import type { BatchPage } from './batch-ops.js';
import type { GetFlags, SetFlags } from './flags.js';
import type { MapInfo } from './info.js';

/**
 * A BPF map's element, iteration and batch interface, as `BpfMap<K, V, Kind>` and
 * `MemoryMap<K, V, Kind>` have it. Methods follow the map type where `Kind` knows it (`push` not
 * on a hash map), as on `BpfMap`; with the default `Kind` every method type-checks and the
 * runtime decides.
 *
 * @example
 * // Production passes a BpfMap, tests a MemoryMap:
 * export function topTalkers(flows: BpfMapLike<FlowKey, FlowStats>, n: number): FlowKey[] { ... }
 */
export interface BpfMapLike<K = Uint8Array, V = Uint8Array, Kind extends AnyMapKind = AnyMapKind> extends Iterable<[K, V]> {
  /** Type-level only (undefined at run time): the map type the handle's type knows, which decides what methods type-check. */
  readonly typeKind?: Kind;
  /** Map type number (`MapType`). */
  readonly type: number;
  /** bpftool's name of the map type. */
  readonly typeName: string;
  /** Map name. */
  readonly name: string;
  /** Map id (a kernel id for `BpfMap`, a process-local one for `MemoryMap`). */
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
  /** Bytes of one whole value as `getInto` and batches hand it over. */
  readonly valueBufferSize: number;
  /** The key codec. */
  readonly keyCodec: Codec<K>;
  /** The codec of a whole value (per-CPU arrays included). */
  readonly valueCodec: Codec<V>;
  /** The codec of one value (one CPU's value for per-CPU maps). */
  readonly elementCodec: Codec<unknown>;
  /** The map's attributes. */
  readonly info: MapInfo;
  /** True once the map is frozen. */
  readonly frozen: boolean;
  /** True after `close()`. */
  readonly closed: boolean;

  /** The value under `key`, or undefined. */
  get(this: BpfMapLike<K, V, KindFor<Kind, KeyedMapKind>>, key: K, flags?: GetFlags): V | undefined;
  /** Copies the value under `key` into `target` (`valueBufferSize` bytes); false when missing. */
  getInto(key: K, target: Uint8Array, flags?: GetFlags): boolean;
  /** Stores `value` under `key`. */
  set(this: BpfMapLike<K, V, KindFor<Kind, KeyedMapKind>>, key: K, value: V, flags?: SetFlags): BpfMapLike<K, V, Kind>;
  /** Deletes `key`; true when it existed. */
  delete(key: K): boolean;
  /** True when the bloom filter may hold `value`. */
  has(this: BpfMapLike<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): boolean;
  /** True when `key` has a value. */
  has(this: BpfMapLike<K, V, KindFor<Kind, KeyedMapKind>>, key: K): boolean;
  /** Removes `key` and returns its value; undefined when missing. */
  getAndDelete(key: K): V | undefined;
  /** The key after `key` (the first when omitted); undefined at the end. */
  nextKey(key?: K): K | undefined;

  /** Pushes onto a queue or stack. */
  push(this: BpfMapLike<K, V, KindFor<Kind, 'queue' | 'stack'>>, value: V, flags?: SetFlags): BpfMapLike<K, V, Kind>;
  /** Removes and returns the next element of a queue or stack; undefined when empty. */
  pop(this: BpfMapLike<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined;
  /** Returns the next element of a queue or stack; undefined when empty. */
  peek(this: BpfMapLike<K, V, KindFor<Kind, 'queue' | 'stack'>>): V | undefined;
  /** Adds a value to a bloom filter. */
  add(this: BpfMapLike<K, V, KindFor<Kind, 'bloom_filter'>>, value: V): BpfMapLike<K, V, Kind>;
  /** True when a bloom filter may contain `value`. */
  mayContain(value: V): boolean;

  /** Entries `[key, value]`, decoded. */
  entries(): Generator<[K, V]>;
  /** Keys, decoded. */
  keys(): Generator<K>;
  /** Values, decoded. */
  values(): Generator<V>;
  /** Raw chunks of entries (views the next chunk reuses). */
  batches(options?: BatchOptions): Generator<MapBatch>;
  /** One decoded page of entries after `cursor`. */
  getBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V>;
  /** Like `getBatch`, deleting what it returns. */
  getAndDeleteBatch(options?: { cursor?: BatchCursor; count?: number }): BatchPage<K, V>;
  /** Writes many entries; `BpfBatchError.processed` says how many went in before a failure. */
  setBatch(entries: Iterable<readonly [K, V]>, flags?: SetFlags): number;
  /** Deletes many keys; `BpfBatchError.processed` says how many went before a failure. */
  deleteBatch(keys: Iterable<K>): number;
  /** Removes every entry (arrays: zeroes every value; queues and stacks: empties them). */
  clear(): void;

  /** Another handle on the same map through other codecs. */
  withCodecs<K2 = K, V2 = V>(key?: Codec<K2>, value?: Codec<unknown>): BpfMapLike<K2, V2>;
  /** The map's own BTF, or undefined. */
  btf(): Btf | undefined;
  /** A handle typed through the map's own BTF. */
  typed<K2 = unknown, V2 = unknown>(): BpfMapLike<K2, V2>;
  /** Freezes the map: user space can no longer write it. */
  freeze(): this;
  /** Closes this handle. */
  close(): void;
  /** `using map = ...` closes the map at the end of the scope. */
  [Symbol.dispose](): void;
}
