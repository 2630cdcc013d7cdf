/**
 * Records written by bpfmap into a user ring buffer are drained by a BPF program
 * (bpf_user_ringbuf_drain) that checks and counts them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { UserRingBuffer, RingBuffer } from '../../src/index.js';
import { needs } from '../helpers.js';
import { FixtureState, loadFixture, runProgram } from './fixtures.js';

/** A record {u64 seq; u64 ~seq} followed by `extra` filler bytes. */
function numbered(seq: number, extra = 0): Uint8Array {
  const bytes = new Uint8Array(16 + extra).fill(0xab);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(seq), true);
  view.setBigUint64(8, ~BigInt(seq) & 0xffff_ffff_ffff_ffffn, true);
  return bytes;
}

test('records written to a user ring buffer are drained by a BPF program', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  using requests = UserRingBuffer.open(path.join(fixture.maps, 'requests'));
  assert.equal(requests.capacity, 4096);

  // Many rounds through a one-page ring: every wraparound must keep records intact.
  let written = 0;
  let sum = 0;
  let bytes = 0;
  for (let round = 0; round < 40; round++) {
    while (true) {
      const extra = written % 13; // odd lengths exercise the 8-byte padding
      if (!requests.fits(16 + extra)) break;
      requests.write(numbered(written, extra));
      sum += written;
      bytes += 16 + extra;
      written++;
    }
    assert.throws(() => requests.write(numbered(written, 64)), { code: 'ENOSPC' });
    await runProgram(fixture, 'drain', 1);
    assert.equal(state.get(2), 0, 'no record was malformed');
    assert.equal(state.get(0), written, `round ${round}: every record was drained`);
    assert.equal(requests.freeBytes, requests.capacity);
  }
  assert.equal(state.get(1), sum);
  assert.equal(state.get(3), bytes);
  assert.equal(state.get(5), written - 1);
  assert.ok(written > 40 * 100);
});

test('reserve/submit/discard: discarded records are skipped, out-of-order commits wait', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  using requests = UserRingBuffer.open(path.join(fixture.maps, 'requests'));

  const first = requests.reserve(16);
  const second = requests.reserve(24);
  const third = requests.reserve(16);
  first.data.set(numbered(1));
  second.data.set(numbered(999, 8));
  third.data.set(numbered(2));
  third.submit();
  second.discard();
  // The first record is still busy: the program must not get past it.
  await runProgram(fixture, 'drain', 1);
  assert.equal(state.get(0), 0);
  first.submit();
  await runProgram(fixture, 'drain', 1);
  assert.equal(state.get(0), 2);
  assert.equal(state.get(1), 3);
  assert.equal(state.get(2), 0);
  assert.throws(() => first.submit(), { code: 'ERR_BPFMAP_RESERVATION' });
  assert.throws(() => requests.reserve(0), { code: 'ERR_BPFMAP_RECORD_SIZE' });
  assert.throws(() => requests.reserve(4096), { code: 'ERR_BPFMAP_RECORD_SIZE' });
  assert.equal(requests.reserve(4088).data.length, 4088); // the largest record fits an empty ring
});

test('writeWhenFree waits for the program to drain', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  using requests = UserRingBuffer.open(path.join(fixture.maps, 'requests'));
  let seq = 0;
  while (requests.fits(16)) requests.write(numbered(seq++));
  const waiting = requests.writeWhenFree(numbered(seq), { timeoutMs: 10_000 });
  setTimeout(() => void runProgram(fixture, 'drain', 1), 30);
  await waiting;
  await runProgram(fixture, 'drain', 1);
  assert.equal(state.get(0), seq + 1);
  await assert.rejects(
    (async () => {
      while (requests.fits(16)) requests.write(numbered(++seq));
      await requests.writeWhenFree(numbered(++seq), { timeoutMs: 30 });
    })(),
    { code: 'ENOSPC' },
  );
});

test('the readers check the map type', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  assert.throws(() => RingBuffer.open(path.join(fixture.maps, 'requests')), { code: 'ERR_BPFMAP_OPERATION', message: /needs a ringbuf map; 'requests' is user_ringbuf/ });
  assert.throws(() => UserRingBuffer.open(path.join(fixture.maps, 'state')), { code: 'ERR_BPFMAP_OPERATION' });
});
