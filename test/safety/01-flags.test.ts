/**
 * Update flags outside what the kernel takes are a RangeError that changes nothing. The addon
 * passes flags as 32 bits, so before this check 2^32 acted as 'any' and 2^32 + 1 as 'noexist'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap } from '../../src/index.js';
import { needs, u32le, u64le } from '../helpers.js';
import { throwsCoded, snapshot } from './coded.js';

const badNumbers = [2 ** 32, 2 ** 32 + 1, 2 ** 32 + 2, 2 ** 53, -1, 1.5, NaN, Infinity, 8, 3, 7, 0x10];

test('set, setFd-less writes and setBatch refuse out-of-range flags and change nothing', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 });
  map.set(u32le(1), u64le(1));
  const before = snapshot(map.entries());
  for (const flags of badNumbers) {
    throwsCoded(() => map.set(u32le(1), u64le(9), flags), RangeError, 'ERR_BPFMAP_FLAGS', /update flags must be/);
    throwsCoded(() => map.set(u32le(2), u64le(9), flags), RangeError, 'ERR_BPFMAP_FLAGS');
    throwsCoded(() => map.setBatch([[u32le(3), u64le(9)]], flags), RangeError, 'ERR_BPFMAP_FLAGS');
  }
  for (const flags of [{}, null, 'toString', '__proto__', 'ANY', Symbol('x'), 1n]) {
    throwsCoded(() => map.set(u32le(1), u64le(9), flags as never), TypeError, 'ERR_BPFMAP_FLAGS', /unknown update flag/);
  }
  throwsCoded(() => map.get(u32le(1), 'toString' as never), TypeError, 'ERR_BPFMAP_FLAGS');
  assert.deepEqual(snapshot(map.entries()), before);
  // The defined values still work, as numbers too.
  map.set(u32le(2), u64le(2), 1);
  map.set(u32le(2), u64le(3), 2);
  assert.deepEqual(map.get(u32le(2)), u64le(3));
});

test('push refuses out-of-range flags and pushes nothing', needs(), () => {
  using queue = BpfMap.create({ type: 'queue', keySize: 0, valueSize: 4, maxEntries: 2 });
  for (const flags of badNumbers) throwsCoded(() => queue.push(u32le(7), flags), RangeError, 'ERR_BPFMAP_FLAGS');
  assert.equal(queue.peek(), undefined, 'nothing was pushed');
  queue.push(u32le(1)).push(u32le(2));
  queue.push(u32le(3), 'exist');
  assert.deepEqual(queue.pop(), u32le(2), "'exist' overwrote the oldest");
});

test('setFd and setInnerMap refuse out-of-range flags', needs(), () => {
  using inner = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  using outer = BpfMap.create({ type: 'array_of_maps', keySize: 4, valueSize: 4, maxEntries: 2, innerMap: inner });
  for (const flags of badNumbers) throwsCoded(() => outer.setInnerMap(u32le(0), inner, flags), RangeError, 'ERR_BPFMAP_FLAGS');
  assert.equal(outer.getId(u32le(0)), undefined);
});
