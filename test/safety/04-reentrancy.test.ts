/**
 * Codecs that call back into their own map: a value encoder that looks another key up while
 * `set` encodes, a decoder that reads or writes another key while `get` decodes. Before, the nested
 * call reused the staging area the outer call had half filled: the write landed on the nested key
 * and the decoded value mixed two entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, type Codec } from '../../src/index.js';
import { needs } from '../helpers.js';

const u32Codec: Codec<number> = {
  size: 4,
  encode(value, target, offset) {
    new DataView(target.buffer, target.byteOffset).setUint32(offset, value, true);
  },
  decode(source, offset) {
    return new DataView(source.buffer, source.byteOffset).getUint32(offset, true);
  },
};

/** A value { low, high } whose encoder and decoder run `hook` between the two halves. */
function pairCodec(hook: (phase: 'encode' | 'decode') => void): Codec<{ low: number; high: number }> {
  return {
    size: 8,
    encode(value, target, offset) {
      const view = new DataView(target.buffer, target.byteOffset);
      view.setUint32(offset, value.low, true);
      hook('encode');
      view.setUint32(offset + 4, value.high, true);
    },
    decode(source, offset) {
      const view = new DataView(source.buffer, source.byteOffset);
      const low = view.getUint32(offset, true);
      hook('decode');
      return { low, high: view.getUint32(offset + 4, true) };
    },
  };
}

test('an encoder that reads key 99 while set({1}) encodes writes key 1', needs(), () => {
  let map: BpfMap<number, { low: number; high: number }> | undefined;
  let seen: unknown;
  const value = pairCodec((phase) => {
    if (phase === 'encode') seen = map!.get(99);
  });
  map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32Codec, value });
  using _map = map;
  using raw = BpfMap.fromFd(map.fd);
  map.set(99, { low: 5, high: 6 });
  seen = undefined;
  map.set(1, { low: 7, high: 8 });
  assert.deepEqual(seen, { low: 5, high: 6 }, 'the nested get saw key 99');
  assert.deepEqual([...raw.keys()].map((k) => k[0]).sort((a, b) => a! - b!), [1, 99]);
  assert.deepEqual(map.get(1), { low: 7, high: 8 });
  assert.deepEqual(map.get(99), { low: 5, high: 6 }, 'key 99 untouched');
});

test('a decoder that reads or writes another key returns one whole entry', needs(), () => {
  let map: BpfMap<number, { low: number; high: number }> | undefined;
  let action: 'read' | 'write' | 'none' = 'none';
  const value = pairCodec((phase) => {
    if (phase !== 'decode' || action === 'none') return;
    const now = action;
    action = 'none';
    if (now === 'read') map!.get(99);
    else map!.set(42, { low: 0, high: 0 });
  });
  map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32Codec, value });
  using _map = map;
  map.set(1, { low: 1, high: 2 }).set(99, { low: 98, high: 99 });
  action = 'read';
  assert.deepEqual(map.get(1), { low: 1, high: 2 });
  action = 'write';
  assert.deepEqual(map.getAndDelete(1), { low: 1, high: 2 });
  assert.deepEqual(map.get(42), { low: 0, high: 0 });
  assert.equal(map.has(1), false);
});

test('re-entrancy nests: an encoder that sets another key, whose encoder reads a third', needs(), () => {
  let map: BpfMap<number, number> | undefined;
  let depth = 0;
  const value: Codec<number> = {
    size: 4,
    encode(v, target, offset) {
      depth++;
      try {
        if (depth === 1) map!.set(v + 1000, v + 1);
        else if (depth === 2) map!.get(7);
      } finally {
        depth--;
      }
      u32Codec.encode(v, target, offset);
    },
    decode: u32Codec.decode,
  };
  map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8 }, { key: u32Codec, value });
  using _map = map;
  map.set(1, 10);
  assert.equal(map.get(1), 10);
  assert.equal(map.get(1010), 11);
  assert.equal([...map.keys()].length, 2);
});

test('a queue decoder that pushes while pop decodes gets the popped element', needs(), () => {
  let queue: BpfMap<Uint8Array, number> | undefined;
  let pushOnDecode = true;
  const value: Codec<number> = {
    size: 4,
    encode: u32Codec.encode,
    decode(source, offset) {
      const low = source[offset]!;
      if (pushOnDecode) {
        pushOnDecode = false;
        queue!.push(200);
      }
      return low | (u32Codec.decode(source, offset) & ~0xff);
    },
  };
  queue = BpfMap.create({ type: 'queue', keySize: 0, valueSize: 4, maxEntries: 4 }, { value });
  using _queue = queue;
  queue.push(0x1001).push(0x2002);
  assert.equal(queue.pop(), 0x1001);
  assert.equal(queue.pop(), 0x2002);
  assert.equal(queue.pop(), 200);
});
