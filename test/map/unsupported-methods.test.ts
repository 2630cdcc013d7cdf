/**
 * A method a map type does not support (get on a bloom filter, delete on a ring buffer, push on a
 * hash, getBatch on a queue) is refused at run time on maps whose type the static types do not
 * know (opened by id): a TypeError `ERR_BPFMAP_OPERATION` naming the method, the map type and what
 * that type supports, raised before any syscall (the map is left as it was: a queue still holds
 * its element, which a `getAndDelete` reaching the kernel would have popped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, RingBuffer } from '../../src/index.js';
import { needs } from '../helpers.js';

const KEYED = ['get', 'getInto', 'set', 'delete', 'has', 'getAndDelete', 'nextKey', 'entries', 'keys', 'values', 'batches', 'getBatch', 'getAndDeleteBatch', 'setBatch', 'deleteBatch', 'clear'];

/** Every method call of the element, iteration and type-specific API, with arguments of the map's sizes. */
function calls(map: BpfMap): Record<string, () => unknown> {
  const key = new Uint8Array(map.keySize);
  const value = new Uint8Array(map.valueSize);
  return {
    get: () => map.get(key),
    getInto: () => map.getInto(key, new Uint8Array(map.valueBufferSize)),
    set: () => map.set(key, value),
    delete: () => map.delete(key),
    has: () => map.has(key),
    getAndDelete: () => map.getAndDelete(key),
    nextKey: () => map.nextKey(),
    entries: () => [...map.entries()],
    keys: () => [...map.keys()],
    values: () => [...map.values()],
    batches: () => [...map.batches()],
    getBatch: () => map.getBatch(),
    getAndDeleteBatch: () => map.getAndDeleteBatch(),
    setBatch: () => map.setBatch([[key, value]]),
    deleteBatch: () => map.deleteBatch([key]),
    clear: () => map.clear(),
    push: () => map.push(value),
    pop: () => map.pop(),
    peek: () => map.peek(),
    add: () => map.add(value),
    mayContain: () => map.mayContain(value),
  };
}

/** Calls each method `supported` leaves out and checks the error it must raise. */
function assertRefused(map: BpfMap, typeName: string, supported: readonly string[], message: RegExp): void {
  for (const [method, call] of Object.entries(calls(map))) {
    if (supported.includes(method)) continue;
    assert.throws(call, (error: unknown) => {
      const refused = error as TypeError & { code?: string; method?: string; mapType?: string; supported?: readonly string[] };
      assert.ok(refused instanceof TypeError, `${method} on ${typeName}: ${String(error)}`);
      assert.equal(refused.code, 'ERR_BPFMAP_OPERATION', `${method} on ${typeName}`);
      assert.equal(refused.method, method);
      assert.equal(refused.mapType, typeName);
      assert.deepEqual(refused.supported, supported);
      assert.match(refused.message, new RegExp(`^${method} needs `));
      assert.match(refused.message, message, `${method} on ${typeName}`);
      return true;
    });
  }
}

test('queues and stacks refuse keyed and bloom methods, and keep their elements', needs(), () => {
  for (const type of ['queue', 'stack'] as const) {
    using created = BpfMap.create({ type, valueSize: 4, maxEntries: 4, name: `unsup_${type}` });
    using map = BpfMap.fromId(created.id);
    map.push(Uint8Array.of(7, 0, 0, 0));
    assertRefused(map, type, ['push', 'pop', 'peek', 'clear'], new RegExp(`${type} map 'unsup_${type}' has no keys \\(a ${type} map supports push, pop, peek, clear\\)|is ${type} \\(a ${type} map supports push, pop, peek, clear\\)`));
    // getAndDelete, getAndDeleteBatch, delete or clear reaching the kernel would have emptied it.
    assert.deepEqual(map.pop(), Uint8Array.of(7, 0, 0, 0));
    assert.equal(map.pop(), undefined);
  }
});

test('a bloom filter refuses get, getInto, batches and the queue methods; add/has/mayContain work', needs(), () => {
  using created = BpfMap.create({ type: 'bloom_filter', valueSize: 4, maxEntries: 16, name: 'unsup_bloom' });
  using map = BpfMap.fromId(created.id);
  map.add(Uint8Array.of(1, 2, 3, 4));
  assertRefused(map, 'bloom_filter', ['add', 'has', 'mayContain'], /bloom_filter map supports add, has, mayContain\)$/);
  assert.equal(map.has(Uint8Array.of(1, 2, 3, 4)), true);
  assert.equal(map.mayContain(Uint8Array.of(1, 2, 3, 4)), true);
});

test('ring buffers refuse every element method and point at their readers', needs(), () => {
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 4096, name: 'unsup_ring' });
  using map = BpfMap.fromId(ring.id);
  assertRefused(map, 'ringbuf', [], /ringbuf map 'unsup_ring' has no keys \(a ringbuf has no element methods: read it with RingBuffer\)|is ringbuf \(a ringbuf has no element methods: read it with RingBuffer\)/);
  using reader = RingBuffer.open(map);
  assert.equal(reader.capacity, 4096);

  using user = BpfMap.create({ type: 'user_ringbuf', maxEntries: 4096, name: 'unsup_uring' });
  using openedUser = BpfMap.fromId(user.id);
  assertRefused(openedUser, 'user_ringbuf', [], /write it with UserRingBuffer\)$/);
});

test('keyed maps refuse the queue and bloom methods, naming their own', needs(), () => {
  for (const type of ['hash', 'array', 'lru_hash', 'percpu_hash'] as const) {
    using created = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 4, name: `unsup_${type}`.slice(0, 15) });
    using map = BpfMap.fromId(created.id);
    assertRefused(map, type, KEYED, new RegExp(`is ${type} \\(a ${type} map supports ${KEYED.join(', ')}\\)$`));
    // Arrays hold every index; the hashes are empty.
    assert.equal(map.has(Uint8Array.of(0, 0, 0, 0)), type === 'array');
  }
});
