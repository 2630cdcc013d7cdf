/**
 * Lookups and updates under a value's bpf_spin_lock (BPF_F_LOCK): a program adds 1 to two
 * counters under the lock while bpfmap reads and writes them with 'lock', so every read sees
 * the two equal. Maps without a lock in their BTF value refuse the flag with an explanation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, BpfError } from '../../src/index.js';
import { bpftoolJson, needs, u32le } from '../helpers.js';
import { loadFixture, runProgram } from '../events/fixtures.js';

/** The fixture's value: {bpf_spin_lock lock; u32 pad; u64 a; u64 b}. */
function locked(a: bigint, b: bigint, lockBytes = 0): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, lockBytes, true);
  view.setBigUint64(8, a, true);
  view.setBigUint64(16, b, true);
  return bytes;
}

function counters(bytes: Uint8Array): { lock: number; a: bigint; b: bigint } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { lock: view.getUint32(0, true), a: view.getBigUint64(8, true), b: view.getBigUint64(16, true) };
}

test("get and set with 'lock' read and write under the value's bpf_spin_lock", needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'spin_lock');
  const pin = path.join(fixture.maps, 'counters');
  using map = BpfMap.openPinned(pin);
  const key = u32le(1);
  // The lock's bytes in what is written are ignored: the kernel never copies a lock.
  map.set(key, locked(5n, 5n, 0xaaaaaaaa), 'lock');
  assert.deepEqual(counters(map.get(key, 'lock')!), { lock: 0, a: 5n, b: 5n });
  const dump = bpftoolJson<Array<{ formatted: { value: { a: number; b: number } } }>>('map', 'dump', 'pinned', pin);
  assert.deepEqual([dump[0]!.formatted.value.a, dump[0]!.formatted.value.b], [5, 5]);

  // The program bumps both counters under the lock while we read and write under it too.
  const producing = runProgram(fixture, 'bump', 2_000_000);
  let done = false;
  void producing.finally(() => (done = true));
  const target = new Uint8Array(24);
  let reads = 0;
  let changes = 0;
  let previous = -1n;
  for (let round = 0; !done || round === 0; round++) {
    assert.equal(map.getInto(key, target, 'lock'), true);
    const { a, b } = counters(target);
    assert.equal(a, b, `read ${reads}: a locked read sees both counters updated together`);
    if (previous >= 0n && a !== previous) changes++;
    previous = a;
    reads++;
    if (round % 1000 === 999) {
      map.set(key, locked(a + 1000n, a + 1000n), 'lock');
      previous = -1n;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await producing;
  assert.ok(changes > 0, 'the reads overlapped the program: they saw its increments land');
  const end = counters(map.get(key, 'lock')!);
  assert.equal(end.a, end.b);
  // (No exact total: a locked write replaces whatever the program added since the read before it.)
  assert.ok(end.a > 5n);
  t.diagnostic(`${reads} locked reads, ${changes} of them saw the program's increments`);
});

test("'lock' on a map without a spin lock is EINVAL that says why; unknown flags never reach the kernel", needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
  map.set(u32le(1), new Uint8Array(8));
  assert.throws(() => map.get(u32le(1), 'lock'), (error: unknown) =>
    error instanceof BpfError && error.code === 'EINVAL' && /flag 'lock' needs a value type .* that holds a struct bpf_spin_lock: this map has no BTF/.test(error.message));
  assert.throws(() => map.set(u32le(1), new Uint8Array(8), 'lock'), (error: unknown) =>
    error instanceof BpfError && error.code === 'EINVAL' && error.command === 'MAP_UPDATE_ELEM' && /holds a struct bpf_spin_lock: this map has no BTF/.test(error.message));
  assert.throws(() => map.get(u32le(1), 'locked' as 'lock'), (error: unknown) =>
    error instanceof TypeError && (error as TypeError & { code: string }).code === 'ERR_BPFMAP_FLAGS');
});
