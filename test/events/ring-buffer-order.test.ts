/**
 * Every one of 100k numbered events arrives exactly once and in order through a ring buffer of
 * one page (many wraparounds), consumed while bpftool produces in another process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RingBuffer } from '../../src/index.js';
import { needs } from '../helpers.js';
import { FixtureState, eventSequence, loadFixture, runProgram } from './fixtures.js';

const TOTAL = 100_000;

test('100k events through a one-page ring buffer arrive once each, in order', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, TOTAL);
  const events = RingBuffer.open(path.join(fixture.maps, 'events'));
  t.after(() => events.close());
  assert.equal(events.capacity, 4096);

  // Produce in another process until the sequence reaches TOTAL; full-ring failures do not
  // use up sequence numbers, so the consumer must see 0..TOTAL-1 whatever the timing.
  let producerRuns = 0;
  const producing = (async () => {
    while (state.get(0) < TOTAL) {
      await runProgram(fixture, 'produce', 200_000);
      producerRuns++;
    }
  })();

  let expected = 0;
  let spins = 0;
  const deadline = Date.now() + 60_000;
  while (expected < TOTAL && Date.now() < deadline) {
    const consumed = events.consume((data) => {
      const seq = eventSequence(data);
      if (seq !== expected) assert.fail(`expected event ${expected}, got ${seq}`);
      expected++;
    });
    // Let the producer's child-process bookkeeping run now and then.
    if (consumed === 0 && ++spins % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await producing;
  assert.equal(expected, TOTAL);
  assert.equal(events.consume(() => assert.fail('no event beyond TOTAL')), 0);
  assert.ok(state.get(2) > 0, 'the ring filled up at least once (the test exercised back-pressure)');
  t.diagnostic(`producer runs: ${producerRuns}, full-ring reservations: ${state.get(2)}, wraparounds: ${Math.floor((TOTAL * 24) / 4096)}`);
});
