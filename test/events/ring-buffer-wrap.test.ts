/**
 * The consumer position passes 2^32: 140k records of 32 KiB each (4.6 GB of positions) through a
 * 256 KiB ring. Past 4 GiB the consumer must store the whole u64 position; a torn or stale high
 * word would make the kernel see the ring as full forever (the producer stalls) or as emptier
 * than it is (records are overwritten before they are read, and their check words break).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RingBuffer } from '../../src/index.js';
import { needs } from '../helpers.js';
import { FixtureState, loadFixture, runProgram } from './fixtures.js';

const SPAN = 32 * 1024;
const TOTAL = 140_000;

test('positions past 4 GiB: every record arrives once, in order, and the producer never stalls', needs('clang', 'bpftool'), async (t) => {
  assert.ok(TOTAL * SPAN > 2 ** 32, 'the test crosses 4 GiB');
  const fixture = loadFixture(t, 'events_wrap');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, TOTAL);
  const events = RingBuffer.open(path.join(fixture.maps, 'events'));
  t.after(() => events.close());
  assert.equal(events.capacity, 256 * 1024);

  let stopped = false;
  const producing = (async () => {
    while (!stopped && state.get(0) < TOTAL) await runProgram(fixture, 'produce', 500_000);
  })();
  let failure: unknown;
  void producing.catch((error: unknown) => (failure = error));

  let expected = 0;
  let spins = 0;
  const deadline = Date.now() + 120_000;
  while (expected < TOTAL && failure === undefined && Date.now() < deadline) {
    const consumed = events.consumeViews((record) => {
      assert.equal(record.length, SPAN - 8);
      const seq = record.u64(0);
      if (seq !== BigInt(expected) || (seq ^ record.u64(8)) !== 0xffff_ffff_ffff_ffffn) {
        assert.fail(`expected record ${expected}, got seq ${seq} check ${record.u64(8).toString(16)}`);
      }
      expected++;
    });
    if (consumed === 0 && ++spins % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  // A stalled producer would loop forever: stop it, so a failure fails instead of hanging.
  stopped = true;
  await producing;
  assert.equal(expected, TOTAL, `records read before the deadline (producer at ${state.get(0)})`);
  assert.equal(events.pendingBytes, 0, 'the consumer position caught up with the producer past 4 GiB');
  assert.equal(events.consume(() => assert.fail('no record beyond TOTAL')), 0);
  t.diagnostic(`full-ring reservations: ${state.get(2)}, bytes through the ring: ${(TOTAL * SPAN / 2 ** 30).toFixed(2)} GiB`);
});
