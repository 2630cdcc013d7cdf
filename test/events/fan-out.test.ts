/**
 * subscribeEvents: several subscribers of one ring buffer in one process share one consumer and
 * each gets every record; a full 'wait' queue holds the shared consumer (and so every subscriber)
 * back until it is read, a full 'drop' queue counts what it missed while the others go on; the
 * last subscriber to leave closes the reader, so the map can be read again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, RingBuffer } from '../../src/index.js';
import { eventSubscribers, subscribeEvents, type EventSubscription } from '../../src/events/fan-out.js';
import { needs } from '../helpers.js';
import { FixtureState, loadFixture, runProgram } from './fixtures.js';

/** Reads `count` records' sequence numbers from a subscription. */
async function take(subscription: EventSubscription<Uint8Array>, count: number): Promise<number[]> {
  const seqs: number[] = [];
  if (count === 0) return seqs;
  for await (const { data } of subscription) {
    seqs.push(Number(new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true)));
    if (seqs.length === count) break;
  }
  return seqs;
}

const settle = (ms = 50): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('subscribers of one ring buffer share one consumer and each gets every record; backpressure per subscriber', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  using map = BpfMap.openPinned(path.join(fixture.maps, 'events'));
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  const open = (): RingBuffer => RingBuffer.open(map);

  // Two readers, and one that never reads and drops what does not fit its 10-record queue.
  const a = subscribeEvents(map.id, open);
  const b = subscribeEvents(map.id, open);
  const dropper = subscribeEvents(map.id, open, { whenFull: 'drop', maxQueued: 10 });
  t.after(() => [a, b, dropper].forEach((s) => s.close()));
  assert.equal(eventSubscribers(map.id), 3);
  // The one consumer holds the map: a RingBuffer of its own is refused in this process.
  assert.throws(() => RingBuffer.open(map), { code: 'ERR_BPFMAP_IN_USE' });

  const total = 300;
  state.set(1, total);
  const reading = Promise.all([take(a, total), take(b, total)]);
  while (state.get(0) < total) await runProgram(fixture, 'produce', total - state.get(0));
  const [seqsA, seqsB] = await reading;
  const all = Array.from({ length: total }, (_, i) => i);
  assert.deepEqual(seqsA, all, 'the first subscriber got every record in order');
  assert.deepEqual(seqsB, all, 'the second too');
  assert.equal(dropper.queued, 10);
  assert.equal(dropper.dropped, total - 10, 'the full drop queue counted the rest');
  assert.deepEqual(await take(dropper, 10), all.slice(0, 10), 'and kept the first ten');
  a.close();
  b.close();
  dropper.close();
  assert.equal(eventSubscribers(map.id), 0);

  // A 'wait' subscriber that does not read holds the shared consumer back once its queue is full.
  const slow = subscribeEvents(map.id, open, { maxQueued: 5 });
  const fast = subscribeEvents(map.id, open);
  state.set(0, 0);
  state.set(1, 50);
  while (state.get(0) < 50) await runProgram(fixture, 'produce', 50 - state.get(0));
  await settle(200);
  assert.equal(slow.queued, 5, 'the slow queue is full');
  assert.ok(fast.queued <= 6, `the fast subscriber got no more than the slow one holds (+1 in hand): ${fast.queued}`);
  const fastSeqs = take(fast, 50);
  assert.deepEqual(await take(slow, 50), Array.from({ length: 50 }, (_, i) => i), 'reading the slow one lets everything through');
  assert.deepEqual(await fastSeqs, Array.from({ length: 50 }, (_, i) => i));
  assert.equal(slow.dropped + fast.dropped, 0, 'nothing was lost');

  // Leaving a subscription's loop closes it; the last subscriber leaving closes the reader, and
  // the map is free to read again.
  assert.equal(slow.closed && fast.closed, true);
  assert.equal(eventSubscribers(map.id), 0);
  using again = RingBuffer.open(map);
  assert.equal(again.closed, false);
});

test('subscribeEvents refuses bad options with a code, and opens nothing', () => {
  let opened = 0;
  const open = (): never => {
    opened++;
    throw new Error('not reached');
  };
  assert.throws(() => subscribeEvents(0, open), { code: 'ERR_BPFMAP_OPTION' });
  assert.throws(() => subscribeEvents(1, open, { maxQueued: 0 }), { code: 'ERR_BPFMAP_OPTION' });
  assert.throws(() => subscribeEvents(1, open, { whenFull: 'later' as 'wait' }), { code: 'ERR_BPFMAP_OPTION' });
  assert.equal(opened, 0);
});
