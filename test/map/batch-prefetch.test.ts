/**
 * `batches({ prefetch: true })`: the same chunks as without it (hash, per-CPU hash, LRU hash,
 * array, buckets that overflow the batch), the reader thread goes when the loop ends or is left
 * early, a map closed between chunks fails as it does without prefetch, and the option's
 * mistakes (not a boolean, combined with delete) are typed errors on BpfMap and MemoryMap alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { BpfMap, BpfError, MemoryMap, type MapSpec } from '../../src/index.js';
import { needs } from '../helpers.js';

/** Every chunk's entries as `key hex -> value hex`, and the chunk counts. */
function read(map: BpfMap<Uint8Array, Uint8Array | Uint8Array[]>, options: { batchSize: number; prefetch?: boolean }): { entries: Map<string, string>; counts: number[] } {
  const entries = new Map<string, string>();
  const counts: number[] = [];
  for (const { count, keys, values, keySize, valueStride } of map.batches(options)) {
    counts.push(count);
    for (let i = 0; i < count; i++) {
      const key = Buffer.from(keys.subarray(i * keySize, (i + 1) * keySize)).toString('hex');
      assert.ok(!entries.has(key), `key ${key} twice`);
      entries.set(key, Buffer.from(values.subarray(i * valueStride, (i + 1) * valueStride)).toString('hex'));
    }
  }
  return { entries, counts };
}

function filled(spec: MapSpec, count: number): BpfMap<Uint8Array, Uint8Array | Uint8Array[]> {
  const map = BpfMap.create(spec) as BpfMap<Uint8Array, Uint8Array | Uint8Array[]>;
  const cpus = map.perCpu ? map.valueBufferSize / (Math.ceil(map.valueSize / 8) * 8) : 1;
  const entries: Array<[Uint8Array, Uint8Array | Uint8Array[]]> = [];
  for (let i = 0; i < count; i++) {
    const key = new Uint8Array(map.keySize);
    new DataView(key.buffer).setUint32(0, map.type === 2 || map.type === 6 ? i : Math.imul(i, 2654435761) >>> 0, true);
    const values = Array.from({ length: cpus }, (_, cpu) => Uint8Array.from({ length: map.valueSize }, (_, b) => (i + b * 3 + cpu * 7) & 0xff));
    entries.push([key, map.perCpu ? values : values[0] as Uint8Array]);
  }
  map.setBatch(entries);
  return map;
}

/** Batch reader threads of this process (the addon names them). */
function threads(): number {
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'bpfmap-batch';
    } catch {
      return false; // a thread that ended meanwhile
    }
  }).length;
}

for (const [spec, count, batchSize] of [
  [{ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 20_000 }, 15_000, 1000],
  [{ type: 'percpu_hash', keySize: 4, valueSize: 12, maxEntries: 2_000 }, 1_500, 128],
  [{ type: 'lru_hash', keySize: 8, valueSize: 4, maxEntries: 4_000 }, 3_000, 256],
  [{ type: 'array', keySize: 4, valueSize: 16, maxEntries: 3_000 }, 3_000, 500],
  // Two thousand keys in 2048 buckets: one-entry batches overflow (ENOSPC) and grow.
  [{ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2_048 }, 2_000, 1],
] as const) {
  test(`prefetching batches of a ${spec.type} map (batch ${batchSize}) are the same chunks`, needs(), () => {
    using map = filled(spec, count);
    const plain = read(map, { batchSize });
    const ahead = read(map, { batchSize, prefetch: true });
    assert.equal(ahead.entries.size, count);
    assert.deepEqual(ahead.entries, plain.entries);
    assert.deepEqual(ahead.counts, plain.counts, 'the same chunking, growth included');
  });
}

test('the reader thread goes when the loop ends, and when it is left early', needs(), () => {
  using map = filled({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 10_000 }, 10_000);
  const before = threads();
  let during = 0;
  for (const _ of map.batches({ batchSize: 100, prefetch: true })) during = Math.max(during, threads());
  assert.equal(during, before + 1, 'one reader thread while reading');
  assert.equal(threads(), before, 'joined at the end');
  for (const _ of map.batches({ batchSize: 100, prefetch: true })) break;
  assert.equal(threads(), before, 'joined when left early');
  // A map that one batch holds whole: nothing to read ahead, no thread.
  for (const _ of map.batches({ batchSize: 10_000, prefetch: true })) during = threads();
  assert.equal(during, before);
  assert.equal([...map.keys()].length, 10_000, 'plain lookups: nothing deleted');
});

test('a map closed between prefetched chunks fails as without prefetch (EBADF)', needs(), () => {
  for (const prefetch of [false, true]) {
    const map = filled({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 5_000 }, 5_000);
    const before = threads();
    assert.throws(() => {
      for (const _ of map.batches({ batchSize: 100, prefetch })) map.close();
    }, (error: unknown) => error instanceof BpfError && error.code === 'EBADF' && /closed/.test(error.message));
    assert.equal(threads(), before, 'the reader was closed');
    assert.throws(() => [...map.batches({ batchSize: 100, prefetch })], (error: unknown) => error instanceof BpfError && error.code === 'EBADF');
  }
});

test('prefetch must be a boolean and cannot be combined with delete, on BpfMap and MemoryMap', needs(), () => {
  using map = filled({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, 16);
  using memory = MemoryMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 });
  for (let i = 0; i < 16; i++) memory.set(Uint8Array.of(i, 0, 0, 0), new Uint8Array(8));
  for (const target of [map, memory] as const) {
    assert.throws(() => target.batches({ prefetch: 'yes' as unknown as boolean }).next(), { name: 'TypeError', code: 'ERR_BPFMAP_OPTION', message: /prefetch must be a boolean/ });
    assert.throws(() => target.batches({ prefetch: true, delete: true }).next(), { name: 'TypeError', code: 'ERR_BPFMAP_OPTION', message: /prefetch cannot be combined with delete/ });
    assert.equal([...target.batches({ prefetch: true })].reduce((sum, batch) => sum + batch.count, 0), 16);
  }
  assert.equal([...map.keys()].length, 16, 'the refused delete deleted nothing');
});
