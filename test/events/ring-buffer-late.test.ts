/**
 * A consumer started after the producer reads the backlog; a second consumer continues where
 * the first stopped (the consumer position is stored in the map, not kept in the reader).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, RingBuffer } from '../../src/index.js';
import { needs } from '../helpers.js';
import { FixtureState, eventSequence, loadFixture, runProgram } from './fixtures.js';

test('a late consumer reads the backlog, and a second one resumes after the first', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, 120);
  await runProgram(fixture, 'produce', 1000);
  assert.equal(state.get(0), 120);

  const map = BpfMap.openPinned(path.join(fixture.maps, 'events'));
  t.after(() => map.close());
  const first = RingBuffer.open(map);
  const seen: number[] = [];
  assert.equal(first.consume((data) => seen.push(eventSequence(data)), 50), 50);
  first.close();
  assert.equal(first.closed, true);
  assert.throws(() => first.consume(() => {}), { code: 'ERR_BPFMAP_CLOSED' });

  using second = RingBuffer.open(map);
  assert.equal(second.pendingBytes, 70 * 24);
  assert.equal(second.consume((data) => seen.push(eventSequence(data))), 70);
  assert.deepEqual(seen, Array.from({ length: 120 }, (_, i) => i));
});

test('a handler that throws consumes its record once', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, 3);
  await runProgram(fixture, 'produce', 3);
  using events = RingBuffer.open(path.join(fixture.maps, 'events'));
  assert.throws(() => events.consume(() => { throw new Error('boom'); }), /boom/);
  const rest: number[] = [];
  events.consume((data) => rest.push(eventSequence(data)));
  assert.deepEqual(rest, [1, 2]);
});
