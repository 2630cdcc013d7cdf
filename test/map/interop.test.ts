import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { needs, pinDir, bpftool, bpftoolJson, hexBytes, u32le } from '../helpers.js';

test('a map made and filled by bpftool reads back identically', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'interop1');
  const pin = path.join(dir, 'from_bpftool');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'from_bpftool');
  bpftool('map', 'update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '0xde', '0xad', '0xbe', '0xef', '1', '2', '3', '4');
  bpftool('map', 'update', 'pinned', pin, 'key', 'hex', '02', '00', '00', '00', 'value', 'hex', '01', '02', '03', '04', '05', '06', '07', '08');
  using map = BpfMap.openPinned(pin);
  assert.equal(map.name, 'from_bpftool');
  assert.deepEqual(map.get(u32le(1)), Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4));
  assert.deepEqual(map.get(u32le(2)), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  const show = bpftoolJson<{ id: number; bytes_key: number; bytes_value: number; max_entries: number }>('map', 'show', 'pinned', pin);
  assert.equal(show.id, map.id);
  assert.equal(show.bytes_key, map.keySize);
  assert.equal(show.max_entries, map.maxEntries);
});

test('a map written by bpfmap dumps with identical bytes in bpftool', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'interop2');
  const pin = path.join(dir, 'from_bpfmap');
  using map = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 12, maxEntries: 64, name: 'from_bpfmap' });
  const expected = new Map<string, string[]>();
  for (let i = 0; i < 40; i++) {
    const key = Uint8Array.from({ length: 8 }, (_, j) => (i * 13 + j * 7) & 0xff);
    const value = Uint8Array.from({ length: 12 }, (_, j) => (i * 29 + j * 3 + 1) & 0xff);
    map.set(key, value);
    expected.set(hexBytes(key).join(' '), hexBytes(value));
  }
  map.pin(pin);
  const dump = bpftoolJson<Array<{ key: string[]; value: string[] }>>('map', 'dump', 'pinned', pin);
  assert.equal(dump.length, 40);
  for (const entry of dump) assert.deepEqual(entry.value, expected.get(entry.key.join(' ')));
  const ours = new Map([...map].map(([k, v]) => [hexBytes(k).join(' '), hexBytes(v)]));
  assert.deepEqual(ours, expected);
});

test('keys and values of every size, and views at odd offsets, reach the kernel byte for byte', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'interop3');
  // Sizes on both sides of the 64-byte limit below which copies into the staging area are inline loops.
  for (const [keySize, valueSize] of [[1, 1], [3, 63], [64, 64], [65, 65], [200, 1000]] as const) {
    using map = BpfMap.create({ type: 'hash', keySize, valueSize, maxEntries: 8 });
    const pin = path.join(dir, `m${keySize}`);
    map.pin(pin);
    const arena = new Uint8Array(keySize + valueSize + 7);
    for (let round = 0; round < 3; round++) {
      arena.forEach((_, i) => { arena[i] = (i * 31 + round * 17 + keySize) & 0xff; });
      // Views at an odd byte offset into a bigger buffer: the copy must start at the view, not the buffer.
      const key = arena.subarray(3, 3 + keySize);
      const value = arena.subarray(3 + keySize, 3 + keySize + valueSize);
      map.set(key, value);
      const dump = bpftoolJson<Array<{ key: string[]; value: string[] }>>('map', 'dump', 'pinned', pin);
      const entry = dump.find((e) => e.key.join(' ') === hexBytes(key).join(' '));
      assert.ok(entry, `bpftool sees the ${keySize}-byte key`);
      assert.deepEqual(entry.value, hexBytes(value), `bpftool sees the ${valueSize}-byte value`);
      assert.deepEqual(map.get(key), Uint8Array.from(value));
      const target = new Uint8Array(valueSize);
      assert.equal(map.getInto(key, target), true);
      assert.deepEqual(target, Uint8Array.from(value));
      assert.equal(map.has(key), true);
    }
    assert.equal([...map.keys()].length, 3);
    const first = [...map.keys()][0]!;
    const removed = map.getAndDelete(first);
    assert.equal(removed?.length, valueSize);
    assert.equal(map.has(first), false);
    assert.equal(map.delete(first), false);
  }
});
