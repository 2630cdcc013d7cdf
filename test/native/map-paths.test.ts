/**
 * The map and event paths, end to end, in few operations: element operations on every common map
 * type, batches, per-CPU values, mmap, codecs (records, BTF made from records), close and fd-number
 * reuse, and ring, perf and user ring buffers fed by real BPF programs. It is an ordinary test,
 * and test/native/valgrind.test.ts runs it under memcheck, where any invalid access, use after
 * free or uninitialised value in the addon on these paths fails (operation counts are kept small
 * for that: valgrind runs Node some 20 times slower).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { closeSync, openSync } from 'node:fs';
import { BpfMap, BpfRecord, PerfBuffer, RingBuffer, UserRingBuffer, createWithRecords, lpmKeyCodec, possibleCpus } from '../../src/index.js';
import { needs, u32le } from '../helpers.js';
import { FixtureState, eventSequence, loadFixture, runProgram } from '../events/fixtures.js';

const code = (expected: string) => (error: unknown): boolean => (error as { code?: unknown }).code === expected;
const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

test('element operations, iteration and batches on every common map type', needs(), () => {
  // 12-byte values: per-CPU maps pad each CPU's value to 16 on the wire.
  for (const type of ['hash', 'lru_hash', 'array', 'percpu_hash', 'percpu_array', 'lru_percpu_hash'] as const) {
    const perCpu = type.startsWith('percpu') || type === 'lru_percpu_hash';
    const map = BpfMap.create({ type, keySize: 4, valueSize: 12, maxEntries: 8 }) as unknown as BpfMap<Uint8Array, Uint8Array | Uint8Array[]>;
    const value = (n: number): Uint8Array | Uint8Array[] => (perCpu ? Array.from({ length: possibleCpus() }, (_, cpu) => bytes(12, n + cpu)) : bytes(12, n));
    try {
      for (let i = 0; i < 6; i++) map.set(u32le(i), value(i));
      assert.deepEqual(map.get(u32le(3)), value(3), type);
      const into = perCpu ? undefined : new Uint8Array(12);
      if (into) {
        (map as BpfMap<Uint8Array, Uint8Array>).getInto(u32le(4), into);
        assert.deepEqual(into, value(4));
      }
      assert.ok([...map.keys()].length >= 6, type);
      let walked = 0;
      for (let key = map.nextKey(); key !== undefined; key = map.nextKey(key)) walked++;
      assert.equal(walked, type === 'array' || type === 'percpu_array' ? 8 : 6, type);
      let batched = 0;
      for (const chunk of map.batches({ batchSize: 3 })) batched += chunk.count;
      assert.equal(batched, type.includes('array') ? 8 : 6, type);
      const page = map.getBatch({ count: 4 });
      assert.ok(page.entries.length > 0, type);
      assert.equal(map.setBatch([[u32le(6), value(6)], [u32le(7), value(7)]]), 2, type);
      if (type.includes('hash')) {
        assert.equal(map.delete(u32le(0)), true);
        assert.equal(map.get(u32le(0)), undefined);
        assert.equal(map.deleteBatch([u32le(1), u32le(2)]), 2);
        assert.deepEqual(map.getAndDelete(u32le(5)), value(5), type);
        assert.equal(map.get(u32le(5)), undefined);
      } else {
        assert.throws(() => map.delete(u32le(0)), (e: unknown) => e instanceof Error);
      }
      assert.throws(() => map.get(bytes(3, 0)), code('ERR_BPFMAP_KEY_SIZE'));
    } finally {
      map.close();
    }
    assert.throws(() => map.get(u32le(1)), (e: unknown) => e instanceof Error && typeof (e as { code?: unknown }).code === 'string');
  }
});

test('lpm trie, queue, stack, bloom filter and map-in-map', needs(), () => {
  const trie = BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 8, flags: ['NO_PREALLOC'] }).withCodecs(lpmKeyCodec(4), new BpfRecord<number>('I'));
  try {
    trie.set({ prefixLen: 8, data: Uint8Array.of(10, 0, 0, 0) }, 1);
    trie.set({ prefixLen: 24, data: Uint8Array.of(10, 1, 2, 0) }, 2);
    assert.equal(trie.get({ prefixLen: 32, data: Uint8Array.of(10, 1, 2, 3) }), 2);
    assert.equal(trie.get({ prefixLen: 32, data: Uint8Array.of(10, 9, 9, 9) }), 1);
  } finally {
    trie.close();
  }
  for (const type of ['queue', 'stack'] as const) {
    using queue = BpfMap.create({ type, keySize: 0, valueSize: 8, maxEntries: 4 });
    for (let i = 0; i < 4; i++) queue.push(bytes(8, i));
    assert.throws(() => queue.push(bytes(8, 9)), (e: unknown) => e instanceof Error);
    queue.push(bytes(8, 9), 'exist');
    assert.ok(queue.peek() !== undefined);
    assert.ok(queue.pop() !== undefined);
    queue.clear();
    assert.equal(queue.pop(), undefined);
  }
  using bloom = BpfMap.create({ type: 'bloom_filter', keySize: 0, valueSize: 4, maxEntries: 16, mapExtra: 3 });
  bloom.add(u32le(7));
  assert.equal(bloom.mayContain(u32le(7)), true);

  using inner = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 });
  using outer = BpfMap.create({ type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 2, innerMap: inner });
  outer.setInnerMap(u32le(1), inner);
  assert.equal(outer.getId(u32le(1)), inner.id);
  const closed = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 });
  closed.close();
  assert.throws(() => outer.setInnerMap(u32le(0), closed), code('ERR_BPFMAP_CLOSED'));
});

test('mmap, codecs, close and fd-number reuse', needs(), () => {
  const array = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, mmapable: true });
  const mapped = array.mmap();
  array.set(u32le(2), Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0));
  assert.equal(mapped.readU64(2), 5n);
  mapped.write(1, bytes(8, 1));
  assert.equal(array.get(u32le(1))?.[7], 1);
  mapped.unmap();
  mapped.unmap();
  assert.throws(() => mapped.readU64(0), code('ERR_BPFMAP_CLOSED'));
  array.close();
  array.close();

  const record = BpfRecord.define([['id', 'I'], ['inner', [['count', 'Q'], ['name', '8s']]]], { strings: 'text' });
  using typed = createWithRecords({ type: 'hash', maxEntries: 4 }, { key: new BpfRecord<number>('I'), value: record });
  typed.set(1, { id: 1, inner: { count: 2n, name: 'ab' } });
  assert.deepEqual(typed.get(1), { id: 1, inner: { count: 2n, name: 'ab' } });
  assert.throws(() => typed.set(2, { id: 1, inner: { count: 2n, name: 'abcdefghij' } }), code('ERR_BPFMAP_RECORD_RANGE'));
  assert.equal(typed.get(2), undefined);

  // The public fd closed by the application and its number reused: the map keeps working.
  const small = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 16, maxEntries: 2 });
  small.set(u32le(1), bytes(16, 3));
  closeSync(small.fd);
  const big = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4096, maxEntries: 1 });
  const file = openSync('/dev/null', 'r');
  try {
    big.set(u32le(0), bytes(4096, 9));
    assert.deepEqual(small.get(u32le(1)), bytes(16, 3));
    small.close();
    assert.equal(big.get(u32le(0))?.[4095], 9);
  } finally {
    closeSync(file);
    big.close();
  }
  // Dropped without close: the collector's finalizers run while the process goes on.
  for (let i = 0; i < 8; i++) BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 }).fd;
  (globalThis as { gc?: () => void }).gc?.();
});

test('ring buffer: consume, views, the async iterator and close inside a handler', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, 12);
  await runProgram(fixture, 'produce', 12);
  const pin = path.join(fixture.maps, 'events');
  const seen: number[] = [];
  {
    using reader = RingBuffer.open(pin);
    reader.consume((data) => seen.push(eventSequence(data)), 4);
    reader.consumeViews((view) => seen.push(Number(view.u64(0))), 4);
    for await (const { data } of reader.records({ count: 2 })) seen.push(eventSequence(data));
  }
  const last = RingBuffer.open(pin);
  last.consume((data) => {
    seen.push(eventSequence(data));
    last.close();
  });
  assert.deepEqual(seen, Array.from({ length: 11 }, (_, i) => i));
});

test('perf buffer: samples from a program, the async iterator, close inside a handler', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const reader = PerfBuffer.open(path.join(fixture.maps, 'events'), { buffers: [{ cpu: 0, index: 0 }], pagesPerCpu: 1 });
  t.after(() => reader.close());
  await runProgram(fixture, 'produce', 6, 0);
  const seen: number[] = [];
  reader.consume((data) => seen.push(Number(new DataView(data.buffer, data.byteOffset).getBigUint64(0, true))), 2);
  for await (const { data } of reader.records({ count: 2, delivery: 'at-least-once' })) seen.push(Number(new DataView(data.buffer, data.byteOffset).getBigUint64(0, true)));
  reader.consume(() => reader.close());
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.equal(reader.closed, true);
});

test('user ring buffer: writes, reservations and an abandoned one, drained by a program', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  const pin = path.join(fixture.maps, 'requests');
  const numbered = (seq: number): Uint8Array => {
    const record = new Uint8Array(16);
    const view = new DataView(record.buffer);
    view.setBigUint64(0, BigInt(seq), true);
    view.setBigUint64(8, ~BigInt(seq) & 0xffff_ffff_ffff_ffffn, true);
    return record;
  };
  {
    using requests = UserRingBuffer.open(pin);
    requests.write(numbered(1));
    const reservation = requests.reserve(16);
    reservation.data.set(numbered(2));
    reservation.submit();
    requests.reserve(16).discard();
    requests.reserve(16); // abandoned: close() discards it
  }
  await runProgram(fixture, 'drain', 1);
  assert.equal(state.get(0), 2, 'two records drained');
  assert.equal(state.get(1), 3, 'their sequence numbers summed');
});
