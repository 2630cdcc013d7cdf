/**
 * BTF-attached tracing programs. tp_btf needs no trampoline and runs everywhere BTF does;
 * fentry/fexit need BPF trampolines, built on ftrace: where the kernel refuses those programs
 * at load time, the test checks that ftrace itself refuses (EPERM on available_filter_functions),
 * so a kernel that allows ftrace but breaks fentry attach still fails the test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { attachTracing, BpfProgram } from '../../../src/index.js';
import { buildBpfObject, needs, pinDir } from '../../helpers.js';
import { counter, ensureTracefs, linksOfProgram, loadFixture, setU32, startChild } from './helpers.js';
import { BpfMap } from '../../../src/map/bpf-map.js';

test('tp_btf: a tracing link counts the child getpid() calls and detaches on close', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('btf_sys_enter');
  const counts = fixture.map('trace_counts');
  const child = await startChild(t);
  setU32(fixture.map('trace_pid'), child.pid);
  {
    using link = attachTracing(program);
    await child.run('getpid 9');
    const info = link.info();
    // The kernel makes a tp_btf attachment a raw tracepoint link on the program's own target.
    assert.equal(info.typeName, 'raw_tracepoint');
    assert.equal(info.name, 'sys_enter');
    assert.equal(link.kind, 'tp_btf');
  }
  assert.equal(counter(counts, 4), 9n);
  assert.deepEqual(linksOfProgram(program.id), []);
  await child.run('getpid 2');
  assert.equal(counter(counts, 4), 9n);
});

test('attachTracing refuses programs of other types', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  assert.throws(() => attachTracing(fixture.program('tp_getpid')), { code: 'ERR_BPFMAP_PROGRAM_TYPE' });
});

test('fentry/fexit: count the child getpid() calls where the kernel has trampolines; where not, ftrace refuses', needs('clang', 'bpftool', 'cc'), async (t) => {
  const dir = pinDir(t, 'attach');
  const progs = path.join(dir, 'progs');
  const maps = path.join(dir, 'maps');
  const load = spawnSync('bpftool', ['prog', 'loadall', buildBpfObject('attach_fentry'), progs, 'pinmaps', maps], { encoding: 'utf8' });
  if (load.status !== 0) {
    // The kernel refused the programs: it must be because ftrace refuses this process.
    assert.match(load.stderr, /fentry_getpid': BPF program load failed: Operation not permitted/);
    const tracefs = ensureTracefs(t);
    assert.throws(() => readFileSync(path.join(tracefs, 'available_filter_functions')), { code: 'EPERM' });
    t.diagnostic('this kernel refuses BPF trampolines (ftrace: EPERM), so fentry/fexit cannot load here');
    return;
  }
  const fentry = BpfProgram.fromPinned(path.join(progs, 'fentry_getpid'));
  const fexit = BpfProgram.fromPinned(path.join(progs, 'fexit_getpid'));
  const counts = BpfMap.openPinned(path.join(maps, 'fentry_counts'));
  const pid = BpfMap.openPinned(path.join(maps, 'fentry_pid'));
  t.after(() => [fentry, fexit, counts, pid].forEach((o) => o.close()));
  const child = await startChild(t);
  setU32(pid, child.pid);
  {
    using entry = attachTracing(fentry);
    using exit = attachTracing(fexit);
    await child.run('getpid 4');
    assert.equal(entry.info().attachTypeName, 'trace_fentry');
    assert.equal(exit.info().attachTypeName, 'trace_fexit');
  }
  assert.equal(counter(counts, 0), 4n);
  assert.equal(counter(counts, 1), 4n);
  assert.deepEqual(linksOfProgram(fentry.id), []);
  assert.deepEqual(linksOfProgram(fexit.id), []);
});
