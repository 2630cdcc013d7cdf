/**
 * Perf event array samples from both CPUs arrive with their CPU numbers; samples lost to a full
 * buffer are counted per CPU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap, PerfBuffer } from '../../src/index.js';
import { needs } from '../helpers.js';
import { FixtureState, loadFixture, runProgram } from './fixtures.js';

interface Sample {
  seq: number;
  cpu: number;
}

/** Decodes the fixture's {u64 seq; u32 cpu; u32 magic}. */
function decodeSample(bytes: Uint8Array): Sample {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(12, true), 0xfeedbeef);
  return { seq: Number(view.getBigUint64(0, true)), cpu: view.getUint32(8, true) };
}

const cpuCount = (await import('node:os')).availableParallelism();

test('samples from every CPU arrive tagged with their CPU', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  using events = PerfBuffer.open(path.join(fixture.maps, 'events'), { decode: decodeSample, pagesPerCpu: 2 });
  assert.ok(events.cpus.length >= Math.min(cpuCount, 2));
  const cpus = events.cpus.slice(0, 2);
  const perCpu = 60;
  const producing = Promise.all(cpus.map((cpu) => runProgram(fixture, 'produce', perCpu, cpu)));
  const seen = new Map<number, number[]>();
  const started = Date.now();
  for await (const { cpu, data } of events.records({ count: perCpu * cpus.length, idleTimeoutMs: 10_000 })) {
    assert.equal(cpu, data.cpu, 'the reader reports the CPU the program ran on');
    seen.set(cpu!, [...(seen.get(cpu!) ?? []), data.seq]);
  }
  const waited = Date.now() - started;
  const pendingAfter = events.hasPending();
  await producing;
  assert.deepEqual([...seen.keys()].sort(), cpus, `samples per CPU: ${JSON.stringify([...seen].map(([c, s]) => [c, s.length]))} after ${waited} ms, pending ${pendingAfter}`);
  for (const [cpu, seqs] of seen) {
    assert.equal(seqs.length, perCpu, `CPU ${cpu}`);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `CPU ${cpu}: in order`);
  }
  assert.equal(events.lost, 0);
});

test('samples lost to a full buffer are counted per CPU', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const lostReports: Array<[number, number]> = [];
  using events = PerfBuffer.open(path.join(fixture.maps, 'events'), {
    pagesPerCpu: 1,
    onLost: (cpu, lost) => lostReports.push([cpu, lost]),
  });
  const cpus = events.cpus.slice(0, 2);
  const produced = 1000;
  const samples = new Map<number, number>();
  const count = (data: Uint8Array, cpu: number | undefined): void => {
    assert.equal(data.length, 20); // 16 bytes of sample, padded so the record is 8-byte aligned
    samples.set(cpu!, (samples.get(cpu!) ?? 0) + 1);
  };
  for (const cpu of cpus) await runProgram(fixture, 'produce', produced - 1, cpu);
  events.consume(count);
  // The kernel writes the lost-sample record with the next sample that fits.
  for (const cpu of cpus) await runProgram(fixture, 'produce', 1, cpu);
  events.consume(count);
  for (const cpu of cpus) {
    assert.ok((samples.get(cpu) ?? 0) > 0, `CPU ${cpu} delivered samples`);
    assert.ok(events.lostByCpu[cpu]! > 0, `CPU ${cpu} lost samples`);
    assert.equal((samples.get(cpu) ?? 0) + events.lostByCpu[cpu]!, produced, `CPU ${cpu}: delivered + lost = produced`);
  }
  assert.equal(lostReports.reduce((sum, [, lost]) => sum + lost, 0), events.lost);
});

test('closing the reader removes its perf fds from the map', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const mapPath = path.join(fixture.maps, 'events');
  const events = PerfBuffer.open(mapPath);
  const cpu = events.cpus[0]!;
  events.close();
  using map = BpfMap.openPinned(mapPath);
  // Lookups are not supported on perf_event_array; a delete says whether the entry was there.
  assert.equal(map.delete(new Uint8Array(new Uint32Array([cpu]).buffer)), false);
});

test('timestamps: each sample carries the kernel time it was written at, in order per CPU', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  using events = PerfBuffer.open(path.join(fixture.maps, 'events'), { decode: decodeSample, timestamps: true });
  const cpu = events.cpus[0]!;
  await runProgram(fixture, 'produce', 5, cpu);
  const times: bigint[] = [];
  events.consume((data, sampleCpu, time) => {
    assert.equal(sampleCpu, cpu);
    assert.equal(typeof time, 'bigint');
    assert.equal(data.cpu, cpu, 'the payload still starts after the time and the raw size');
    times.push(time!);
  });
  assert.equal(times.length, 5);
  assert.ok(times[0]! > 0n);
  assert.deepEqual(times, [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), 'nondecreasing');
  // The iterator carries it too.
  await runProgram(fixture, 'produce', 1, cpu);
  for await (const record of events.records({ count: 1, idleTimeoutMs: 5000 })) assert.ok(record.time !== undefined && record.time >= times[4]!);
});

test('buffers: a CPU can be placed at another map index; bad placements are refused', needs('clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_perf');
  const mapPath = path.join(fixture.maps, 'events');
  const state = new FixtureState(fixture);
  t.after(() => state.close());
  using map = BpfMap.openPinned(mapPath);
  assert.ok(map.maxEntries >= 2, 'the fixture map has a slot per possible CPU');
  for (const [buffers, message] of [
    [[], /non-empty array/],
    [[{ cpu: 0, index: map.maxEntries }], /index must be an integer from 0 to/],
    [[{ cpu: 4096, index: 0 }], /cpu must be an integer from 0 to/],
    [[{ cpu: 0, index: 1 }, { cpu: 1, index: 1 }], /index 1 is listed twice/],
  ] as const) {
    assert.throws(() => PerfBuffer.open(mapPath, { buffers }), message);
  }
  using events = PerfBuffer.open(mapPath, { decode: decodeSample, buffers: [{ cpu: 0, index: 1 }] });
  assert.deepEqual(events.cpus, [0]);
  assert.deepEqual(events.indexes, [1]);
  state.set(1, 1 + 1); // the program writes to index 1
  await runProgram(fixture, 'produce', 3, 0);
  const seqs: number[] = [];
  events.consume((data, cpu) => {
    assert.equal(cpu, 0);
    seqs.push(data.seq);
  });
  assert.deepEqual(seqs, [0, 1, 2], 'samples written to index 1 on CPU 0 reach the buffer placed there');
  events.close();
  assert.equal(map.delete(new Uint8Array(new Uint32Array([1]).buffer)), false, 'closing removed the fd from index 1');
});
