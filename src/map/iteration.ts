/**
 * Reading a whole map: entries / keys / values, raw `batches()`, and `clear()`. Batch lookups
 * where the kernel and map type have them; GET_NEXT_KEY walks otherwise.
 */
import { native } from '../sys/native.js';
import { Command, type CommandName } from '../sys/commands.js';
import { BpfError, Errno } from '../sys/errors.js';
import { MapType } from '../sys/constants.js';
import { ENOENT, type MapCore } from './map-core.js';
import { BatchCursor, BatchBuffers, type MapBatch, type BatchOptions } from './batch.js';
import { DEFAULT_BATCH, batchCount, batchOptions } from './batch-ops.js';
import { batchModes } from './batch-args.js';
import { BatchPrefetch } from './batch-prefetch.js';

/** What an iteration yields: `[key, value]` entries, keys alone, or values alone. */
export type IterationKind = 'entries' | 'keys' | 'values';

/**
 * Entries, keys or values of a map. Raw maps (bytes codecs, not per-CPU) with batch support take
 * `rawIterate`; everything else the decoding loop.
 */
export function iterate<K, V>(core: MapCore<K, V>, kind: 'entries'): Generator<[K, V]>;
export function iterate<K, V>(core: MapCore<K, V>, kind: 'keys'): Generator<K>;
export function iterate<K, V>(core: MapCore<K, V>, kind: 'values'): Generator<V>;
export function iterate<K, V>(core: MapCore<K, V>, kind: IterationKind): Generator<[K, V] | K | V> {
  // Both are generators, so a map without keys throws at the first next(), as before.
  if (core.rawKeys && core.rawValues && core.canBatch()) return rawIterate(core, kind) as Generator<[K, V] | K | V>;
  switch (kind) {
    case 'entries': return decodingIterate(core, kind, (key, value) => [key(), value()] as [K, V]);
    case 'keys': return decodingIterate(core, kind, (key) => key());
    case 'values': return decodingIterate(core, kind, (_key, value) => value());
  }
}

/**
 * The raw fast path: one copy of each batch's keys and values, and per entry views into that
 * copy (a view costs a fraction of a fresh Uint8Array, the allocation that bounded iteration).
 * Each yielded key and value is its own bytes, never overwritten later, but views of one batch
 * share an ArrayBuffer (as Node's pooled Buffers do): read them through the view, or with
 * `byteOffset`, not through `.buffer` from offset 0. Falls back to the decoding loop when the
 * kernel turns out to have no batch support for the map.
 */
function* rawIterate<K, V>(core: MapCore<K, V>, kind: IterationKind): Generator<[Uint8Array, Uint8Array] | Uint8Array> {
  core.requireKeyed(kind);
  const keySize = core.keySize;
  const valueSize = core.valueSize;
  const valueStride = core.valueBufferSize;
  for (const batch of batchLoop(core, DEFAULT_BATCH, false)) {
    const count = batch.count;
    const keys = kind === 'values' ? undefined : batch.keys.slice().buffer;
    const values = kind === 'keys' ? undefined : batch.values.slice().buffer;
    if (keys !== undefined && values !== undefined) {
      for (let i = 0; i < count; i++) yield [new Uint8Array(keys, i * keySize, keySize), new Uint8Array(values, i * valueStride, valueSize)];
    } else if (keys !== undefined) {
      for (let i = 0; i < count; i++) yield new Uint8Array(keys, i * keySize, keySize);
    } else if (values !== undefined) {
      for (let i = 0; i < count; i++) yield new Uint8Array(values, i * valueStride, valueSize);
    }
  }
  if (!core.batchUnsupported) return;
  switch (kind) {
    case 'entries': return yield* decodingIterate(core, kind, (key, value) => [key(), value()] as [Uint8Array, Uint8Array]);
    case 'keys': return yield* decodingIterate(core, kind, (key) => key() as Uint8Array);
    case 'values': return yield* decodingIterate(core, kind, (_key, value) => value() as Uint8Array);
  }
}

/**
 * The decoding loop: batches where possible, next-key walks otherwise; `pick` decides what each
 * step yields and decodes only that.
 */
function* decodingIterate<K, V, R>(core: MapCore<K, V>, kind: IterationKind, pick: (key: () => K, value: () => V) => R): Generator<R> {
  core.requireKeyed(kind);
  let keys: Uint8Array = new Uint8Array(0);
  let values: Uint8Array = new Uint8Array(0);
  let index = 0;
  const key = (): K => core.keyCodec.decode(keys, index * core.keySize);
  const value = (): V => core.valueCodec.decode(values, index * core.valueBufferSize);
  if (core.canBatch()) {
    for (const batch of batchLoop(core, DEFAULT_BATCH, false)) {
      keys = batch.keys;
      values = batch.values;
      for (index = 0; index < batch.count; index++) yield pick(key, value);
    }
    if (!core.batchUnsupported) return;
  }
  index = 0;
  for ([keys, values] of walkByNextKey(core)) yield pick(key, value);
}

/**
 * Walks the map with GET_NEXT_KEY + LOOKUP, yielding views of a key and a value buffer that
 * the next step reuses. The next key is fetched before yielding, so deleting the yielded key
 * is safe; keys that vanish between the two calls are skipped; the walk aborts after more
 * than max_entries keys, which only concurrent deletes (restarting hash iteration) can cause.
 */
function* walkByNextKey<K, V>(core: MapCore<K, V>): Generator<[Uint8Array, Uint8Array]> {
  let current = new Uint8Array(Math.max(core.keySize, 4));
  let next = new Uint8Array(Math.max(core.keySize, 4));
  const value = new Uint8Array(Math.max(core.valueBufferSize, 1));
  let rc = native.mapNextKey(core.handle, null, current);
  let steps = 0;
  while (rc === 0) {
    if (++steps > core.maxEntries + 1) {
      throw new BpfError(
        `MAP_GET_NEXT_KEY on map '${core.name}' id ${core.id}: iteration aborted after ${steps - 1} keys, more than max_entries (${core.maxEntries}); keys are being deleted concurrently`,
        { code: 'ERR_ITERATION_ABORTED', errno: 0, command: 'MAP_GET_NEXT_KEY', subject: core.subject },
      );
    }
    const found = native.mapLookup(core.handle, current, value, 0);
    if (found !== 0 && found !== ENOENT) throw core.fail('MAP_LOOKUP_ELEM', found);
    const nextRc = native.mapNextKey(core.handle, current, next);
    if (nextRc !== 0 && nextRc !== ENOENT) throw core.fail('MAP_GET_NEXT_KEY', nextRc);
    if (found === 0) yield [current.subarray(0, core.keySize), value.subarray(0, core.valueBufferSize)];
    [current, next] = [next, current];
    rc = nextRc;
  }
  if (rc !== ENOENT) throw core.fail('MAP_GET_NEXT_KEY', rc);
}

/** Raw batch lookups (see `BpfMap.batches`), with the next-key fallback in the same shape. */
export function* rawBatches<K, V>(core: MapCore<K, V>, options?: BatchOptions): Generator<MapBatch> {
  core.requireKeyed('batches');
  const given = batchOptions(options, 'batches');
  const size = batchCount(core, given.batchSize ?? DEFAULT_BATCH, 'batchSize');
  const { andDelete, prefetch } = batchModes(given);
  if (core.canBatch()) {
    yield* batchLoop(core, size, andDelete, prefetch);
    if (!core.batchUnsupported) return;
  }
  // Fallback: assemble chunks from next-key iteration, in the same shape.
  const buffers = new BatchBuffers(core.keySize, core.valueBufferSize, size);
  let count = 0;
  for (const [key, value] of walkByNextKey(core)) {
    buffers.keys.set(key, count * core.keySize);
    buffers.values.set(value, count * core.valueBufferSize);
    if (andDelete) deleteRaw(core, key);
    if (++count === size) {
      yield buffers.chunk(count);
      count = 0;
    }
  }
  if (count > 0) yield buffers.chunk(count);
}

function deleteRaw<K, V>(core: MapCore<K, V>, key: Uint8Array): void {
  const rc = native.mapDelete(core.handle, key);
  if (rc !== 0 && rc !== ENOENT) throw core.fail('MAP_DELETE_ELEM', rc);
}

/**
 * The batch loop. Sets `batchUnsupported` (and yields nothing) when the first call says the
 * kernel or map type has no batch support; retries ENOSPC with a doubled batch; treats ENOENT
 * with a partial count as the last chunk. With `prefetch` (plain lookups of a map bigger than
 * one batch), each batch is read by a `BatchPrefetch` while the consumer handles the one before.
 */
function* batchLoop<K, V>(core: MapCore<K, V>, initialSize: number, andDelete: boolean, prefetch = false): Generator<MapBatch> {
  const command = andDelete ? Command.MAP_LOOKUP_AND_DELETE_BATCH : Command.MAP_LOOKUP_BATCH;
  const name: CommandName = andDelete ? 'MAP_LOOKUP_AND_DELETE_BATCH' : 'MAP_LOOKUP_BATCH';
  let size = Math.min(initialSize, Math.max(core.maxEntries, 1));
  let buffers = new BatchBuffers(core.keySize, core.valueBufferSize, size);
  const cursor = new BatchCursor(core.keySize);
  let started = false;
  // A map that one batch holds whole has no next batch to read ahead; a closed map fails below.
  const ahead = prefetch && !andDelete && size < core.maxEntries && !core.closed ? BatchPrefetch.start(core, size) : undefined;
  try {
    for (;;) {
      // The reader has its own fd: a map closed between chunks ends the loop as it would without.
      if (ahead && core.closed) throw core.fail(name, -Errno.EBADF);
      const rc = ahead
        ? ahead.finish(buffers.keys, buffers.values, core.countOut)
        : native.mapBatch(core.handle, command, started ? cursor.in : null, cursor.out, buffers.keys, buffers.values, size, 0, core.countOut);
      // The kernel writes the count back only from its loop (success, ENOENT, ENOSPC, a fault
      // mid-way); a refusal before the loop (no batch support, EPERM, EINVAL) leaves ours, the
      // full size, which a failing loop never reaches: read that as nothing processed.
      const reported = core.countOut[0] ?? 0;
      const count = rc === 0 || rc === ENOENT || rc === -Errno.ENOSPC || reported !== size ? reported : 0;
      if (rc === 0 || rc === ENOENT) {
        if (rc === 0) {
          // (A reader is already reading the next batches while this one is handed over.)
          cursor.advance();
          started = true;
        }
        if (count > 0) yield buffers.chunk(count);
        if (rc === ENOENT) return;
        continue;
      }
      if (rc === -Errno.ENOSPC && count === 0 && size < core.maxEntries) {
        // A hash bucket holds more entries than the batch: grow and retry from the same cursor.
        size = Math.min(size * 2, core.maxEntries);
        buffers = new BatchBuffers(core.keySize, core.valueBufferSize, size);
        const retried = ahead ? ahead.retryWith(size) : 0;
        if (retried < 0) throw core.fail(name, retried);
        continue;
      }
      if (!started && count === 0 && (rc === -Errno.EINVAL || rc === -Errno.ENOTSUPP || rc === -Errno.EOPNOTSUPP)) {
        // Array elements cannot be deleted, so no element-wise fallback can stand in for a
        // lookup-and-delete batch there: the kernel's refusal is the answer, and plain batch
        // lookups of the map stay on.
        if (andDelete && (core.type === MapType.array || core.type === MapType.percpu_array)) throw core.fail(name, rc);
        core.batchUnsupported = true;
        return;
      }
      throw core.fail(name, rc);
    }
  } finally {
    ahead?.close();
  }
}

/** Removes every entry (see `BpfMap.clear`). */
export function clearMap<K, V>(core: MapCore<K, V>): void {
  if (core.type === MapType.queue || core.type === MapType.stack) {
    let rc: number;
    while ((rc = native.mapLookupAndDeleteStaged(core.handle, 0)) === 0);
    if (rc !== ENOENT) throw core.fail('MAP_LOOKUP_AND_DELETE_ELEM', rc);
    return;
  }
  core.requireKeyed('clear');
  if (core.type === MapType.array || core.type === MapType.percpu_array) {
    const zero = new Uint8Array(core.valueBufferSize);
    const key = new Uint8Array(4);
    const view = new DataView(key.buffer);
    for (let i = 0; i < core.maxEntries; i++) {
      view.setUint32(0, i, true);
      const rc = native.mapUpdate(core.handle, key, zero, 0);
      if (rc !== 0) throw core.fail('MAP_UPDATE_ELEM', rc);
    }
    return;
  }
  for (;;) {
    const keys: Uint8Array[] = [];
    for (const batch of rawBatches(core)) {
      for (let i = 0; i < batch.count; i++) keys.push(batch.keys.slice(i * core.keySize, (i + 1) * core.keySize));
    }
    if (keys.length === 0) return;
    for (const key of keys) deleteRaw(core, key);
  }
}
