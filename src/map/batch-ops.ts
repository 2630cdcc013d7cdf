/**
 * Batch operations with decoded entries: getBatch / getAndDeleteBatch pages, setBatch and
 * deleteBatch (one syscall for many entries, one per entry where the kernel has no batches), and
 * the batch-size checks `batches()` shares.
 */
import { describe } from '../codec/codec.js';
import { native } from '../sys/native.js';
import { Command, type CommandName } from '../sys/commands.js';
import { BpfBatchError, Errno, argumentError } from '../sys/errors.js';
import { UpdateFlags } from '../sys/constants.js';
import { ENOENT, type MapCore } from './map-core.js';
import { resolveSetFlags, type SetFlags } from './flags.js';
import { BatchCursor, BatchBuffers } from './batch.js';
import { DEFAULT_BATCH, batchCount, batchOptions, listOf } from './batch-args.js';

export { DEFAULT_BATCH, batchCount, batchOptions };

/** One page of a typed batch lookup. */
export interface BatchPage<K, V> {
  /** The entries of this page, decoded. */
  readonly entries: Array<[K, V]>;
  /** Pass to the next call to continue after this page. */
  readonly cursor: BatchCursor;
  /** True when the map has no more entries after this page. */
  readonly done: boolean;
}

/** One page of a batch lookup (and delete), decoded. */
export function batchPage<K, V>(core: MapCore<K, V>, options: { cursor?: BatchCursor; count?: number } | undefined, andDelete: boolean): BatchPage<K, V> {
  core.requireKeyed(andDelete ? 'getAndDeleteBatch' : 'getBatch');
  const given = batchOptions(options, andDelete ? 'getAndDeleteBatch' : 'getBatch');
  let count = batchCount(core, given.count ?? DEFAULT_BATCH, 'count');
  const cursor = given.cursor ?? new BatchCursor(core.keySize);
  if (!(cursor instanceof BatchCursor)) throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `cursor must be a BatchCursor from an earlier page, got ${describe(cursor)}`);
  if (cursor.keySize !== core.keySize) throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', 'the cursor belongs to a map with another key size');
  if (cursor.done) return { entries: [], cursor, done: true };
  const command = andDelete ? Command.MAP_LOOKUP_AND_DELETE_BATCH : Command.MAP_LOOKUP_BATCH;
  for (;;) {
    const buffers = new BatchBuffers(core.keySize, core.valueBufferSize, count);
    const rc = native.mapBatch(core.handle, command, cursor.started ? cursor.in : null, cursor.out, buffers.keys, buffers.values, count, 0, core.countOut);
    const got = core.countOut[0] ?? 0;
    if (rc === -Errno.ENOSPC && got === 0 && count < core.maxEntries) {
      count = Math.min(count * 2, core.maxEntries);
      continue;
    }
    if (rc !== 0 && rc !== ENOENT) throw core.fail(andDelete ? 'MAP_LOOKUP_AND_DELETE_BATCH' : 'MAP_LOOKUP_BATCH', rc);
    const entries: Array<[K, V]> = [];
    for (let i = 0; i < got; i++) {
      entries.push([core.keyCodec.decode(buffers.keys, i * core.keySize), core.valueCodec.decode(buffers.values, i * core.valueBufferSize)]);
    }
    if (rc === ENOENT) cursor.finish();
    else cursor.advance();
    return { entries, cursor, done: cursor.done };
  }
}

/** Writes many entries; the number written. */
export function setBatchEntries<K, V>(core: MapCore<K, V>, entries: Iterable<readonly [K, V]>, flags?: SetFlags): number {
  if (core.codecBusy) return setBatchEntries(core.reentry(), entries, flags);
  if (!core.userCodecs) return setBatch(core, entries, flags);
  core.codecBusy = true;
  try {
    return setBatch(core, entries, flags);
  } finally {
    core.codecBusy = false;
  }
}

function setBatch<K, V>(core: MapCore<K, V>, entries: Iterable<readonly [K, V]>, flags?: SetFlags): number {
  core.requireKeyed('setBatch');
  const flagBits = resolveSetFlags(flags);
  const list = listOf<readonly [K, V]>(entries, 'setBatch entries');
  if (list.length === 0) return 0;
  const buffers = new BatchBuffers(core.keySize, core.valueBufferSize, list.length);
  list.forEach((entry, i) => {
    try {
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw argumentError(TypeError, 'ERR_BPFMAP_BATCH', `expected a [key, value] pair, got ${describe(entry)}`);
      }
      buffers.keys.set(core.key(entry[0] as K), i * core.keySize);
      buffers.values.set(core.value(entry[1] as V), i * core.valueBufferSize);
    } catch (error) {
      if (error instanceof Error) error.message = `entry ${i}: ${error.message}`;
      throw error;
    }
  });
  return writeBatch(core, Command.MAP_UPDATE_BATCH, 'MAP_UPDATE_BATCH', buffers, list.length, flagBits);
}

/** Deletes many keys; the number deleted. */
export function deleteBatchKeys<K, V>(core: MapCore<K, V>, keys: Iterable<K>): number {
  if (core.codecBusy) return deleteBatchKeys(core.reentry(), keys);
  if (!core.userCodecs) return deleteBatch(core, keys);
  core.codecBusy = true;
  try {
    return deleteBatch(core, keys);
  } finally {
    core.codecBusy = false;
  }
}

function deleteBatch<K, V>(core: MapCore<K, V>, keys: Iterable<K>): number {
  core.requireKeyed('deleteBatch');
  const list = listOf<K>(keys, 'deleteBatch keys');
  if (list.length === 0) return 0;
  const buffers = new BatchBuffers(core.keySize, 0, list.length);
  list.forEach((key, i) => {
    try {
      buffers.keys.set(core.key(key), i * core.keySize);
    } catch (error) {
      if (error instanceof Error) error.message = `key ${i}: ${error.message}`;
      throw error;
    }
  });
  return writeBatch(core, Command.MAP_DELETE_BATCH, 'MAP_DELETE_BATCH', buffers, list.length, 0);
}

function writeBatch<K, V>(core: MapCore<K, V>, command: number, name: CommandName, buffers: BatchBuffers, count: number, flags: number): number {
  const isDelete = command === Command.MAP_DELETE_BATCH;
  // The kernel's batch update takes only BPF_F_LOCK as elem_flags (EINVAL otherwise).
  const batchable = (flags & ~UpdateFlags.lock) === 0;
  if (core.canBatch() && batchable) {
    const rc = native.mapBatch(core.handle, command, null, null, buffers.keys, isDelete ? null : buffers.values, count, flags, core.countOut);
    if (rc === 0) return core.countOut[0] ?? 0;
    // generic_map_{update,delete}_batch write back how many elements they processed when the
    // loop stops; every earlier refusal (attribute checks, EPERM on a frozen or read-only map,
    // no batch support) returns before that and leaves our count as it was. The loop never
    // stops after the last element, so an unchanged full count means nothing was processed.
    const reported = core.countOut[0] ?? 0;
    const processed = reported === count ? 0 : reported;
    const unsupported = rc === -Errno.EINVAL || rc === -Errno.ENOTSUPP || rc === -Errno.EOPNOTSUPP;
    // Anything but "no batch support" (or a bad argument the element path will name) is final.
    if (!unsupported || processed !== 0) throw new BpfBatchError(core.fail(name, rc), processed);
  }
  // Per-element fallback, reporting how many went through before a failure.
  for (let i = 0; i < count; i++) {
    const key = buffers.keys.subarray(i * core.keySize, (i + 1) * core.keySize);
    const rc = isDelete
      ? native.mapDelete(core.handle, key)
      : native.mapUpdate(core.handle, key, buffers.values.subarray(i * core.valueBufferSize, (i + 1) * core.valueBufferSize), flags);
    if (rc !== 0) throw new BpfBatchError(core.fail(isDelete ? 'MAP_DELETE_ELEM' : 'MAP_UPDATE_ELEM', rc), i);
  }
  return count;
}
