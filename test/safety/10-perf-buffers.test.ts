/**
 * Perf buffers: close() inside a consume() handler (no crash, no uncoded error, nothing delivered
 * again), consume() nested in a handler refused, and at-least-once delivery of the async
 * iterator: a loop abandoned mid-sample leaves it to the next read of the reader; a consumer
 * process killed mid-sample takes its buffers (and their unread samples) with it, and the map
 * serves the next reader cleanly. Before, close() from a handler threw an uncoded TypeError
 * (a read of the unmapped buffer) and `delivery: 'at-least-once'` was `ERR_BPFMAP_OPTION`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { PerfBuffer, BpfError } from '../../src/index.js';
import { needs, repoRoot, tempDir } from '../helpers.js';
import { FixtureState, loadFixture, runProgram } from '../events/fixtures.js';

/** The fixture's sample: {u64 seq; u32 cpu; u32 magic}. */
function sequence(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  assert.equal(view.getUint32(12, true), 0xfeedbeef);
  return Number(view.getBigUint64(0, true));
}

/** One buffer, on CPU 0 at index 0; the fixture's program runs there (taskset). */
const onCpu0 = { buffers: [{ cpu: 0, index: 0 }] } as const;

test('close() inside a consume() handler: no uncoded error, the loop stops, nothing is delivered again', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const pin = path.join(fixture.maps, 'events');
  const reader = PerfBuffer.open(pin, onCpu0);
  t.after(() => reader.close());
  await runProgram(fixture, 'produce', 4, 0);
  const seen: number[] = [];
  const delivered = reader.consume((data) => {
    seen.push(sequence(data));
    reader.close();
  });
  assert.equal(delivered, 1);
  assert.deepEqual(seen, [0]);
  assert.equal(reader.closed, true);
  assert.throws(() => reader.consume(() => {}), (e: unknown) => e instanceof BpfError && e.code === 'ERR_BPFMAP_CLOSED');
  reader.close(); // idempotent

  // The buffers went with the reader (and its fd left the map): a new reader starts empty.
  using next = PerfBuffer.open(pin, onCpu0);
  assert.equal(next.hasPending(), false);
  await runProgram(fixture, 'produce', 2, 0);
  const rest: number[] = [];
  next.consume((data) => rest.push(sequence(data)));
  assert.deepEqual(rest, [4, 5], 'only what was produced after it opened');
  await runProgram(fixture, 'produce', 1, 0);
  assert.throws(() => next.consume(() => next.consume(() => {})), (e: unknown) => e instanceof BpfError && e.code === 'ERR_BPFMAP_REENTRANT');
  assert.equal(next.hasPending(), false, 'the sample whose handler threw counts as consumed');
});

test('close() inside onLost and inside an at-least-once loop body', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const pin = path.join(fixture.maps, 'events');
  let lostReader: PerfBuffer | undefined;
  const reader = PerfBuffer.open(pin, { ...onCpu0, pagesPerCpu: 1, onLost: () => lostReader?.close() });
  lostReader = reader;
  t.after(() => reader.close());
  // Overflow one page, then one more sample so the kernel writes the lost record.
  await runProgram(fixture, 'produce', 600, 0);
  reader.consume(() => {});
  await runProgram(fixture, 'produce', 1, 0);
  reader.consume(() => {});
  assert.equal(reader.closed, true, 'onLost closed the reader without an error');

  const second = PerfBuffer.open(pin, onCpu0);
  t.after(() => second.close());
  await runProgram(fixture, 'produce', 3, 0);
  const seen: number[] = [];
  for await (const { data } of second.records({ delivery: 'at-least-once', idleTimeoutMs: 2000 })) {
    seen.push(sequence(data));
    second.close();
  }
  assert.equal(seen.length, 1);
  assert.equal(second.closed, true);
});

test('at-least-once: a loop abandoned mid-sample leaves it to the next read; at-most-once does not', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const pin = path.join(fixture.maps, 'events');
  for (const delivery of ['at-least-once', 'at-most-once'] as const) {
    const reader = PerfBuffer.open(pin, onCpu0);
    try {
      const state = new FixtureState(fixture);
      const first = state.get(0);
      state.close();
      await runProgram(fixture, 'produce', 5, 0);
      const loop = reader.records({ delivery, idleTimeoutMs: 2000 });
      const got: number[] = [];
      for (let i = 0; i < 3; i++) got.push(sequence((await loop.next()).value!.data) - first);
      assert.deepEqual(got, [0, 1, 2]);
      // The loop is never resumed (its consumer gave up on it mid-record): the next read decides.
      const rest: number[] = [];
      reader.consume((data) => rest.push(sequence(data) - first));
      assert.deepEqual(rest, delivery === 'at-least-once' ? [2, 3, 4] : [3, 4], delivery);
      assert.equal(reader.hasPending(), false);
    } finally {
      reader.close();
    }
  }
});

/** A perf consumer that says when its buffers are in the map, prints each sample, and dies (SIGKILL) mid-work on `killAt`. */
const killedConsumer = `
  import { PerfBuffer } from 'bpfmap';
  import { writeSync } from 'node:fs';
  const [pin, killAt] = process.argv.slice(2);
  const reader = PerfBuffer.open(pin, { buffers: [{ cpu: 0, index: 0 }] });
  writeSync(1, 'ready\\n');
  for await (const { data } of reader.records({ delivery: 'at-least-once', idleTimeoutMs: 5000 })) {
    const seq = Number(new DataView(data.buffer, data.byteOffset).getBigUint64(0, true));
    writeSync(1, seq + '\\n');
    if (seq === Number(killAt)) {
      await new Promise((resolve) => setTimeout(resolve, 5)); // mid-work
      process.kill(process.pid, 'SIGKILL');
    }
  }
`;

test('a perf consumer killed mid-sample: its unread samples die with its buffers, and the next reader starts clean', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const pin = path.join(fixture.maps, 'events');
  const file = path.join(tempDir(t, 'safety-js-perf'), 'child.mjs');
  writeFileSync(file, killedConsumer.replaceAll("'bpfmap'", JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))));
  const child = spawn(process.execPath, [file, pin, '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('ready\n')) resolve();
    });
  });
  const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await Promise.race([ready, exited]);
  assert.ok(stdout.startsWith('ready\n'), `the consumer opened its buffers: ${stderr}`);
  await runProgram(fixture, 'produce', 8, 0);
  assert.equal(await exited, 'SIGKILL', stderr);
  assert.deepEqual(stdout.trim().split('\n').slice(1).map(Number), [0, 1, 2, 3]);

  // Its perf events were closed with it, and the kernel dropped them from the map: a reader
  // opened now has its own, empty buffers; samples 3 to 7 are gone in any delivery mode.
  using next = PerfBuffer.open(pin, onCpu0);
  assert.equal(next.hasPending(), false);
  await runProgram(fixture, 'produce', 2, 0);
  const rest: number[] = [];
  for await (const { data } of next.records({ delivery: 'at-least-once', idleTimeoutMs: 500 })) rest.push(sequence(data));
  assert.deepEqual(rest, [8, 9]);
});
