/**
 * `event_pipe`: bpftool's `map event_pipe` grammar and output, checked against bpftool itself on
 * the same perf event array: the JSON items' fields in order, the text header and hex layout,
 * `cpu N index M`, and the usage errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { needs } from '../helpers.js';
import { FixtureState, loadFixture, runProgram, type LoadedFixture } from '../events/fixtures.js';
import { cliPath, runCli } from './run-cli.js';

/**
 * Runs a reader, produces `samples` samples on `cpu` once it has its `buffers` perf buffers in
 * the map (a perf buffer gets only samples written after that), then stops it with Ctrl-C.
 * bpftool buffers its output until it exits, so readiness is read off the reader's fds.
 */
async function capture(fixture: LoadedFixture, command: string[], cpu: number, samples: number, buffers: number): Promise<string> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  await perfReaderReady(child.pid!, buffers);
  await runProgram(fixture, 'produce', samples, cpu);
  await sleep(300);
  child.kill('SIGINT');
  const status = await exited;
  assert.equal(status, 0, `${command.join(' ')}: ${stderr}`);
  return stdout;
}

/**
 * Waits until process `pid` holds `count` perf event fds, then a little more: a reader stores
 * each buffer's fd in the map right after opening it, and only then do samples reach it.
 */
async function perfReaderReady(pid: number, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    let perfFds = 0;
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]') perfFds++;
        } catch {
          // closed while listed
        }
      }
    } catch {
      // not started yet
    }
    if (perfFds >= count) break;
    if (Date.now() > deadline) assert.fail(`process ${pid} opened ${perfFds} of ${count} perf buffers`);
    await sleep(20);
  }
  await sleep(200);
}

interface PipeItem {
  type: number;
  cpu: number;
  index: number;
  timestamp?: number;
  data?: number[];
}

/** The fixture's sample: {u64 seq; u32 cpu; u32 0xfeedbeef} and 4 bytes of perf padding. */
function checkSample(item: PipeItem, cpu: number, index: number): void {
  assert.deepEqual(Object.keys(item), ['type', 'cpu', 'index', 'timestamp', 'data']);
  assert.equal(item.type, 9);
  assert.equal(item.cpu, cpu);
  assert.equal(item.index, index);
  assert.ok(Number.isInteger(item.timestamp) && item.timestamp! > 0);
  assert.equal(item.data!.length, 20);
  assert.deepEqual(item.data!.slice(8, 16), [cpu, 0, 0, 0, 0xef, 0xbe, 0xed, 0xfe]);
}

test('event_pipe -j: the same JSON array bpftool streams, item for item', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const events = path.join(fixture.maps, 'events');
  const cpus = (await import('node:os')).availableParallelism();
  const cpu = 1 % cpus;
  const theirs = JSON.parse(await capture(fixture, ['bpftool', '-j', 'map', 'event_pipe', 'pinned', events], cpu, 3, cpus)) as PipeItem[];
  const ours = JSON.parse(await capture(fixture, [process.execPath, cliPath, '-j', 'event_pipe', 'pinned', events], cpu, 3, cpus)) as PipeItem[];
  for (const items of [theirs, ours]) {
    assert.equal(items.length, 3);
    for (const item of items) checkSample(item, cpu, cpu);
    const times = items.map((item) => item.timestamp!);
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'timestamps in order');
  }
  // The same three samples, numbered on from bpftool's to ours, byte for byte but the numbers.
  assert.deepEqual(ours.map((item) => item.data), theirs.map((item) => [item.data![0]! + 3, ...item.data!.slice(1)]));
  // Both clocks are perf's: ours come after bpftool's.
  assert.ok(ours[0]!.timestamp! > theirs.at(-1)!.timestamp!);
});

test('event_pipe text and cpu N index M: bpftool\'s header and hex layout, at the given index', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const events = path.join(fixture.maps, 'events');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  state.set(1, 1 + 1); // the program writes to index 1, from CPU 0
  const shape = /^== @(\d+)\.(\d{9}) CPU: 0 index: 1 =====\n([0-9a-f]{2}) 00 00 00 00 00 00 00  00 00 00 00 ef be ed fe\n00 00 00 00$/;
  for (const command of [
    ['bpftool', 'map', 'event_pipe', 'pinned', events, 'cpu', '0', 'index', '1'],
    [process.execPath, cliPath, 'event_pipe', 'pinned', events, 'cpu', '0', 'index', '1'],
  ]) {
    const stdout = await capture(fixture, command, 0, 1, 1);
    assert.match(stdout.trimEnd(), shape, command.join(' '));
  }
});

test('event_pipe usage errors: cpu without index, other arguments, other map types', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const events = path.join(fixture.maps, 'events');
  for (const [args, message] of [
    [['event_pipe', 'pinned', events, 'cpu', '0'], /cpu and index must be specified together/],
    [['event_pipe', 'pinned', events, 'index', '1'], /cpu and index must be specified together/],
    [['event_pipe', 'pinned', events, 'cpu', 'x', 'index', '0'], /cpu/],
    [['event_pipe', 'pinned', events, 'tail'], /expected 'cpu N' or 'index M', got 'tail'/],
    [['event_pipe', 'pinned', path.join(fixture.maps, 'state')], /needs a perf_event_array map; state is array/],
  ] as Array<[string[], RegExp]>) {
    const result = runCli(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '');
  }
  const placed = runCli('event_pipe', 'pinned', events, 'cpu', '0', 'index', '4096');
  assert.equal(placed.status, 2, placed.stderr);
  assert.match(placed.stderr, /index 4096: events has \d+ entries \(0 to \d+\)/);
});

test('event_pipe reports samples lost while it was stopped, as bpftool does', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const events = path.join(fixture.maps, 'events');
  const cpu = 0;
  const outputs: string[] = [];
  for (const command of [
    ['bpftool', '-j', 'map', 'event_pipe', 'pinned', events],
    [process.execPath, cliPath, '-j', 'event_pipe', 'pinned', events],
  ]) {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
    await perfReaderReady(child.pid!, (await import('node:os')).availableParallelism());
    // Stopped, the reader cannot drain: 3000 samples overflow 16 pages (about 1600 fit).
    child.kill('SIGSTOP');
    await runProgram(fixture, 'produce', 3000, cpu);
    child.kill('SIGCONT');
    await sleep(300);
    // The kernel writes the lost record with the next sample that fits.
    await runProgram(fixture, 'produce', 1, cpu);
    await sleep(300);
    child.kill('SIGINT');
    assert.equal(await exited, 0, command.join(' '));
    outputs.push(stdout);
  }
  const [theirs, ours] = outputs.map((text) => JSON.parse(text) as Array<PipeItem & { lost?: { id: number; count: number } }>);
  for (const items of [theirs!, ours!]) {
    const lost = items.filter((item) => item.type === 2);
    assert.equal(lost.length, 1, JSON.stringify(lost));
    assert.deepEqual(Object.keys(lost[0]!), ['type', 'cpu', 'index', 'lost']);
    assert.deepEqual(Object.keys(lost[0]!.lost!), ['id', 'count']);
    assert.equal(lost[0]!.cpu, cpu);
    const samples = items.filter((item) => item.type === 9);
    assert.equal(samples.length + lost[0]!.lost!.count, 3001, 'every sample was either delivered or counted lost');
  }
});
