import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, BpfError, lpmKeyCodec, MapType } from '../../src/index.js';
import { needs, pinDir, u32le, readU32, buildBpfObject, loadBpfObject, bpftoolJson } from '../helpers.js';

test('lpm_trie: get is the longest-prefix match', needs(), () => {
  using trie = BpfMap.create(
    { type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 16, flags: ['NO_PREALLOC'] },
    { key: lpmKeyCodec(4) },
  );
  trie.set({ prefixLen: 8, data: Uint8Array.of(10, 0, 0, 0) }, u32le(8));
  trie.set({ prefixLen: 24, data: Uint8Array.of(10, 1, 2, 0) }, u32le(24));
  trie.set({ prefixLen: 32, data: Uint8Array.of(10, 1, 2, 3) }, u32le(32));
  const lookup = (a: number, b: number, c: number, d: number) => {
    const value = trie.get({ prefixLen: 32, data: Uint8Array.of(a, b, c, d) });
    return value === undefined ? undefined : readU32(value);
  };
  assert.equal(lookup(10, 1, 2, 3), 32);
  assert.equal(lookup(10, 1, 2, 99), 24);
  assert.equal(lookup(10, 9, 9, 9), 8);
  assert.equal(lookup(11, 0, 0, 0), undefined);
  // lpm tries have no batch support: iteration falls back to next-key walks.
  const prefixes = [...trie.keys()].map((k) => k.prefixLen).sort((a, b) => a - b);
  assert.deepEqual(prefixes, [8, 24, 32]);
  assert.throws(() => trie.set({ prefixLen: 33, data: new Uint8Array(4) }, u32le(0)), /prefixLen expected an integer from 0 to 32/);
  assert.equal(trie.delete({ prefixLen: 24, data: Uint8Array.of(10, 1, 2, 0) }), true);
  assert.equal(lookup(10, 1, 2, 99), 8);
});

test('queue: push, peek, pop in FIFO order; full queue is E2BIG unless exist', needs(), () => {
  using queue = BpfMap.create({ type: 'queue', keySize: 0, valueSize: 4, maxEntries: 3 });
  queue.push(u32le(1)).push(u32le(2)).push(u32le(3));
  assert.throws(() => queue.push(u32le(4)), (e: unknown) => e instanceof BpfError && e.code === 'E2BIG');
  queue.push(u32le(4), 'exist');
  assert.equal(readU32(queue.peek()!), 2);
  assert.deepEqual([queue.pop(), queue.pop(), queue.pop()].map((v) => readU32(v!)), [2, 3, 4]);
  assert.equal(queue.pop(), undefined);
  assert.equal(queue.peek(), undefined);
});

test('stack: LIFO order and clear', needs(), () => {
  using stack = BpfMap.create({ type: 'stack', keySize: 0, valueSize: 4, maxEntries: 4 });
  stack.push(u32le(1)).push(u32le(2));
  assert.equal(readU32(stack.pop()!), 2);
  stack.push(u32le(3));
  stack.clear();
  assert.equal(stack.pop(), undefined);
});

test('bloom_filter: add and has, with map_extra hashes', needs(), () => {
  using bloom = BpfMap.create({ type: 'bloom_filter', keySize: 0, valueSize: 4, maxEntries: 100, mapExtra: 3 });
  assert.equal(bloom.info.mapExtra, 3n);
  for (let i = 0; i < 50; i++) bloom.add(u32le(i * 2));
  for (let i = 0; i < 50; i++) assert.equal(bloom.has(u32le(i * 2)), true, `added ${i * 2} must be reported`);
  let falsePositives = 0;
  for (let i = 0; i < 50; i++) if (bloom.mayContain(u32le(i * 2 + 1))) falsePositives++;
  assert.ok(falsePositives < 25, `a bloom filter says no to most absent values (${falsePositives}/50 false positives)`);
  assert.throws(() => bloom.add(new Uint8Array(3)), /value expected 4 bytes, got 3/);
});

for (const outer of ['array_of_maps', 'hash_of_maps'] as const) {
  test(`${outer}: set with a BpfMap or fd, get the id, open the inner map`, needs(), () => {
    using template = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 });
    using inner = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 2, name: 'inner_a' });
    inner.set(u32le(1), u32le(77));
    using outerMap = BpfMap.create({ type: outer, keySize: 4, valueSize: 4, maxEntries: 4, innerMap: template });
    outerMap.setInnerMap(u32le(0), inner);
    outerMap.setFd(u32le(1), inner.fd);
    assert.equal(outerMap.getId(u32le(0)), inner.id);
    assert.equal(outerMap.getId(u32le(1)), inner.id);
    assert.equal(outerMap.getId(u32le(3)), undefined);
    using opened = outerMap.openInnerMap(u32le(0))!;
    assert.equal(opened.name, 'inner_a');
    assert.equal(readU32(opened.get(u32le(1))!), 77);
    assert.throws(() => outerMap.setFd(u32le(2), 'x' as unknown as number), /expected a BpfMap or an fd/);
    assert.throws(() => template.setFd(u32le(0), 3), /setFd needs a map whose values are fds/);
    assert.throws(() => template.getId(u32le(0)), /needs an array_of_maps, hash_of_maps or prog_array/);
  });
}

test('prog_array: set a program fd, get its id', needs('clang', 'bpftool'), async (t) => {
  const dir = pinDir(t, 'progarray');
  const { progs } = loadBpfObject(buildBpfObject('core_prog'), dir);
  const { native } = await import('../../src/sys/native.js');
  const prog = native.objGet(path.join(progs, 'pass_all'), 0);
  assert.notEqual(typeof prog, 'number');
  t.after(() => native.objClose(prog as Exclude<typeof prog, number>));
  const progFd = native.objPublicFd(prog as Exclude<typeof prog, number>);
  assert.ok(progFd > 2);
  const progInfo = bpftoolJson<{ id: number }>('prog', 'show', 'pinned', path.join(progs, 'pass_all'));
  assert.throws(() => BpfMap.openPinned(path.join(progs, 'pass_all')), (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'ERR_BPFMAP_NOT_A_MAP' && /is not a BPF map: it is a BPF prog/.test(e.message));
  assert.throws(() => BpfMap.fromFd(progFd), /is not a BPF map/);
  assert.throws(() => BpfMap.fromFd(0), /is not a BPF map/);
  using jumps = BpfMap.create({ type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 4 });
  jumps.setFd(u32le(2), progFd);
  assert.equal(jumps.getId(u32le(2)), progInfo.id);
  assert.equal(jumps.delete(u32le(2)), true);
  assert.equal(jumps.getId(u32le(2)), undefined);
});

test('ringbuf and user_ringbuf can be created, pinned and reopened', needs(), (t) => {
  const dir = pinDir(t, 'rb');
  for (const type of ['ringbuf', 'user_ringbuf'] as const) {
    using ring = BpfMap.create({ type, keySize: 0, valueSize: 0, maxEntries: 4096 * 4 });
    ring.pin(path.join(dir, type));
    using reopened = BpfMap.openPinned(path.join(dir, type));
    assert.equal(reopened.type, MapType[type]);
    assert.equal(reopened.maxEntries, 16384);
  }
});
