/**
 * `events MAP`: ring buffer and perf event array records, one line each, in order; `--count`,
 * `--timeout` and Ctrl-C end it with status 0; `--type` decodes through BTF; other maps are usage
 * errors. Producers are the events fixtures, run in the kernel by `bpftool prog run`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { needs, tempDir } from '../helpers.js';
import { eventSequence, loadFixture, runProgram } from '../events/fixtures.js';
import { runCli, startCli } from './run-cli.js';

/** Parses the JSON lines of an `events -j` run. */
function jsonLines<T>(stdout: string): T[] {
  return stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as T);
}

/** An object whose BTF declares the ring buffer fixture's record (the fixture's own BTF lacks it). */
function eventTypeObject(dir: string): string {
  const source = path.join(dir, 'event_type.c');
  writeFileSync(source, 'typedef unsigned long long u64;\nstruct event { u64 seq; u64 check; };\nstruct event last_event;\n');
  const object = path.join(dir, 'event_type.o');
  execFileSync('clang', ['-g', '-target', 'bpf', '-c', source, '-o', object], { stdio: 'pipe' });
  return object;
}

test('ring buffer: --count N prints exactly N records in order, text and -j; --timeout ends after the idle time', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const events = path.join(fixture.maps, 'events');
  // Records wait in the ring until read, so the producer can run before the reader starts.
  await runProgram(fixture, 'produce', 10);

  const json = runCli('-j', 'events', 'pinned', events, '--count', '4');
  assert.equal(json.status, 0, json.stderr);
  const records = jsonLines<{ data: number[]; cpu?: number }>(json.stdout);
  assert.equal(records.length, 4);
  assert.deepEqual(records.map(({ data }) => eventSequence(Uint8Array.from(data))), [0, 1, 2, 3]);
  assert.ok(records.every((record) => !('cpu' in record)), 'ring buffer records have no cpu');

  const text = runCli('events', 'pinned', events, '--count', '2');
  assert.equal(text.status, 0, text.stderr);
  assert.deepEqual(text.stdout.split('\n'), [
    '04 00 00 00 00 00 00 00  fb ff ff ff ff ff ff ff',
    '05 00 00 00 00 00 00 00  fa ff ff ff ff ff ff ff',
    '',
  ]);

  const started = Date.now();
  const idle = runCli('-j', 'events', 'pinned', events, '--timeout', '0.5', '--type', 'struct event', '--btf', eventTypeObject(tempDir(t)));
  const elapsed = Date.now() - started;
  assert.equal(idle.status, 0, idle.stderr);
  // Exact text: the 64-bit `check` must keep every digit.
  assert.deepEqual(idle.stdout.split('\n').filter((line) => line !== ''), [6, 7, 8, 9].map((seq) => `{"formatted":{"seq":${seq},"check":${0xffff_ffff_ffff_ffffn ^ BigInt(seq)}}}`));
  assert.ok(elapsed >= 450, `waited ${elapsed} ms for the 0.5 s idle timeout`);

  const empty = runCli('events', 'pinned', events, '--timeout', '0.2');
  assert.equal(empty.status, 0);
  assert.equal(empty.stdout, '');
});

test('perf event array: -j records carry their cpu, in order, exactly --count of them', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const reader = startCli('-j', 'events', 'pinned', path.join(fixture.maps, 'events'), '--count', '6');
  let exited = false;
  void reader.exited.then(() => (exited = true));
  // Perf samples reach only readers that are open, so keep producing until the CLI has its six.
  const cpu = 0;
  for (let round = 0; !exited && round < 100; round++) {
    await runProgram(fixture, 'produce', 2, cpu);
    await sleep(50);
  }
  const result = await reader.exited;
  assert.equal(result.status, 0, result.stderr);
  const records = jsonLines<{ cpu: number; data: number[] }>(result.stdout);
  assert.equal(records.length, 6, result.stdout);
  const sequences = records.map(({ cpu: recordCpu, data }) => {
    const bytes = Uint8Array.from(data);
    const view = new DataView(bytes.buffer);
    assert.equal(view.getUint32(12, true), 0xfeedbeef);
    assert.equal(recordCpu, view.getUint32(8, true), 'cpu is the CPU the program ran on');
    assert.equal(recordCpu, cpu);
    return Number(view.getBigUint64(0, true));
  });
  const first = sequences[0] as number;
  assert.deepEqual(sequences, [0, 1, 2, 3, 4, 5].map((i) => first + i), 'consecutive, in order');
});

test('Ctrl-C ends events with status 0 and closes the reader', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const reader = startCli('events', 'pinned', path.join(fixture.maps, 'events'));
  await runProgram(fixture, 'produce', 1);
  for (let waited = 0; reader.stdout() === '' && waited < 10_000; waited += 50) await sleep(50);
  assert.equal(reader.stdout(), '00 00 00 00 00 00 00 00  ff ff ff ff ff ff ff ff\n');
  reader.child.kill('SIGINT');
  const result = await reader.exited;
  assert.equal(result.signal, null, 'exited by itself, not killed by the signal');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
});

test('events on other maps, and bad options, are usage errors', needs('bpftool', 'clang'), (t) => {
  const fixture = loadFixture(t, 'events_ringbuf');
  const events = path.join(fixture.maps, 'events');
  const cases: Array<[string[], RegExp]> = [
    [['events', 'pinned', path.join(fixture.maps, 'state')], /events needs a ringbuf or perf_event_array map; state is array/],
    [['events', 'pinned', events, '--count', '0'], /--count: must be at least 1/],
    [['events', 'pinned', events, '--timeout', 'soon'], /--timeout: 'soon' is not a number of seconds/],
    [['events', 'pinned', events, '--btf', '/nonexistent'], /--btf FILE goes with --type NAME/],
    [['events', 'pinned', events, '--type', 'struct event'], /no type 'struct event' in the BTF of the program using it; name the BPF object/],
  ];
  for (const [args, message] of cases) {
    const result = runCli(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^Error: [^\n]+\n$/);
    assert.match(result.stderr, message);
  }
  const json = runCli('-j', 'events', 'pinned', path.join(fixture.maps, 'state'));
  assert.equal(json.status, 2);
  assert.match((JSON.parse(json.stdout) as { error: string }).error, /needs a ringbuf/);
});

test('--type without --btf finds the record type through the BTF of the program that writes the map', needs('bpftool', 'clang'), async (t) => {
  const fixture = loadFixture(t, 'events_typed');
  const events = path.join(fixture.maps, 'events');
  // The premise: libbpf made the ring buffer without BTF, so only the program's BTF can help.
  const show = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', events], { encoding: 'utf8' })) as { btf_id?: number };
  assert.equal(show.btf_id ?? 0, 0, 'the ring buffer has no BTF of its own');
  await runProgram(fixture, 'produce', 2);
  const json = runCli('-j', 'events', 'pinned', events, '--count', '2', '--type', 'struct typed_event');
  assert.equal(json.status, 0, json.stderr);
  // Exact text: the 64-bit complement keeps every digit; the char array prints as a string.
  assert.deepEqual(json.stdout.split('\n').filter((line) => line !== ''), [0n, 1n].map((seq) =>
    `{"formatted":{"seq":${seq},"check":${0xffff_ffff_ffff_ffffn ^ seq},"tag":"evt","flags":2147483649}}`));

  const missing = runCli('events', 'pinned', events, '--count', '1', '--type', 'struct no_such_event');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^Error: --type: no type 'struct no_such_event' in the BTF of the program using it; name the BPF object \(or a BTF file\) with --btf FILE\n$/);
});
