/** Records the producer discards are skipped; the ones around them arrive in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RingBuffer } from '../../src/index.js';
import { needs } from '../helpers.js';
import { FixtureState, eventSequence, loadFixture, runProgram } from './fixtures.js';

test('discarded ring buffer records are skipped', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, 150); // fits in one page: 150 * 24 bytes
  state.set(3, 3); // discard 0, 3, 6, ...
  using events = RingBuffer.open(path.join(fixture.maps, 'events'));
  await runProgram(fixture, 'produce', 150);
  const seen: number[] = [];
  assert.equal(events.consume((data) => seen.push(eventSequence(data))), 100);
  const expected = Array.from({ length: 150 }, (_, i) => i).filter((i) => i % 3 !== 0);
  assert.deepEqual(seen, expected);
  assert.equal(events.pendingBytes, 0, 'discarded records were consumed too');
});
