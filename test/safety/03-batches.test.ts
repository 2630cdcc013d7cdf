/**
 * Batch writes report what the kernel processed, and 'noexist' / 'exist' batches (which the
 * kernel's UPDATE_BATCH refuses: it takes only BPF_F_LOCK per element) work element by element.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, BpfBatchError } from '../../src/index.js';
import { needs, u32le } from '../helpers.js';
import { snapshot } from './coded.js';

function batchError(code: string, processed: number): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof BpfBatchError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.processed, processed, e.message);
    return true;
  };
}

const pairs = (...keys: number[]): Array<[Uint8Array, Uint8Array]> => keys.map((k) => [u32le(k), u32le(k * 10)]);

test('a frozen map refuses setBatch with processed 0 and nothing changes', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16 });
  map.setBatch(pairs(1, 2));
  map.freeze();
  const before = snapshot(map.entries());
  assert.throws(() => map.setBatch(pairs(3, 4, 5)), batchError('EPERM', 0));
  assert.throws(() => map.deleteBatch([u32le(1), u32le(2)]), batchError('EPERM', 0));
  assert.deepEqual(snapshot(map.entries()), before);
});

test('a read-only handle refuses deleteBatch with processed 0', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16 });
  map.setBatch(pairs(1, 2, 3));
  using readOnly = BpfMap.fromId(map.id, { readOnly: true });
  assert.throws(() => readOnly.deleteBatch([u32le(1), u32le(2)]), batchError('EPERM', 0));
  assert.throws(() => readOnly.setBatch(pairs(7)), batchError('EPERM', 0));
  assert.equal([...map.keys()].length, 3);
});

test('deleteBatch stops at a missing key and counts the ones before it', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16 });
  map.setBatch(pairs(1, 2, 3));
  assert.throws(() => map.deleteBatch([u32le(1), u32le(9), u32le(2)]), batchError('ENOENT', 1));
  assert.deepEqual([...map.keys()].map((k) => k[0]).sort(), [2, 3]);
});

test("setBatch 'noexist' writes up to the first existing key and says how many", needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16 });
  assert.equal(map.setBatch(pairs(1, 2), 'noexist'), 2);
  assert.throws(() => map.setBatch(pairs(3, 4, 1, 5), 'noexist'), batchError('EEXIST', 2));
  assert.deepEqual([...map.keys()].map((k) => k[0]).sort(), [1, 2, 3, 4]);
  assert.deepEqual(map.get(u32le(1)), u32le(10), 'the existing entry is untouched');
});

test("setBatch 'exist' replaces up to the first missing key and says how many", needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16 });
  map.setBatch(pairs(1, 2, 3));
  assert.equal(map.setBatch([[u32le(1), u32le(7)], [u32le(2), u32le(7)]], 'exist'), 2);
  assert.throws(() => map.setBatch([[u32le(3), u32le(8)], [u32le(9), u32le(8)], [u32le(1), u32le(8)]], 'exist'), batchError('ENOENT', 1));
  assert.deepEqual(map.get(u32le(3)), u32le(8));
  assert.deepEqual(map.get(u32le(1)), u32le(7), 'the entry after the failure is untouched');
  assert.equal(map.has(u32le(9)), false);
});

test('a full map stops a batch part-way with the kernel count', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
  assert.throws(() => map.setBatch(pairs(1, 2, 3, 4)), batchError('E2BIG', 2));
});
