import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, BpfError, possibleCpus } from '../../src/index.js';
import { needs, u32le, u64le, readU64 } from '../helpers.js';

for (const type of ['hash', 'lru_hash'] as const) {
  test(`${type}: set, get, has, delete, getAndDelete, nextKey`, needs(), () => {
    using map = BpfMap.create({ type, keySize: 4, valueSize: 8, maxEntries: 16 });
    assert.equal(map.get(u32le(1)), undefined);
    assert.equal(map.has(u32le(1)), false);
    map.set(u32le(1), u64le(11)).set(u32le(2), u64le(22));
    assert.equal(readU64(map.get(u32le(1))!), 11n);
    assert.equal(map.has(u32le(2)), true);
    const keys = new Set<number>();
    for (let key = map.nextKey(); key !== undefined; key = map.nextKey(key)) keys.add(key[0]!);
    assert.deepEqual([...keys].sort(), [1, 2]);
    assert.equal(readU64(map.getAndDelete(u32le(2))!), 22n);
    assert.equal(map.has(u32le(2)), false);
    assert.equal(map.getAndDelete(u32le(2)), undefined);
    assert.equal(map.delete(u32le(1)), true);
    assert.equal(map.delete(u32le(1)), false);
    assert.equal(map.nextKey(), undefined);
  });
}

test('array: every index exists, delete is refused', needs(), () => {
  using map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 });
  assert.deepEqual(map.get(u32le(3)), new Uint8Array(8));
  assert.equal(map.get(u32le(4)), undefined, 'out-of-range index is missing');
  map.set(u32le(3), u64le(5));
  assert.equal(readU64(map.get(u32le(3))!), 5n);
  assert.throws(() => map.delete(u32le(3)), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.command === 'MAP_DELETE_ELEM');
  assert.deepEqual([...map.keys()].map((k) => k[0]), [0, 1, 2, 3]);
});

test('update flags: noexist, exist, any', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'flags_test' });
  assert.throws(() => map.set(u32le(1), u32le(1), 'exist'), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
  map.set(u32le(1), u32le(1), 'noexist');
  assert.throws(
    () => map.set(u32le(1), u32le(2), 'noexist'),
    (e: unknown) => e instanceof BpfError && e.code === 'EEXIST' && e.errno === 17 && e.command === 'MAP_UPDATE_ELEM' && e.mapName === 'flags_test' && /exists already/.test(e.message),
  );
  map.set(u32le(1), u32le(3), 'exist');
  map.set(u32le(1), u32le(4), 'any');
  assert.deepEqual(map.get(u32le(1)), u32le(4));
  assert.throws(() => map.set(u32le(1), u32le(5), 'sometimes' as 'any'), (e: Error) => e instanceof TypeError && /unknown update flag/.test(e.message));
  assert.deepEqual(map.get(u32le(1)), u32le(4));
});

test('a full map is E2BIG with "map is full"', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
  map.set(u32le(1), u32le(1)).set(u32le(2), u32le(2));
  assert.throws(() => map.set(u32le(3), u32le(3)), (e: unknown) => e instanceof BpfError && e.code === 'E2BIG' && /map is full/.test(e.message));
  assert.equal(map.has(u32le(3)), false);
});

test('wrong-sized or wrong-typed keys and values throw and change nothing', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
  map.set(u32le(1), u64le(1));
  const before = [...map].map(([k, v]) => [Array.from(k), Array.from(v)]);
  const cases: Array<() => unknown> = [
    () => map.set(new Uint8Array(3), u64le(2)),
    () => map.set(new Uint8Array(5), u64le(2)),
    () => map.set(u32le(1), new Uint8Array(7)),
    () => map.set(u32le(1), new Uint8Array(9)),
    () => map.set('key' as unknown as Uint8Array, u64le(2)),
    () => map.set(u32le(1), [1, 2] as unknown as Uint8Array),
    () => map.get(new Uint8Array(2)),
    () => map.delete(new Uint8Array(8)),
    () => map.getAndDelete(new Uint8Array(0)),
    () => map.setBatch([[u32le(2), u64le(2)], [new Uint8Array(3), u64le(3)]]),
    () => map.deleteBatch([u32le(1), new Uint8Array(1)]),
  ];
  for (const attempt of cases) {
    assert.throws(attempt, (e: Error & { code?: string }) => (e instanceof RangeError || e instanceof TypeError) && typeof e.code === 'string');
  }
  assert.throws(() => map.set(new Uint8Array(3), u64le(2)), { message: 'key expected 4 bytes, got 3' });
  assert.throws(() => map.set(u32le(1), new Uint8Array(7)), { message: 'value expected 8 bytes, got 7' });
  assert.deepEqual([...map].map(([k, v]) => [Array.from(k), Array.from(v)]), before);
});

test('the native layer re-checks buffer sizes itself', needs(), async () => {
  const { native, NativeKind } = await import('../../src/sys/native.js');
  using map = BpfMap.create({ type: 'hash', keySize: 16, valueSize: 64, maxEntries: 4 });
  const object = native.objFromFd<'map'>(map.fd, NativeKind.map);
  assert.notEqual(typeof object, 'number');
  const handle = native.mapBind(object as Exclude<typeof object, number>);
  assert.notEqual(typeof handle, 'number');
  const h = (handle as Exclude<typeof handle, number>).id;
  // Ids name live handles only: made-up ids, and a live id's slot with another generation, are refused.
  type Id = typeof h;
  assert.throws(() => native.mapLookup(123456789 as Id, new Uint8Array(16), new Uint8Array(64), 0), /not a map handle/);
  assert.throws(() => native.mapLookup((h ^ (1 << 20)) as Id, new Uint8Array(16), new Uint8Array(64), 0), /not a map handle/);
  assert.throws(() => native.mapLookup({} as Id, new Uint8Array(16), new Uint8Array(64), 0), /not a map handle/);
  assert.equal(native.mapLookup(h, new Uint8Array(16), new Uint8Array(64), 0), -2, 'a live id reaches its map (ENOENT: empty)');
  assert.throws(() => native.mapUpdate(h, new Uint8Array(4), new Uint8Array(64), 0), /key buffer too small/);
  assert.throws(() => native.mapLookup(h, new Uint8Array(16), new Uint8Array(8), 0), /value buffer too small/);
  assert.throws(() => native.mapLookup(h, null, new Uint8Array(64), 0), /key buffer too small/);
  assert.throws(() => native.mapBatch(h, 24, null, new Uint8Array(2), new Uint8Array(160), new Uint8Array(640), 10, 0, new Uint32Array(1)), /cursor too small/);
  assert.throws(() => native.mapBatch(h, 24, null, new Uint8Array(16), new Uint8Array(16), new Uint8Array(640), 10, 0, new Uint32Array(1)), /keys buffer too small/);
  assert.throws(() => native.mapCreate(new Uint8Array(120), null, null), /pointer-free prefix/);
  assert.throws(() => native.bpfPlain(0, new Uint8Array(12)), /command not allowed/);
  assert.throws(() => native.bpfPlain(1, new Uint8Array(32)), /command not allowed/);
  native.mapClose(h);
  assert.equal(native.mapLookup(h, new Uint8Array(16), new Uint8Array(64), 0), -9, 'a closed handle is EBADF');
});

test('the staged element functions: sized by the kernel, reached only through live ids', needs(), async () => {
  const { native, NativeKind } = await import('../../src/sys/native.js');
  using map = BpfMap.create({ type: 'percpu_hash', keySize: 12, valueSize: 20, maxEntries: 4 });
  const object = native.objFromFd<'map'>(map.fd, NativeKind.map);
  assert.notEqual(typeof object, 'number');
  const handle = native.mapBind(object as Exclude<typeof object, number>);
  assert.notEqual(typeof handle, 'number');
  const { id, staging, valueOffset } = handle as Exclude<typeof handle, number>;
  // The staging area holds one key and one whole per-CPU value (8-byte stride per CPU), after the
  // key rounded up to 8: the sizes the kernel will read and write, fixed by the addon.
  assert.equal(valueOffset, 16);
  assert.equal(staging.byteLength, 16 + 24 * possibleCpus());
  const bytes = new Uint8Array(staging);
  bytes.fill(7, 0, 12);
  bytes.fill(9, valueOffset);
  assert.equal(native.mapUpdateStaged(id, 0), 0);
  const key = new Uint8Array(12).fill(7);
  const values = map.get(key) as Uint8Array[];
  assert.equal(values.length, possibleCpus());
  for (const value of values) assert.deepEqual(value, new Uint8Array(20).fill(9), 'each CPU got the staged 20 bytes');
  bytes.fill(0, valueOffset);
  assert.equal(native.mapLookupStaged(id, 0), 0);
  assert.deepEqual(bytes.subarray(valueOffset, valueOffset + 20), new Uint8Array(20).fill(9), 'the lookup wrote into the staging area');
  type Id = typeof id;
  assert.throws(() => native.mapLookupStaged(987654 as Id, 0), /not a map handle/);
  assert.throws(() => native.mapUpdateStaged((id ^ (1 << 20)) as Id, 0), /not a map handle/);
  assert.throws(() => native.mapUpdateStaged(id, 'x' as unknown as number), /flags must be a 32-bit number/);
  assert.equal(native.mapDeleteStaged(id), 0);
  assert.equal(native.mapDeleteStaged(id), -2, 'deleted once (ENOENT)');
  native.mapClose(id);
  assert.equal(native.mapLookupStaged(id, 0), -9, 'a closed handle is EBADF');
  // The staging area outlives the close: views of it stay readable, and nothing writes to it.
  assert.equal(bytes[0], 7);
});

test('operations on a closed map throw EBADF naming the map', needs(), () => {
  const map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'closed_map' });
  map.close();
  map.close();
  assert.equal(map.closed, true);
  assert.throws(() => map.get(u32le(1)), (e: unknown) => e instanceof BpfError && e.code === 'EBADF' && /closed_map.*closed/.test(e.message));
  assert.throws(() => map.info, (e: unknown) => e instanceof BpfError && e.code === 'EBADF');
});

test('keyless operations are refused on keyed maps and vice versa', needs(), () => {
  // (The types refuse these calls too where the map type is known: see types.test.ts.)
  using hash = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 });
  // @ts-expect-error push is for queues and stacks
  assert.throws(() => hash.push(u32le(1)), /push needs a queue or stack map/);
  // @ts-expect-error add is for bloom filters
  assert.throws(() => hash.add(u32le(1)), /add needs a bloom_filter map/);
  using queue = BpfMap.create({ type: 'queue', keySize: 0, valueSize: 4, maxEntries: 4 });
  // @ts-expect-error a queue has no keys
  assert.throws(() => queue.set(u32le(1), u32le(1)), /has no keys/);
  assert.throws(() => [...queue], /has no keys/);
});
