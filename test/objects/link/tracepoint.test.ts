/**
 * Tracepoints and raw tracepoints fired by getpid() calls of a child process the test runs:
 * each program counts exactly the calls of that process, and stops when its link is closed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachRawTracepoint, attachTracepoint, BpfAttachError } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { counter, ensureTracefs, linksOfProgram, loadFixture, setU32, startChild } from './helpers.js';

test('a tracepoint link counts the child getpid() calls, and closing it detaches', needs('clang', 'bpftool', 'cc'), async (t) => {
  ensureTracefs(t);
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('tp_getpid');
  const counts = fixture.map('trace_counts');
  const child = await startChild(t);
  setU32(fixture.map('trace_pid'), child.pid);

  const link = attachTracepoint(program, { category: 'syscalls', name: 'sys_enter_getpid' });
  t.after(() => link.close());
  await child.run('getpid 7');
  assert.equal(counter(counts, 0), 7n);

  const info = link.info();
  assert.equal(info.typeName, 'perf_event');
  assert.equal(info.perfEventType, 'tracepoint');
  assert.equal(info.name, 'sys_enter_getpid');
  assert.equal(info.programId, program.id);
  assert.deepEqual(linksOfProgram(program.id).map((l) => l.id), [info.id]);
  assert.equal(link.kind, 'tracepoint');
  assert.equal(link.target, 'syscalls/sys_enter_getpid');

  link.close();
  assert.deepEqual(linksOfProgram(program.id), [], 'no link of the program is left after close');
  await child.run('getpid 5');
  assert.equal(counter(counts, 0), 7n, 'a closed link counts nothing');
});

test('tracepoint errors name the program and the tracepoint', needs('clang', 'bpftool'), (t) => {
  ensureTracefs(t);
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('tp_getpid');
  assert.throws(
    () => attachTracepoint(program, { category: 'syscalls', name: 'sys_enter_no_such_call' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL' && /tp_getpid/.test(e.message) && /sys_enter_no_such_call/.test(e.message),
  );
  assert.throws(
    () => attachTracepoint(program, { category: 'no_such_category', name: 'x' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL' && /category 'no_such_category'/.test(e.message),
  );
  assert.throws(() => attachTracepoint(program, { category: '../x', name: 'id' }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL');
  assert.deepEqual(linksOfProgram(program.id), []);
});

test('a raw tracepoint link counts the child getpid() calls, and closing it detaches', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('raw_sys_enter');
  const counts = fixture.map('trace_counts');
  const child = await startChild(t);
  setU32(fixture.map('trace_pid'), child.pid);
  {
    using link = attachRawTracepoint(program, 'sys_enter');
    await child.run('getpid 6');
    const info = link.info();
    assert.equal(info.typeName, 'raw_tracepoint');
    assert.equal(info.name, 'sys_enter');
    assert.equal(linksOfProgram(program.id).length, 1);
  }
  assert.equal(counter(counts, 1), 6n);
  assert.deepEqual(linksOfProgram(program.id), []);
  await child.run('getpid 2');
  assert.equal(counter(counts, 1), 6n);

  assert.throws(
    () => attachRawTracepoint(program, 'no_such_tracepoint_here'),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL' && e.errno === 2 && /raw_sys_enter/.test(e.message),
  );
  assert.throws(() => attachRawTracepoint(program, 'sys/enter'), { code: 'ERR_BPFMAP_TRACEPOINT' });
});
