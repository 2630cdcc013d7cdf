import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, BpfBatchError, BatchCursor, possibleCpus } from '../../src/index.js';
import { needs, u32le, u64le, readU32, readU64 } from '../helpers.js';

function fill(map: BpfMap, count: number): void {
  const batch: Array<[Uint8Array, Uint8Array]> = [];
  for (let i = 0; i < count; i++) batch.push([u32le(i), u64le(BigInt(i) * 3n)]);
  assert.equal(map.setBatch(batch), count);
}

test('iterates 100k entries exactly once each', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100_000 });
  fill(map, 100_000);
  const seen = new Uint8Array(100_000);
  let count = 0;
  for (const [key, value] of map) {
    const k = readU32(key);
    assert.equal(seen[k], 0, `key ${k} seen twice`);
    seen[k] = 1;
    assert.equal(readU64(value), BigInt(k) * 3n);
    count++;
  }
  assert.equal(count, 100_000);
});

test('raw batches hand over whole buffers and cover every entry', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 10_000 });
  fill(map, 10_000);
  let total = 0;
  let chunks = 0;
  for (const chunk of map.batches({ batchSize: 1000 })) {
    assert.equal(chunk.keys.length, chunk.count * 4);
    assert.equal(chunk.values.length, chunk.count * 8);
    for (let i = 0; i < chunk.count; i++) {
      const key = new DataView(chunk.keys.buffer, chunk.keys.byteOffset).getUint32(i * 4, true);
      const value = new DataView(chunk.values.buffer, chunk.values.byteOffset).getBigUint64(i * 8, true);
      assert.equal(value, BigInt(key) * 3n);
    }
    total += chunk.count;
    chunks++;
  }
  assert.equal(total, 10_000);
  assert.ok(chunks >= 10);
});

test('a batch smaller than a hash bucket (ENOSPC) is retried with a bigger one', needs(), () => {
  // 2000 keys in a 2048-bucket table: many buckets hold 2+ entries, which a batch of 1 cannot take.
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 2000 });
  fill(map, 2000);
  const keys = new Set<number>();
  for (const chunk of map.batches({ batchSize: 1 })) {
    for (let i = 0; i < chunk.count; i++) keys.add(new DataView(chunk.keys.buffer, chunk.keys.byteOffset).getUint32(i * 4, true));
  }
  assert.equal(keys.size, 2000);
});

test('getBatch pages with a cursor; getAndDeleteBatch empties the map', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 500 });
  fill(map, 500);
  const seen = new Set<number>();
  let cursor: BatchCursor | undefined;
  let pages = 0;
  for (;;) {
    const page = map.getBatch({ count: 64, ...(cursor ? { cursor } : {}) });
    for (const [key] of page.entries) seen.add(readU32(key));
    cursor = page.cursor;
    pages++;
    if (page.done) break;
  }
  assert.equal(seen.size, 500);
  assert.ok(pages >= 8);
  let removed = 0;
  let deleteCursor: BatchCursor | undefined;
  for (;;) {
    const page = map.getAndDeleteBatch({ count: 128, ...(deleteCursor ? { cursor: deleteCursor } : {}) });
    removed += page.entries.length;
    deleteCursor = page.cursor;
    if (page.done) break;
  }
  assert.equal(removed, 500);
  assert.equal([...map].length, 0);
});

test('array and per-CPU maps iterate through batches too', needs(), () => {
  using array = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 300 });
  fill(array, 300);
  assert.deepEqual([...array.keys()].map(readU32), Array.from({ length: 300 }, (_, i) => i));
  using percpu = BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 100 });
  for (let i = 0; i < 100; i++) percpu.set(u32le(i), Array.from({ length: possibleCpus() }, (_, cpu) => u64le(i * 10 + cpu)));
  let count = 0;
  for (const [key, values] of percpu) {
    const k = readU32(key);
    assert.deepEqual(values.map(readU64), Array.from({ length: possibleCpus() }, (_, cpu) => BigInt(k * 10 + cpu)));
    count++;
  }
  assert.equal(count, 100);
});

test('deleting the yielded key while iterating is safe (batch and next-key paths)', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1000 });
  fill(map, 1000);
  let seen = 0;
  for (const [key] of map) {
    assert.equal(map.delete(key), true);
    seen++;
  }
  assert.equal(seen, 1000);
  assert.equal(map.nextKey(), undefined);
  // lpm_trie has no batch ops: this exercises the next-key walk.
  using trie = BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 300, flags: ['NO_PREALLOC'] });
  for (let i = 0; i < 256; i++) trie.set(Uint8Array.of(32, 0, 0, 0, 10, 0, 0, i), u32le(i));
  let walked = 0;
  for (const [key] of trie) {
    assert.equal(trie.delete(key), true);
    walked++;
  }
  assert.equal(walked, 256);
});

test('iteration under concurrent deletion is bounded', needs(), () => {
  using trie = BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 64, flags: ['NO_PREALLOC'] });
  for (let i = 0; i < 64; i++) trie.set(Uint8Array.of(32, 0, 0, 0, 10, 0, 0, i), u32le(i));
  // Delete a key other than the yielded one at every step and re-add it: the walk must end
  // (finished or aborted), never loop forever.
  let steps = 0;
  try {
    for (const [key] of trie) {
      steps++;
      const other = Uint8Array.of(32, 0, 0, 0, 10, 0, 0, (key[7]! + 1) % 64);
      trie.delete(other);
      trie.set(other, u32le(0));
      if (steps > 10_000) assert.fail('iteration did not terminate');
    }
  } catch (error) {
    assert.equal((error as { code?: string }).code, 'ERR_ITERATION_ABORTED');
  }
  assert.ok(steps <= 65, `bounded by max_entries + 1, took ${steps}`);
});

test('a failed batch update reports how many entries were processed', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
  const entries: Array<[Uint8Array, Uint8Array]> = Array.from({ length: 6 }, (_, i) => [u32le(i), u64le(i)]);
  assert.throws(() => map.setBatch(entries), (e: unknown) => e instanceof BpfBatchError && e.code === 'E2BIG' && e.processed === 4 && /after 4 entries/.test(e.message));
  assert.equal([...map].length, 4);
  assert.throws(() => map.deleteBatch([u32le(0), u32le(99), u32le(1)]), (e: unknown) => e instanceof BpfBatchError && e.code === 'ENOENT' && e.processed === 1);
  assert.equal(map.has(u32le(0)), false);
  assert.equal(map.has(u32le(1)), true);
});

test('setBatch and deleteBatch fall back to element ops on maps without batch support', needs(), () => {
  using trie = BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 8, flags: ['NO_PREALLOC'] });
  const keys = [1, 2, 3].map((i) => Uint8Array.of(32, 0, 0, 0, 10, 0, 0, i));
  assert.equal(trie.setBatch(keys.map((k, i) => [k, u32le(i)] as [Uint8Array, Uint8Array])), 3);
  assert.equal(trie.deleteBatch(keys.slice(0, 2)), 2);
  assert.equal([...trie].length, 1);
});

test('clear empties hash maps and zeroes arrays', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 3000 });
  fill(map, 3000);
  map.clear();
  assert.equal([...map].length, 0);
  using array = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 });
  fill(array, 4);
  array.clear();
  assert.deepEqual([...array.values()].map(readU64), [0n, 0n, 0n, 0n]);
});

test('raw entries(), keys() and values() yield bytes that stay as read across batches and later writes', needs(), () => {
  // 10,000 entries: three batches of 4096, so later batches would overwrite reused buffers.
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 12, maxEntries: 10_000 });
  const value = (i: number): Uint8Array => Uint8Array.from({ length: 12 }, (_, b) => (i * 7 + b) & 0xff);
  map.setBatch(Array.from({ length: 10_000 }, (_, i): [Uint8Array, Uint8Array] => [u32le(i), value(i)]));
  const entries = [...map.entries()];
  const keys = [...map.keys()];
  const values = [...map.values()];
  // Overwrite every value in the map: nothing read before may change.
  map.setBatch(Array.from({ length: 10_000 }, (_, i): [Uint8Array, Uint8Array] => [u32le(i), new Uint8Array(12)]));
  assert.equal(entries.length, 10_000);
  assert.equal(keys.length, 10_000);
  assert.equal(values.length, 10_000);
  const seen = new Set<number>();
  entries.forEach(([key, bytes], i) => {
    assert.equal(key.length, 4);
    assert.equal(bytes.length, 12);
    const k = readU32(key);
    seen.add(k);
    assert.deepEqual(bytes, value(k), `entry ${i} (key ${k})`);
    // The same walk order each time: keys() and values() line up with entries().
    assert.equal(readU32(keys[i]!), k);
    assert.deepEqual(values[i], value(k));
  });
  assert.equal(seen.size, 10_000);
});
