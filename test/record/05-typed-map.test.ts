/**
 * Typed maps: BpfMap with record codecs reads and writes objects, in single operations, per-CPU
 * values, iteration, batches and pinned maps (pybpfmap's own map tests, ported).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BpfMap, BpfRecord, possibleCpus } from '../../src/index.js';
import { needs, pinDir } from '../helpers.js';

interface Ids {
  uid: bigint;
  gid: bigint;
}

const keyRecord = new BpfRecord<Ids>([['uid', 'Q'], ['gid', 'Q']], { name: 'key' });
const spreadRecord = new BpfRecord(Array.from({ length: 8 }, (_, i) => [`data${i}`, 'Q'] as const));
const arrayRecord = new BpfRecord<{ data: bigint[] }>([['data', Array<string>(8).fill('Q')]]);
const hashSpec = { type: 'hash', keySize: 16, valueSize: 64, maxEntries: 64, name: 'rec_test' } as const;

/** Closes the map when the test ends, pass or fail. */
function track<M extends { close(): void }>(t: TestContext, map: M): M {
  t.after(() => map.close());
  return map;
}

const upTo8 = (start = 0): bigint[] => Array.from({ length: 8 }, (_, i) => BigInt(start + i));

test('16-byte keys and 64-byte values: raw bytes round-trip', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec));
  const key = new Uint8Array(16).fill(1);
  const value = Uint8Array.from({ length: 64 }, (_, i) => i);
  map.set(key, value);
  assert.deepEqual(map.get(key), value);
});

test('key [uid, gid] and value data0..data7 round-trip {uid: 1, gid: 1} -> {data0: 0 .. data7: 7}', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: spreadRecord }));
  const value = Object.fromEntries(upTo8().map((n, i) => [`data${i}`, n]));
  map.set({ uid: 1n, gid: 1n }, value);
  assert.deepEqual(map.get({ uid: 1n, gid: 1n }), value);
  assert.equal(map.get({ uid: 1n, gid: 2n }), undefined);
  // Numbers are accepted for 64-bit fields on the way in; bigints come out.
  map.set({ uid: 2, gid: 3 } as never, { ...value, data7: 70 });
  assert.equal((map.get({ uid: 2n, gid: 3n }) as Record<string, bigint>).data7, 70n);
});

test('value [data: 8 x Q] round-trips [0..7], and the same map reads raw through withCodecs', needs(), (t) => {
  const raw = track(t, BpfMap.create(hashSpec));
  const map = raw.withCodecs<Ids, { data: bigint[] }>(keyRecord, arrayRecord);
  t.after(() => map.close());
  map.set({ uid: 1n, gid: 1n }, { data: upTo8() });
  assert.deepEqual(map.get({ uid: 1n, gid: 1n }), { data: upTo8() });
  const rawValue = raw.get(keyRecord.pack({ uid: 1n, gid: 1n }));
  assert.deepEqual(rawValue, arrayRecord.pack({ data: upTo8() }));
});

test('a bad key or value throws before the syscall and leaves the map unchanged', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: arrayRecord }));
  map.set({ uid: 1n, gid: 1n }, { data: upTo8() });
  const bad = { data: [...upTo8().slice(0, 3), -1n, ...upTo8().slice(4)] };
  assert.throws(() => map.set({ uid: 1n, gid: 1n }, bad), { name: 'RangeError', message: /^value\.data\[3\]: / });
  assert.throws(() => map.set({ uid: 1n } as Ids, { data: upTo8(10) }), { name: 'TypeError', message: /^key\.gid: missing/ });
  assert.deepEqual(map.get({ uid: 1n, gid: 1n }), { data: upTo8() });
  assert.equal([...map.keys()].length, 1);
});

test('iteration, getAndDelete and batches are typed', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: arrayRecord }));
  const entries: Array<[Ids, { data: bigint[] }]> = Array.from({ length: 20 }, (_, i) => [{ uid: BigInt(i), gid: 7n }, { data: upTo8(i) }]);
  assert.equal(map.setBatch(entries), 20);
  const byUid = (a: [Ids, unknown], b: [Ids, unknown]): number => Number(a[0].uid - b[0].uid);
  assert.deepEqual([...map.entries()].sort(byUid), entries);
  assert.deepEqual([...map.keys()].map((k) => k.uid).sort((a, b) => Number(a - b)), entries.map(([k]) => k.uid));

  const pages: Array<[Ids, { data: bigint[] }]> = [];
  let page = map.getBatch({ count: 8 });
  pages.push(...page.entries);
  while (!page.done) {
    page = map.getBatch({ cursor: page.cursor, count: 8 });
    pages.push(...page.entries);
  }
  assert.deepEqual(pages.sort(byUid), entries);

  assert.deepEqual(map.getAndDelete({ uid: 3n, gid: 7n }), { data: upTo8(3) });
  assert.equal(map.deleteBatch([{ uid: 4n, gid: 7n }, { uid: 5n, gid: 7n }]), 2);
  assert.equal([...map.keys()].length, 17);
  assert.equal(map.nextKey({ uid: 999n, gid: 0n }) !== undefined, true);
});

test('per-CPU maps decode to one record per possible CPU', needs(), (t) => {
  const stats = new BpfRecord<{ packets: bigint; bytes: bigint; drops: number }>([['packets', 'Q'], ['bytes', 'Q'], ['drops', 'I']], { byteOrder: '@' });
  assert.equal(stats.size, 24);
  const map = track(t, BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: stats.size, maxEntries: 8 }, { key: new BpfRecord<number>('I', { name: 'key' }), value: stats }));
  const cpus = possibleCpus();
  const perCpu = Array.from({ length: cpus }, (_, cpu) => ({ packets: BigInt(cpu), bytes: BigInt(cpu * 100), drops: cpu }));
  map.set(5, perCpu as never);
  assert.deepEqual(map.get(5), perCpu);
  assert.deepEqual([...map.values()], [perCpu]);
});

test('pinned maps open typed', needs(), (t) => {
  const dir = pinDir(t, 'records');
  const pinPath = path.join(dir, 'typed');
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: arrayRecord }));
  map.pin(pinPath);
  map.set({ uid: 9n, gid: 9n }, { data: upTo8(9) });
  const reopened = BpfMap.openPinned(pinPath, { key: keyRecord, value: arrayRecord });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.get({ uid: 9n, gid: 9n }), { data: upTo8(9) });
  assert.throws(() => BpfMap.openPinned(pinPath, { key: keyRecord, value: new BpfRecord('60s') }), { code: 'ERR_BPFMAP_CODEC' });
});
