/**
 * The async iterator waits on the map fd through libuv: timers keep firing while it waits and
 * while it delivers; close() ends a pending wait; several ring buffers can be read at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RingBuffer, mergeEventReaders } from '../../src/index.js';
import { needs } from '../helpers.js';
import { FixtureState, eventSequence, loadFixture, runProgram } from './fixtures.js';

test('the async iterator delivers while the event loop serves timers', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  const total = 2000;
  state.set(1, total);
  using events = RingBuffer.open(path.join(fixture.maps, 'events'));

  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  t.after(() => clearInterval(timer));
  // Start producing only after the iterator is waiting, in small runs with pauses between.
  const producing = (async () => {
    await sleep(50);
    while (state.get(0) < total) {
      await runProgram(fixture, 'produce', 100);
      await sleep(10);
    }
  })();

  let expected = 0;
  const ticksAtStart = ticks;
  for await (const { cpu, data } of events.records({ count: total, idleTimeoutMs: 20_000 })) {
    assert.equal(cpu, undefined);
    assert.equal(eventSequence(data as Uint8Array), expected++);
  }
  await producing;
  assert.equal(expected, total);
  assert.ok(ticks - ticksAtStart >= 10, `timers ran ${ticks - ticksAtStart} times while iterating`);
});

test('close() ends an iterator that is waiting', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const events = RingBuffer.open(path.join(fixture.maps, 'events'));
  const received: unknown[] = [];
  const iterating = (async () => {
    for await (const record of events) received.push(record);
  })();
  await sleep(30);
  events.close();
  await iterating;
  assert.deepEqual(received, []);
});

test('an abort signal and an idle timeout end the iterator', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  using events = RingBuffer.open(path.join(fixture.maps, 'events'));
  const started = Date.now();
  for await (const _ of events.records({ signal: AbortSignal.timeout(40) })) assert.fail('no events expected');
  for await (const _ of events.records({ idleTimeoutMs: 40 })) assert.fail('no events expected');
  assert.ok(Date.now() - started >= 70);
});

test('poll() waits for records with a timeout', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  using events = RingBuffer.open(path.join(fixture.maps, 'events'));
  const started = Date.now();
  assert.equal(events.poll(50, () => assert.fail('nothing to read')), 0);
  assert.ok(Date.now() - started >= 45);
  state.set(1, 5);
  await runProgram(fixture, 'produce', 5);
  assert.equal(events.poll(1000, () => {}), 5);
});

test('pollViews() waits like poll() and hands over zero-copy views in order', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  using events = RingBuffer.open(path.join(fixture.maps, 'events'));
  const started = Date.now();
  assert.equal(events.pollViews(50, () => assert.fail('nothing to read')), 0);
  assert.ok(Date.now() - started >= 45);
  state.set(1, 7);
  await runProgram(fixture, 'produce', 7);
  const seen: bigint[] = [];
  assert.equal(events.pollViews(1000, (view) => {
    assert.equal(view.length, 16);
    assert.equal(view.u64(8), ~view.u64(0) & 0xffffffffffffffffn, 'check word is ~seq');
    seen.push(view.u64(0));
  }), 7);
  assert.deepEqual(seen, [0n, 1n, 2n, 3n, 4n, 5n, 6n]);
  assert.equal(events.pollViews(20, () => assert.fail('all consumed')), 0);
});

test('two ring buffers read as one stream', needs('clang', 'bpftool'), async (t) => {
  const first = loadFixture(t, 'events_ringbuf');
  const second = loadFixture(t, 'events_ringbuf');
  const states = [new FixtureState(first), new FixtureState(second)];
  t.after(() => states.forEach((s) => s.close()));
  states[0]!.set(1, 30);
  states[1]!.set(1, 20);
  const readers = [RingBuffer.open(path.join(first.maps, 'events')), RingBuffer.open(path.join(second.maps, 'events'))];
  t.after(() => readers.forEach((r) => r.close()));
  const producing = Promise.all([runProgram(first, 'produce', 30), runProgram(second, 'produce', 20)]);
  const perSource = [[], []] as number[][];
  let count = 0;
  for await (const { source, data } of mergeEventReaders(readers)) {
    perSource[source]!.push(eventSequence(data));
    if (++count === 50) break;
  }
  await producing;
  assert.deepEqual(perSource[0], Array.from({ length: 30 }, (_, i) => i));
  assert.deepEqual(perSource[1], Array.from({ length: 20 }, (_, i) => i));
});
