/**
 * perf_event programs: sampling the task clock of a busy child process runs the program, which
 * counts samples of that child; closing the link stops it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachPerfEvent } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { counter, linksOfProgram, loadFixture, setU32, startChild } from './helpers.js';

const PERF_COUNT_SW_TASK_CLOCK = 1;

test('a perf_event program samples a busy child every 50 µs of its CPU time', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const program = fixture.program('on_sample');
  const counts = fixture.map('misc_counts');
  const child = await startChild(t);
  setU32(fixture.map('misc_pid'), child.pid);
  {
    using link = attachPerfEvent(program, { type: 'software', config: PERF_COUNT_SW_TASK_CLOCK, samplePeriod: 50_000, cpu: -1, pid: child.pid });
    await child.run('getpid 300000');
    const info = link.info();
    assert.equal(info.typeName, 'perf_event');
    assert.equal(info.perfEventType, 'event');
  }
  const samples = counter(counts, 3);
  assert.ok(samples > 0n, `the child was sampled (${samples} samples)`);
  assert.deepEqual(linksOfProgram(program.id), []);
  await child.run('getpid 100000');
  assert.equal(counter(counts, 3), samples, 'no samples after close');
});

test('attachPerfEvent checks its options before any syscall', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const program = fixture.program('on_sample');
  assert.throws(() => attachPerfEvent(program, { type: 'software', config: 0, cpu: 0 }), { code: 'ERR_BPFMAP_OPTIONS' });
  assert.throws(() => attachPerfEvent(program, { type: 'software', config: 0, samplePeriod: 1, frequency: 1, cpu: 0 }), { code: 'ERR_BPFMAP_OPTIONS' });
  assert.throws(() => attachPerfEvent(program, { type: 'software', config: 0, samplePeriod: 1, cpu: -1 }), { code: 'ERR_BPFMAP_OPTIONS' });
  assert.throws(() => attachPerfEvent(program, { type: 'nonsense' as never, config: 0, samplePeriod: 1, cpu: 0 }), { code: 'ERR_BPFMAP_OPTIONS' });
  assert.deepEqual(linksOfProgram(program.id), []);
});
