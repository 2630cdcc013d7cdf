/**
 * Field-permission views (FilteredMap): hidden fields are absent on read; writes change only
 * writable fields and keep the rest of the map's bytes; forbidden writes, creates and deletes
 * throw and change nothing. Includes the paths pybpfmap's FilteredBPFMap got wrong: nested records
 * and lookup-and-delete.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { BpfMap, BpfRecord, FilteredMap, possibleCpus } from '../../src/index.js';
import { needs } from '../helpers.js';

function track<M extends { close(): void }>(t: TestContext, map: M): M {
  t.after(() => map.close());
  return map;
}

const keyRecord = new BpfRecord<{ uid: bigint; gid: bigint }>([['uid', 'Q'], ['gid', 'Q']], { name: 'key' });
const dataRecord = new BpfRecord<{ data: bigint[] }>([['data', Array<string>(8).fill('Q')]]);
const hashSpec = { type: 'hash', keySize: 16, valueSize: 64, maxEntries: 16 } as const;
const upTo8 = (): bigint[] => Array.from({ length: 8 }, (_, i) => BigInt(i));
const KEY = { uid: 1n, gid: 1n };

test('only data[2] readable-and-writable: reads show only data[2]; writes keep the other seven', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: dataRecord }));
  map.set(KEY, { data: upTo8() });
  const view = new FilteredMap(map, { mask: { data: { 2: 'rw' } } });

  const seen = view.get(KEY);
  assert.ok(seen?.data);
  assert.equal(seen.data[2], 2n);
  assert.deepEqual(Object.keys(seen.data), ['2']);
  assert.equal(seen.data.length, 8);

  view.set(KEY, { data: { 2: 42n } as never });
  assert.deepEqual(map.get(KEY), { data: [0n, 1n, 42n, 3n, 4n, 5n, 6n, 7n] });
  // A sparse array names the same element.
  const sparse: Array<bigint | undefined> = [];
  sparse[2] = 43n;
  view.set(KEY, { data: sparse });
  assert.deepEqual(map.get(KEY)?.data, [0n, 1n, 43n, 3n, 4n, 5n, 6n, 7n]);
});

test('writing a read-only or hidden field throws and changes nothing', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: dataRecord }));
  map.set(KEY, { data: upTo8() });
  const view = new FilteredMap(map, { mask: { data: ['ro', 'rw', 'hidden', 'rw', 'rw', 'rw', 'rw', 'rw'] } });
  assert.deepEqual(Object.keys(view.get(KEY)?.data ?? []), ['0', '1', '3', '4', '5', '6', '7']);
  assert.throws(() => view.set(KEY, { data: { 1: 10n, 0: 9n } as never }), { name: 'TypeError', code: 'ERR_BPFMAP_FIELD_ACCESS', message: /^value\.data\[0\] is read-only/ });
  assert.throws(() => view.set(KEY, { data: { 1: 10n, 2: 9n } as never }), { code: 'ERR_BPFMAP_FIELD_ACCESS', message: /^value\.data\[2\] is hidden/ });
  assert.throws(() => view.set(KEY, { data: { 9: 1n } as never }), { code: 'ERR_BPFMAP_FIELD_ACCESS', message: /no element 9/ });
  assert.throws(() => view.set(KEY, { other: 1n } as never), { code: 'ERR_BPFMAP_FIELD_ACCESS', message: /no field 'other'/ });
  // A writable field with a bad value: the record's own check, still before any write.
  assert.throws(() => view.set(KEY, { data: { 1: -1n } as never }), { name: 'RangeError', message: /^value\.data\[1\]/ });
  assert.deepEqual(map.get(KEY), { data: upTo8() });
});

test('creating and deleting only when the view allows it; getAndDelete returns the visible part', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: dataRecord }));
  map.set(KEY, { data: upTo8() });
  const locked = new FilteredMap(map, { mask: { data: 'rw' } });
  assert.throws(() => locked.set({ uid: 2n, gid: 2n }, { data: upTo8() }), { code: 'ERR_BPFMAP_CREATE_DENIED' });
  assert.equal(map.has({ uid: 2n, gid: 2n }), false);
  assert.throws(() => locked.delete(KEY), { code: 'ERR_BPFMAP_DELETE_DENIED' });
  assert.throws(() => locked.getAndDelete(KEY), { code: 'ERR_BPFMAP_DELETE_DENIED' });
  assert.equal(map.has(KEY), true);

  const open = new FilteredMap(map, { mask: { data: { 0: 'ro', 5: 'rw' } }, create: true, delete: true });
  open.set({ uid: 2n, gid: 2n }, { data: { 5: 55n } as never });
  assert.deepEqual(map.get({ uid: 2n, gid: 2n }), { data: [0n, 0n, 0n, 0n, 0n, 55n, 0n, 0n] });
  const removed = open.getAndDelete(KEY);
  assert.deepEqual(Object.entries(removed?.data ?? []), [['0', 0n], ['5', 5n]]);
  assert.equal(map.has(KEY), false);
  assert.equal(open.delete({ uid: 2n, gid: 2n }), true);
  assert.equal(open.delete({ uid: 2n, gid: 2n }), false);
});

test('nested records: write one nested field, keep its siblings; hidden structs are absent', needs(), (t) => {
  const record = new BpfRecord<{ id: number; owner: { uid: number; gid: number }; limits: Array<{ soft: bigint; hard: bigint }>; secret: bigint }>(
    [['id', 'I'], ['owner', [['uid', 'I'], ['gid', 'I']]], ['limits', [[['soft', 'Q'], ['hard', 'Q']], [['soft', 'Q'], ['hard', 'Q']]]], ['secret', 'Q']],
    { byteOrder: '@' },
  );
  const map = track(t, BpfMap.create({ type: 'array', keySize: 4, valueSize: record.size, maxEntries: 2 }, { key: new BpfRecord<number>('I'), value: record }));
  const full = { id: 7, owner: { uid: 1000, gid: 100 }, limits: [{ soft: 1n, hard: 2n }, { soft: 3n, hard: 4n }], secret: 99n };
  map.set(0, full);
  const view = new FilteredMap(map, { mask: { id: 'ro', owner: { gid: 'rw' }, limits: ['ro', { soft: 'rw', hard: 'ro' }] } });
  assert.deepEqual(view.get(0), { id: 7, owner: { gid: 100 }, limits: [{ soft: 1n, hard: 2n }, { soft: 3n, hard: 4n }] });
  view.set(0, { owner: { gid: 5 }, limits: [undefined, { soft: 30n }] });
  assert.deepEqual(map.get(0), { ...full, owner: { uid: 1000, gid: 5 }, limits: [{ soft: 1n, hard: 2n }, { soft: 30n, hard: 4n }] });
  assert.throws(() => view.set(0, { limits: [undefined, { hard: 1n }] }), { message: /^value\.limits\[1\]\.hard is read-only/ });
  assert.throws(() => view.set(0, { owner: { uid: 1 } }), { message: /^value\.owner\.uid is hidden/ });
  // A writable struct may be given in part too.
  const ownerView = new FilteredMap(map, { mask: { owner: 'rw' } });
  ownerView.set(0, { owner: { uid: 1 } });
  assert.deepEqual(map.get(0)?.owner, { uid: 1, gid: 5 });
  assert.deepEqual([...ownerView.entries()], [[0, { owner: { uid: 1, gid: 5 } }], [1, { owner: { uid: 0, gid: 0 } }]]);
});

test('masks that do not fit the value are rejected up front', needs(), (t) => {
  const map = track(t, BpfMap.create(hashSpec, { key: keyRecord, value: dataRecord }));
  assert.throws(() => new FilteredMap(map, { mask: { nope: 'rw' } }), { code: 'ERR_BPFMAP_MASK', message: /no field 'nope'/ });
  assert.throws(() => new FilteredMap(map, { mask: { data: ['rw'] } }), { code: 'ERR_BPFMAP_MASK', message: /1 elements but the value has 8/ });
  assert.throws(() => new FilteredMap(map, { mask: { data: { 8: 'rw' } } }), { code: 'ERR_BPFMAP_MASK' });
  assert.throws(() => new FilteredMap(map, { mask: 'write' as never }), { code: 'ERR_BPFMAP_MASK' });
});

test('per-CPU maps: the mask applies to every CPU value', needs(), (t) => {
  const stats = new BpfRecord<{ packets: bigint; secret: bigint }>([['packets', 'Q'], ['secret', 'Q']]);
  const map = track(t, BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 16, maxEntries: 1 }, { key: new BpfRecord<number>('I'), value: stats }));
  const cpus = possibleCpus();
  map.set(0, Array.from({ length: cpus }, (_, cpu) => ({ packets: BigInt(cpu), secret: 7n })));
  const view = new FilteredMap(map, { mask: { packets: 'rw' } });
  assert.deepEqual(view.get(0), Array.from({ length: cpus }, (_, cpu) => ({ packets: BigInt(cpu) })));
  view.set(0, [{ packets: 100n }]);
  assert.deepEqual(map.get(0)?.[0], { packets: 100n, secret: 7n });
  assert.throws(() => view.set(0, [undefined, { secret: 1n }]), { message: /^value\[1\]\.secret is hidden/ });
});
