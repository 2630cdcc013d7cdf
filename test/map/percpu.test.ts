import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, possibleCpus } from '../../src/index.js';
import { needs, pinDir, u32le, bpftoolJson, hexBytes } from '../helpers.js';
import { parseCpuRangeList } from '../../src/sys/cpus.js';

test('possible CPUs come from the range list', () => {
  assert.equal(parseCpuRangeList('0-3\n'), 4);
  assert.equal(parseCpuRangeList('0,2-5'), 5);
  assert.equal(parseCpuRangeList('0'), 1);
  assert.throws(() => parseCpuRangeList('3-1'), RangeError);
  assert.throws(() => parseCpuRangeList('x'), RangeError);
  assert.ok(possibleCpus() >= 1);
});

function distinctValues(seed: number, size: number): Uint8Array[] {
  return Array.from({ length: possibleCpus() }, (_, cpu) => Uint8Array.from({ length: size }, (_, i) => (seed * 31 + cpu * 7 + i) & 0xff));
}

for (const type of ['percpu_hash', 'percpu_array', 'lru_percpu_hash'] as const) {
  test(`${type}: one distinct value per possible CPU round-trips`, needs(), () => {
    // valueSize 12 is not a multiple of 8: the kernel strides CPUs by 16.
    using map = BpfMap.create({ type, keySize: 4, valueSize: 12, maxEntries: 8 });
    assert.equal(map.perCpu, true);
    assert.equal(map.valueBufferSize, 16 * possibleCpus());
    for (let key = 0; key < 3; key++) map.set(u32le(key), distinctValues(key, 12));
    for (let key = 0; key < 3; key++) assert.deepEqual(map.get(u32le(key)), distinctValues(key, 12));
    const seen = new Map<number, Uint8Array[]>();
    for (const [key, values] of map) seen.set(key[0]!, values);
    assert.deepEqual(seen.get(2), distinctValues(2, 12));
  });
}

test('per-CPU values of the wrong shape throw and change nothing', needs(), () => {
  using map = BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 8, maxEntries: 4 });
  map.set(u32le(1), distinctValues(1, 8));
  assert.throws(() => map.set(u32le(1), [new Uint8Array(8)] .concat(possibleCpus() === 1 ? [new Uint8Array(8)] : [])), /expected \d+ values \(one per possible CPU\)/);
  assert.throws(() => map.set(u32le(1), new Uint8Array(8) as unknown as Uint8Array[]), /expected an array of \d+ values/);
  assert.throws(() => map.set(u32le(1), distinctValues(1, 8).map((v, i) => (i === 0 ? v.subarray(0, 4) : v))), /value\[0\]: expected 8 bytes, got 4/);
  assert.deepEqual(map.get(u32le(1)), distinctValues(1, 8));
});

test('per-CPU values agree with bpftool dump', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'percpu');
  using map = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 2 });
  map.set(u32le(1), distinctValues(9, 4));
  map.pin(path.join(dir, 'm'));
  const dump = bpftoolJson<Array<{ key: string[]; values: Array<{ cpu: number; value: string[] }> }>>('map', 'dump', 'pinned', path.join(dir, 'm'));
  const entry = dump.find((e) => e.key[0] === '0x01');
  assert.ok(entry);
  assert.deepEqual(entry.values.map((v) => v.value), distinctValues(9, 4).map(hexBytes));
  assert.deepEqual(entry.values.map((v) => v.cpu), Array.from({ length: possibleCpus() }, (_, i) => i));
});
