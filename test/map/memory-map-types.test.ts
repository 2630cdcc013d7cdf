/**
 * `BpfMapLike` at the type level, checked when `npm test` compiles the tests: `BpfMap` and
 * `MemoryMap` (raw, typed by records, per-CPU, of a known or unknown kind) are assignable to it,
 * methods follow the map type as on `BpfMap` (each `@ts-expect-error` fails the build if its line
 * type-checks), and one function written against `BpfMapLike` runs on both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, BpfRecord, MemoryMap, type BpfMapLike } from '../../src/index.js';
import { needs } from '../helpers.js';

type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends (<G>() => G extends B ? 1 : 2) ? true : false;
function expectType<T extends true>(): void {}
type Assignable<From, To> = [From] extends [To] ? true : false;

// Every handle kind a user meets is a BpfMapLike of its key, value and kind.
expectType<Assignable<BpfMap, BpfMapLike>>();
expectType<Assignable<BpfMap<Uint8Array, Uint8Array, 'hash'>, BpfMapLike<Uint8Array, Uint8Array, 'hash'>>>();
expectType<Assignable<BpfMap<Uint8Array, Uint8Array[], 'percpu_array'>, BpfMapLike<Uint8Array, Uint8Array[], 'percpu_array'>>>();
expectType<Assignable<BpfMap<{ pid: number }, { packets: bigint }>, BpfMapLike<{ pid: number }, { packets: bigint }>>>();
expectType<Assignable<BpfMap<Uint8Array, Uint8Array, 'queue'>, BpfMapLike<Uint8Array, Uint8Array, 'queue'>>>();
expectType<Assignable<MemoryMap, BpfMapLike>>();
expectType<Assignable<MemoryMap<Uint8Array, Uint8Array, 'hash'>, BpfMapLike<Uint8Array, Uint8Array, 'hash'>>>();
expectType<Assignable<MemoryMap<{ pid: number }, { packets: bigint }[], 'lru_percpu_hash'>, BpfMapLike<{ pid: number }, { packets: bigint }[], 'lru_percpu_hash'>>>();
expectType<Assignable<MemoryMap<Uint8Array, Uint8Array, 'bloom_filter'>, BpfMapLike<Uint8Array, Uint8Array, 'bloom_filter'>>>();
// A map typed by records is a BpfMapLike of the records' objects, from either constructor.
const flowKey = BpfRecord.define([['pid', 'I']]);
const flowValue = BpfRecord.define([['packets', 'Q']]);
const makeFlows = () => MemoryMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 1 }, { key: flowKey, value: flowValue });
expectType<Equal<ReturnType<typeof makeFlows>, MemoryMap<{ pid: number }, { packets: bigint }[], 'percpu_hash'>>>();
expectType<Assignable<ReturnType<typeof makeFlows>, BpfMapLike<{ pid: number }, { packets: bigint }[], 'percpu_hash'>>>();
// Not the other way round: a BpfMapLike is not a BpfMap (it has no fd, pin, mmap).
expectType<Equal<Assignable<BpfMapLike, BpfMap>, false>>();

/** Code under test, written once against the interface. */
function countPid(map: BpfMapLike<Uint8Array, Uint8Array, 'hash'>, pid: number): bigint {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, pid, true);
  const old = map.get(key);
  const count = (old === undefined ? 0n : new DataView(old.buffer, old.byteOffset).getBigUint64(0, true)) + 1n;
  const value = new Uint8Array(8);
  new DataView(value.buffer).setBigUint64(0, count, true);
  map.set(key, value);
  // @ts-expect-error push is for queues and stacks, on the interface as on BpfMap
  assert.throws(() => map.push(value), (error: unknown) => (error as { code?: string }).code === 'ERR_BPFMAP_OPERATION');
  return count;
}

test('one function over BpfMapLike runs on a kernel map and on a memory map alike', needs(), () => {
  const spec = { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4, name: 'like_counts' } as const;
  using kernel = BpfMap.create(spec);
  using memory = MemoryMap.create(spec);
  for (const map of [kernel, memory] as const) {
    assert.equal(countPid(map, 7), 1n);
    assert.equal(countPid(map, 7), 2n);
    assert.equal(countPid(map, 9), 1n);
  }
  assert.deepEqual([...memory.entries()].sort(), [...kernel.entries()].sort());
  // Kinds follow the spec on both: a queue has no get.
  using queue = MemoryMap.create({ type: 'queue', valueSize: 1, maxEntries: 1 });
  // @ts-expect-error a queue has no keys to get
  assert.throws(() => queue.set(new Uint8Array(0), Uint8Array.of(1)), (error: unknown) => (error as { code?: string }).code === 'ERR_BPFMAP_OPERATION');
  const asLike: BpfMapLike<Uint8Array, Uint8Array, 'queue'> = queue;
  asLike.push(Uint8Array.of(5));
  assert.deepEqual(asLike.pop(), Uint8Array.of(5));
});
