/**
 * Batch operations of `MemoryMap` (memory-map.ts): `batches()`, `getBatch`/`getAndDeleteBatch`
 * pages with their cursors, `setBatch` and `deleteBatch`, with the kernel's batch semantics
 * (what a refused step reports as `processed`, which command an error names). They work through
 * `MemoryBatchHost`, the narrow view of a map's checks and store that `MemoryMap` hands them.
 */
import { describe } from '../codec/codec.js';
import type { Codec } from '../codec/codec.js';
import { BpfBatchError, Errno, argumentError, type BpfError } from '../sys/errors.js';
import type { CommandName } from '../sys/commands.js';
import { UpdateFlags, supportsBatchType } from '../sys/constants.js';
import { BatchBuffers, BatchCursor, type BatchOptions, type MapBatch } from './batch.js';
import { ArrayStore, HashStore, step, type HashWalk, type MemoryStore } from './memory-store.js';
import { resolveSetFlags, type SetFlags } from './flags.js';
import { DEFAULT_BATCH, batchCount, batchModes, batchOptions, listOf } from './batch-args.js';
import type { BatchPage } from './batch-ops.js';

const ENOTSUPP = -Errno.ENOTSUPP;

/** What the batch operations need of a `MemoryMap`: its sizes and codecs, its store, and its element-level checks. */
export interface MemoryBatchHost<K, V> {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueBufferSize: number;
  readonly maxEntries: number;
  readonly keyCodec: Codec<K>;
  readonly valueCodec: Codec<V>;
  readonly core: { readonly store: MemoryStore; readonly cursors: WeakMap<BatchCursor, HashWalk> };
  /** The keyed store (hash or array); queues and bloom filters were refused before. */
  keyed(): HashStore | ArrayStore;
  requireKeyed(operation: string): void;
  /** The syscall's permission check: 0, or EBADF/EPERM as a negative errno. */
  access(read: boolean, write: boolean): number;
  fail(command: CommandName, rc: number): BpfError;
  key(key: K): Uint8Array;
  value(value: V): Uint8Array;
  update(key: Uint8Array, value: Uint8Array, flagBits: number): number;
  deleteRaw(key: Uint8Array): number;
  /** Every entry as views of its stored bytes (see `MemoryMap`). */
  raw<R>(pick: (key: Uint8Array, value: Uint8Array) => R): Generator<R>;
}

/**
 * Raw chunks of entries, as `BpfMap.batches()`: views over buffers the next chunk reuses. With
 * `delete`, entries are removed as read (an array map refuses: ENOTSUPP from
 * MAP_LOOKUP_AND_DELETE_BATCH, the kernel's answer).
 */
export function* memoryBatches<K, V>(host: MemoryBatchHost<K, V>, options?: BatchOptions): Generator<MapBatch> {
  host.requireKeyed('batches');
  const given = batchOptions(options, 'batches');
  const size = batchCount(host, given.batchSize ?? DEFAULT_BATCH, 'batchSize');
  // prefetch has nothing to overlap in memory: checked as BpfMap checks it, then the same loop.
  const { andDelete } = batchModes(given);
  const denied = host.access(true, andDelete);
  if (denied !== 0) throw host.fail(andDelete ? 'MAP_LOOKUP_AND_DELETE_BATCH' : 'MAP_LOOKUP_BATCH', denied);
  // The kernel has no lookup-and-delete batch for arrays.
  if (andDelete && !(host.core.store instanceof HashStore)) throw host.fail('MAP_LOOKUP_AND_DELETE_BATCH', ENOTSUPP);
  const buffers = new BatchBuffers(host.keySize, host.valueBufferSize, size);
  let count = 0;
  const store = host.core.store;
  for (const key of host.raw((key, value) => {
    buffers.keys.set(key, count * host.keySize);
    buffers.values.set(value, count * host.valueBufferSize);
    return key;
  })) {
    if (andDelete) (store as HashStore).delete(key);
    if (++count === size) {
      yield buffers.chunk(count);
      count = 0;
    }
  }
  if (count > 0) yield buffers.chunk(count);
}

export function memoryBatchPage<K, V>(host: MemoryBatchHost<K, V>, options: { cursor?: BatchCursor; count?: number } | undefined, andDelete: boolean): BatchPage<K, V> {
  const operation = andDelete ? 'getAndDeleteBatch' : 'getBatch';
  host.requireKeyed(operation);
  const given = batchOptions(options, operation);
  const count = batchCount(host, given.count ?? DEFAULT_BATCH, 'count');
  const cursor = given.cursor ?? new BatchCursor(host.keySize);
  if (!(cursor instanceof BatchCursor)) throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `cursor must be a BatchCursor from an earlier page, got ${describe(cursor)}`);
  if (cursor.keySize !== host.keySize) throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', 'the cursor belongs to a map with another key size');
  if (cursor.done) return { entries: [], cursor, done: true };
  const command: CommandName = andDelete ? 'MAP_LOOKUP_AND_DELETE_BATCH' : 'MAP_LOOKUP_BATCH';
  const denied = host.access(true, andDelete);
  if (denied !== 0) throw host.fail(command, denied);
  const store = host.keyed();
  const entries: Array<[K, V]> = [];
  if (store instanceof ArrayStore) {
    if (andDelete) throw host.fail(command, ENOTSUPP);
    // generic_map_lookup_batch: from the index after the cursor's key; the cursor keeps the last key given.
    const first = cursor.started ? ArrayStore.indexOf(cursor.in) + 1 : 0;
    const end = Math.min(first + count, host.maxEntries);
    const key = new Uint8Array(4);
    for (let index = first; index < end; index++) {
      ArrayStore.writeIndex(index, key);
      entries.push([host.keyCodec.decode(key, 0), host.valueCodec.decode(store.values, index * host.valueBufferSize)]);
    }
    if (end > first) ArrayStore.writeIndex(end - 1, cursor.out);
  } else {
    const walk = cursorWalk(host, store, cursor);
    const taken: Uint8Array[] = [];
    while (entries.length < count) {
      const entry = step(walk);
      if (entry === undefined) break;
      entries.push([host.keyCodec.decode(entry.key, 0), host.valueCodec.decode(entry.value, 0)]);
      if (andDelete) taken.push(entry.key);
    }
    for (const key of taken) store.delete(key);
    const position = (cursor.started ? ArrayStore.indexOf(cursor.in) : 0) + (andDelete ? 0 : entries.length);
    ArrayStore.writeIndex(position, cursor.out);
    host.core.cursors.set(cursor, walk);
  }
  if (entries.length < count) cursor.finish();
  else cursor.advance();
  return { entries, cursor, done: cursor.done };
}

/**
 * The walk a getBatch cursor continues: its own live iterator when this map made it, otherwise
 * (a cursor of another map with this key size) the entries after the position it holds.
 */
function cursorWalk<K, V>(host: MemoryBatchHost<K, V>, store: HashStore, cursor: BatchCursor): HashWalk {
  if (!cursor.started) return store.walk();
  const known = host.core.cursors.get(cursor);
  if (known !== undefined) return known;
  const walk = store.walk();
  for (let skip = ArrayStore.indexOf(cursor.in); skip > 0 && step(walk) !== undefined; skip--);
  return walk;
}

/**
 * Writes many entries, as `BpfMap.setBatch`: every entry is encoded and checked first; then
 * they are written in order up to the first refusal, which throws `BpfBatchError` with
 * `processed`. The command named is the one the kernel path would take: MAP_UPDATE_BATCH for
 * `'any'`, MAP_UPDATE_ELEM per entry for `'noexist'`/`'exist'` (and for `'lock'`, which falls
 * back after the batch's EINVAL).
 */
export function memorySetBatch<K, V>(host: MemoryBatchHost<K, V>, entries: Iterable<readonly [K, V]>, flags?: SetFlags): number {
  host.requireKeyed('setBatch');
  const flagBits = resolveSetFlags(flags);
  const list = listOf<readonly [K, V]>(entries, 'setBatch entries');
  if (list.length === 0) return 0;
  const buffers = new BatchBuffers(host.keySize, host.valueBufferSize, list.length);
  list.forEach((entry, i) => {
    try {
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `expected a [key, value] pair, got ${describe(entry)}`);
      }
      buffers.keys.set(host.key(entry[0] as K), i * host.keySize);
      buffers.values.set(host.value(entry[1] as V), i * host.valueBufferSize);
    } catch (error) {
      if (error instanceof Error) error.message = `entry ${i}: ${error.message}`;
      throw error;
    }
  });
  // The kernel's batch takes only 'lock' per element: it checks access first (EPERM), then
  // refuses 'lock' on a value without a spin lock (EINVAL), and BpfMap goes on one update at a time.
  const batchable = (flagBits & ~UpdateFlags.lock) === 0 && supportsBatchType(host.type);
  if (batchable) {
    const denied = host.access(false, true);
    if (denied !== 0) throw new BpfBatchError(host.fail('MAP_UPDATE_BATCH', denied), 0);
  }
  const batched = batchable && flagBits === 0;
  for (let i = 0; i < list.length; i++) {
    const rc = host.update(
      buffers.keys.subarray(i * host.keySize, (i + 1) * host.keySize),
      buffers.values.subarray(i * host.valueBufferSize, (i + 1) * host.valueBufferSize),
      flagBits,
    );
    if (rc !== 0) throw new BpfBatchError(host.fail(batched ? 'MAP_UPDATE_BATCH' : 'MAP_UPDATE_ELEM', rc), i);
  }
  return list.length;
}

/**
 * Deletes many keys, as `BpfMap.deleteBatch`: in order up to the first refusal (ENOENT for a
 * missing key), which throws `BpfBatchError` with `processed`. Array maps refuse the first key
 * (EINVAL from MAP_DELETE_ELEM: the kernel has no delete batch for arrays, and `BpfMap` falls
 * back to single deletes).
 */
export function memoryDeleteBatch<K, V>(host: MemoryBatchHost<K, V>, keys: Iterable<K>): number {
  host.requireKeyed('deleteBatch');
  const list = listOf<K>(keys, 'deleteBatch keys');
  if (list.length === 0) return 0;
  const buffers = new BatchBuffers(host.keySize, 0, list.length);
  list.forEach((key, i) => {
    try {
      buffers.keys.set(host.key(key), i * host.keySize);
    } catch (error) {
      if (error instanceof Error) error.message = `key ${i}: ${error.message}`;
      throw error;
    }
  });
  const batched = host.core.store instanceof HashStore;
  const denied = host.access(false, true);
  if (denied !== 0) throw new BpfBatchError(host.fail('MAP_DELETE_BATCH', denied), 0);
  for (let i = 0; i < list.length; i++) {
    const rc = host.deleteRaw(buffers.keys.subarray(i * host.keySize, (i + 1) * host.keySize));
    if (rc !== 0) throw new BpfBatchError(host.fail(batched ? 'MAP_DELETE_BATCH' : 'MAP_DELETE_ELEM', rc), i);
  }
  return list.length;
}
