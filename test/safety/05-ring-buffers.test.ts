/**
 * Ring buffers: an abandoned UserRingBuffer reservation does not block the ring, one producer
 * and one consumer per map, close() from inside a consume() handler, and at-least-once delivery
 * of the async iterator checked by killing consumers mid-record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { UserRingBuffer, RingBuffer, BpfError } from '../../src/index.js';
import { needs, repoRoot, tempDir } from '../helpers.js';
import { FixtureState, eventSequence, loadFixture, runProgram } from '../events/fixtures.js';

function numbered(seq: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(seq), true);
  view.setBigUint64(8, ~BigInt(seq) & 0xffff_ffff_ffff_ffffn, true);
  return bytes;
}

const inUse = (e: unknown): boolean => e instanceof BpfError && e.code === 'ERR_BPFMAP_IN_USE' && /already has an open/.test(e.message);

/** Runs a node script (ESM, with `bpfmap` meaning this build) and resolves with its stdout and how it ended. */
function runNode(t: import('node:test').TestContext, source: string, args: string[]): Promise<{ stdout: string; signal: string | null; code: number | null }> {
  const file = path.join(tempDir(t, 'safety-js'), 'child.mjs');
  writeFileSync(file, source.replaceAll("'bpfmap'", JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null) reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve({ stdout, signal, code });
    });
  });
}

test('close() discards an abandoned reservation: a using scope that throws does not block the ring', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  const pin = path.join(fixture.maps, 'requests');
  let reservation: ReturnType<UserRingBuffer['reserve']> | undefined;
  assert.throws(() => {
    using requests = UserRingBuffer.open(pin);
    reservation = requests.reserve(16);
    throw new Error('the work failed');
  }, /the work failed/);
  assert.throws(() => reservation!.submit(), (e: unknown) => (e as { code?: string }).code === 'ERR_BPFMAP_RESERVATION' && /closed/.test((e as Error).message));
  using requests = UserRingBuffer.open(pin);
  requests.write(numbered(7));
  await runProgram(fixture, 'drain', 1);
  assert.equal(state.get(0), 1, 'the record after the abandoned one was drained');
  assert.equal(state.get(1), 7);
  assert.equal(state.get(2), 0, 'the abandoned record was skipped, not read');
});

test('a producer that died with a reservation open does not block the next one', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_user_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  const pin = path.join(fixture.maps, 'requests');
  const child = await runNode(t, `
    import { UserRingBuffer } from 'bpfmap';
    const requests = UserRingBuffer.open(process.argv[2]);
    requests.reserve(16);
    process.kill(process.pid, 'SIGKILL');
  `, [pin]);
  assert.equal(child.signal, 'SIGKILL');
  using requests = UserRingBuffer.open(pin);
  requests.write(numbered(5));
  await runProgram(fixture, 'drain', 1);
  assert.equal(state.get(0), 1);
  assert.equal(state.get(1), 5);
});

test('one producer and one consumer per map in a process', needs('clang', 'bpftool'), (t) => {
  const users = loadFixture(t, 'events_user_ringbuf');
  const pin = path.join(users.maps, 'requests');
  const first = UserRingBuffer.open(pin);
  assert.throws(() => UserRingBuffer.open(pin), inUse);
  first.close();
  UserRingBuffer.open(pin).close();

  const events = loadFixture(t, 'events_ringbuf');
  const ring = path.join(events.maps, 'events');
  const reader = RingBuffer.open(ring);
  assert.throws(() => RingBuffer.open(ring), inUse);
  reader.close();
  RingBuffer.open(ring).close();
});

test('close() inside a consume() handler: no uncoded error, and the record is not delivered again', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, 4);
  await runProgram(fixture, 'produce', 4);
  const pin = path.join(fixture.maps, 'events');
  const reader = RingBuffer.open(pin);
  const seen: number[] = [];
  const delivered = reader.consume((data) => {
    seen.push(eventSequence(data));
    reader.close();
  });
  assert.equal(delivered, 1);
  assert.deepEqual(seen, [0]);
  assert.equal(reader.closed, true);
  assert.throws(() => reader.consume(() => {}), (e: unknown) => e instanceof BpfError && e.code === 'ERR_BPFMAP_CLOSED');
  using next = RingBuffer.open(pin);
  const rest: number[] = [];
  next.consume((data) => rest.push(eventSequence(data)), 2);
  assert.deepEqual(rest, [1, 2], 'record 0 was consumed once');
  assert.throws(() => next.consume(() => next.consume(() => {})), (e: unknown) => e instanceof BpfError && e.code === 'ERR_BPFMAP_REENTRANT');
});

/** A consumer that prints each sequence number it gets, then dies (SIGKILL) while "working" on `killAt`. */
const killedConsumer = `
  import { RingBuffer } from 'bpfmap';
  import { writeSync } from 'node:fs';
  const [pin, killAt, delivery] = process.argv.slice(2);
  const reader = RingBuffer.open(pin);
  for await (const { data } of reader.records({ delivery, idleTimeoutMs: 2000 })) {
    const seq = Number(new DataView(data.buffer, data.byteOffset).getBigUint64(0, true));
    writeSync(1, seq + '\\n');
    if (seq === Number(killAt)) {
      await new Promise((resolve) => setTimeout(resolve, 5)); // mid-work
      process.kill(process.pid, 'SIGKILL');
    }
  }
`;

test('at-least-once (the default): consumers killed mid-record lose nothing', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  const total = 60;
  state.set(1, total);
  await runProgram(fixture, 'produce', total);
  const pin = path.join(fixture.maps, 'events');
  const handled = new Set<number>();
  let next = 0;
  for (const killAt of [4, 17, 18, 41]) {
    const child = await runNode(t, killedConsumer, [pin, String(killAt), 'at-least-once']);
    assert.equal(child.signal, 'SIGKILL');
    const got = child.stdout.trim().split('\n').map(Number);
    assert.equal(got[0], next, 'the reader after a kill starts with the record the killed one was working on');
    assert.equal(got.at(-1), killAt);
    for (const seq of got) handled.add(seq);
    next = killAt;
  }
  using last = RingBuffer.open(pin);
  for await (const { data } of last.records({ idleTimeoutMs: 200 })) handled.add(eventSequence(data));
  assert.deepEqual([...handled].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i), 'every record was handled');
  assert.equal(last.pendingBytes, 0, 'leaving the loop consumed the last record');
});

test('at-most-once: the record a killed consumer was working on is gone', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, 10);
  await runProgram(fixture, 'produce', 10);
  const pin = path.join(fixture.maps, 'events');
  const child = await runNode(t, killedConsumer, [pin, '3', 'at-most-once']);
  assert.equal(child.signal, 'SIGKILL');
  assert.deepEqual(child.stdout.trim().split('\n').map(Number), [0, 1, 2, 3]);
  using last = RingBuffer.open(pin);
  const rest: number[] = [];
  last.consume((data) => rest.push(eventSequence(data)));
  assert.deepEqual(rest, [4, 5, 6, 7, 8, 9]);
  await assert.rejects(async () => {
    for await (const _ of last.records({ delivery: 'sometimes' as never })) break;
  }, (e: unknown) => (e as { code?: string }).code === 'ERR_BPFMAP_OPTION');
});
