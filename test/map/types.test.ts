/**
 * Types that follow what the kernel allows, checked when `npm test` compiles the tests (each
 * `@ts-expect-error` fails the build if its line type-checks): methods per map type where the
 * type is known (`push` not on a hash map, `get` not on a ring buffer), a bloom filter's `has`
 * taking a value, specs without the sizes that must be 0, merged readers of different record
 * types, and literal unions for `BpfError.code` and `MapInfo.typeName`. The runtime checks stay
 * for maps whose type is not known, and each test runs them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError, BpfMap, BpfRecord, RingBuffer, mergeEventReaders, type BpfErrorCode, type MapInfo, type MapTypeName } from '../../src/index.js';
import { needs } from '../helpers.js';

type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends (<G>() => G extends B ? 1 : 2) ? true : false;
function expectType<T extends true>(): void {}

test('methods follow the created map type; opened maps keep every method and the runtime checks', needs(), (t) => {
  using hash = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2, name: 'types_hash' });
  hash.set(Uint8Array.of(1, 0, 0, 0), Uint8Array.of(2, 0, 0, 0));
  assert.deepEqual(hash.get(Uint8Array.of(1, 0, 0, 0)), Uint8Array.of(2, 0, 0, 0));
  // @ts-expect-error push is for queues and stacks
  assert.throws(() => hash.push(new Uint8Array(4)), (error: unknown) => (error as { code?: string }).code === 'ERR_BPFMAP_OPERATION');
  // @ts-expect-error add is for bloom filters
  assert.throws(() => hash.add(new Uint8Array(4)), (error: unknown) => (error as { code?: string }).code === 'ERR_BPFMAP_OPERATION');

  // Ring buffers: no sizes in the spec, no element methods.
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 4096, name: 'types_ring' });
  assert.equal(ring.keySize, 0);
  assert.equal(ring.valueSize, 0);
  // @ts-expect-error a ring buffer has no keys to get
  assert.throws(() => ring.get(new Uint8Array(0)));
  using reader = RingBuffer.open(ring);
  assert.equal(reader.capacity, 4096);

  // Queues: no keySize; push/pop/peek, no get/set.
  using queue = BpfMap.create({ type: 'queue', valueSize: 8, maxEntries: 4, name: 'types_queue' });
  queue.push(new Uint8Array(8).fill(7));
  assert.deepEqual(queue.peek(), new Uint8Array(8).fill(7));
  // @ts-expect-error a queue has no keys to set
  assert.throws(() => queue.set(new Uint8Array(0), new Uint8Array(8)));
  // @ts-expect-error keySize is required where it is not 0
  assert.throws(() => BpfMap.create({ type: 'hash', valueSize: 4, maxEntries: 2 }), (error: unknown) =>
    error instanceof TypeError && (error as TypeError & { code: string }).code === 'ERR_BPFMAP_SPEC' && /keySize is required for hash maps/.test(error.message));

  // A bloom filter's has takes a value (here typed through a record, so key and value types differ).
  const value = BpfRecord.define([['addr', 'I']]);
  using bloom = BpfMap.create({ type: 'bloom_filter', valueSize: value.size, maxEntries: 16, mapExtra: 3, name: 'types_bloom' }, { value });
  bloom.add({ addr: 7 });
  assert.equal(bloom.has({ addr: 7 }), true);
  // @ts-expect-error the bloom filter has no keys: has takes a value (here a record)
  assert.throws(() => bloom.has(new Uint8Array(0)), TypeError);
  // @ts-expect-error nor is it a queue
  assert.throws(() => bloom.push({ addr: 1 }), (error: unknown) => (error as { code?: string }).code === 'ERR_BPFMAP_OPERATION');

  // Opened by pin, id or fd: the type is not known, every method type-checks, the runtime decides.
  using opened = BpfMap.fromId(hash.id);
  assert.throws(() => opened.push(new Uint8Array(4)), (error: unknown) => (error as { code?: string }).code === 'ERR_BPFMAP_OPERATION');
  assert.equal(opened.has(Uint8Array.of(1, 0, 0, 0)), true);
  // A created map still goes wherever a BpfMap goes.
  const asPlain: BpfMap = hash;
  assert.equal(asPlain.id, hash.id);
  t.diagnostic('compile-time checks passed with the build');
});

test('BpfError.code and MapInfo.typeName are literal unions', needs(), () => {
  expectType<Equal<BpfError['code'], BpfErrorCode>>();
  expectType<Equal<MapInfo['typeName'], MapTypeName | `${number}`>>();
  const code: BpfError['code'] = 'ENOENT';
  const library: BpfError['code'] = 'ERR_BPFMAP_CLOSED';
  // @ts-expect-error neither an errno name nor an ERR_ code
  const wrong: BpfError['code'] = 'not-a-code';
  // @ts-expect-error not a map type name
  const typeName: MapInfo['typeName'] = 'hashh';
  using map = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const name: MapTypeName | `${number}` = map.info.typeName;
  assert.equal(name, 'percpu_array');
  try {
    map.delete(Uint8Array.of(9, 0, 0, 0));
  } catch (error) {
    assert.ok(error instanceof BpfError);
    const caught: BpfErrorCode = error.code;
    assert.ok(['EINVAL', 'ENOENT'].includes(caught));
  }
  assert.deepEqual([code, library, wrong, typeName].length, 4);
});

test('mergeEventReaders takes readers of different record types and narrows data by source', needs(), async () => {
  using execRing = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
  using exitRing = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
  const exec = BpfRecord.define([['pid', 'I']]);
  const exit = BpfRecord.define([['code', 'q']]);
  using execs = RingBuffer.open(execRing, { decode: exec });
  using exits = RingBuffer.open(exitRing, { decode: exit });
  const stream = mergeEventReaders([execs, exits], { count: 1, idleTimeoutMs: 50 });
  for await (const record of stream) {
    if (record.source === 0) expectType<Equal<typeof record.data, { pid: number }>>();
    else expectType<Equal<typeof record.data, { code: bigint }>>();
  }
});
