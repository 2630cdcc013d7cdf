/**
 * Attach by section name: sectionTarget reads libbpf's section grammar, and attachProgram
 * attaches programs where their sections say, skipping sections that name no target.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { attachProgram, BpfAttachError, BpfMap, BpfObject, BpfProgram, kprobeUnsupportedReason, sectionTarget, type Link } from '../../../src/index.js';
import { buildBpfObject, needs } from '../../helpers.js';
import { childProgram, counter, ensureTracefs, linksOfProgram, loadFixture, setU32, startChild } from './helpers.js';

test('sectionTarget reads the targets libbpf auto-attaches to', () => {
  assert.deepEqual(sectionTarget('kprobe/do_unlinkat'), { kind: 'kprobe', retprobe: false, symbol: 'do_unlinkat', offset: 0 });
  assert.deepEqual(sectionTarget('kprobe/do_sys_open+0x10'), { kind: 'kprobe', retprobe: false, symbol: 'do_sys_open', offset: 16 });
  assert.deepEqual(sectionTarget('kretprobe/tcp_connect'), { kind: 'kprobe', retprobe: true, symbol: 'tcp_connect', offset: 0 });
  assert.deepEqual(sectionTarget('ksyscall/openat'), { kind: 'ksyscall', retprobe: false, syscall: 'openat' });
  assert.deepEqual(sectionTarget('kretprobe.multi/tcp_*'), { kind: 'kprobe_multi', retprobe: true, pattern: 'tcp_*' });
  assert.deepEqual(sectionTarget('uprobe//usr/lib/libc.so.6:malloc'), { kind: 'uprobe', retprobe: false, binary: '/usr/lib/libc.so.6', symbol: 'malloc', offset: 0 });
  assert.deepEqual(sectionTarget('uretprobe/bash:readline'), { kind: 'uprobe', retprobe: true, binary: 'bash', symbol: 'readline', offset: 0 });
  assert.deepEqual(sectionTarget('uprobe/./app:work+8'), { kind: 'uprobe', retprobe: false, binary: './app', symbol: 'work', offset: 8 });
  assert.deepEqual(sectionTarget('tp/sched/sched_switch'), { kind: 'tracepoint', category: 'sched', name: 'sched_switch' });
  assert.deepEqual(sectionTarget('tracepoint/syscalls/sys_enter_openat'), { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' });
  assert.deepEqual(sectionTarget('raw_tp/sys_enter'), { kind: 'raw_tracepoint', name: 'sys_enter' });
  assert.deepEqual(sectionTarget('fentry/do_unlinkat'), { kind: 'tracing', target: 'do_unlinkat' });
  assert.deepEqual(sectionTarget('lsm.s/file_open'), { kind: 'tracing', target: 'file_open' });
  assert.deepEqual(sectionTarget('iter/task'), { kind: 'iter', target: 'task' });
  for (const bare of ['kprobe', 'uprobe', 'tp', 'raw_tp', 'xdp', 'tc', 'tcx/ingress', 'cgroup_skb/ingress', 'perf_event', 'socket', 'fentry']) {
    const target = sectionTarget(bare);
    assert.equal(target.kind, 'none', bare);
    assert.ok('reason' in target && target.reason.length > 10);
  }
  assert.match((sectionTarget('xdp') as { reason: string }).reason, /attachXdp/);
  for (const bad of ['kprobe/fn+x', 'kretprobe/fn+8', 'uprobe/path', 'uprobe/path:', 'tp/justname', 'ksyscall/a-b']) {
    assert.throws(() => sectionTarget(bad, 'prog'), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SECTION' && e.message.includes(bad), bad);
  }
});

/** A pinned program with the section name its object gave it (what the loader records). */
function withSection(pin: string, sectionName: string): BpfProgram {
  const pinned = BpfProgram.fromPinned(pin);
  return BpfProgram.adopt(pinned.handle, { sectionName, path: pin });
}

test('attachProgram attaches tracepoint, raw tracepoint and uprobe programs where their sections say', needs('clang', 'bpftool', 'cc'), async (t) => {
  ensureTracefs(t);
  const trace = loadFixture(t, 'attach_trace');
  const misc = loadFixture(t, 'attach_misc');
  const child = await startChild(t);
  setU32(trace.map('trace_pid'), child.pid);
  setU32(misc.map('misc_pid'), child.pid);
  const tp = withSection(path.join(trace.dir, 'progs', 'tp_getpid'), 'tracepoint/syscalls/sys_enter_getpid');
  const raw = withSection(path.join(trace.dir, 'progs', 'raw_sys_enter'), 'raw_tracepoint/sys_enter');
  const uprobe = withSection(path.join(misc.dir, 'progs', 'uprobe_target'), `uprobe/${childProgram()}:bpfmap_probe_target`);
  const cgroup = withSection(path.join(misc.dir, 'progs', 'sock_create'), 'cgroup/sock_create');
  t.after(() => [tp, raw, uprobe, cgroup].forEach((p) => p.close()));
  {
    using tpLink = attachProgram(tp);
    using rawLink = attachProgram(raw);
    using uprobeLink = attachProgram(uprobe, { pid: child.pid });
    assert.equal(attachProgram(cgroup), undefined, 'cgroup sections name no cgroup: skipped as libbpf does');
    assert.equal(tpLink?.kind, 'tracepoint');
    assert.equal(rawLink?.kind, 'raw_tracepoint');
    assert.equal(uprobeLink?.kind, 'uprobe');
    await child.run('getpid 3');
    await child.run('call 2');
  }
  const traceCounts = trace.map('trace_counts');
  assert.equal(counter(traceCounts, 0), 3n);
  assert.equal(counter(traceCounts, 1), 3n);
  assert.equal(counter(misc.map('misc_counts'), 0), 2n);
  for (const program of [tp, raw, uprobe, cgroup]) assert.deepEqual(linksOfProgram(program.id), []);
});

test('attachProgram needs a section name', needs('clang', 'bpftool'), (t) => {
  const trace = loadFixture(t, 'attach_trace');
  assert.throws(() => attachProgram(trace.program('tp_getpid')), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SECTION' && /tp_getpid/.test(e.message));
});

test('every program of an object loaded by BpfObject attaches by its section name, or says exactly why not', needs('clang', 'cc'), async (t) => {
  ensureTracefs(t);
  using object = BpfObject.load(buildBpfObject('attach_trace'));
  const child = await startChild(t);
  // Maps of a loaded object are typed through their BTF: u32 keys and values are numbers.
  (object.map('trace_pid') as BpfMap<number, number>).set(0, child.pid);
  const links: Link[] = [];
  t.after(() => links.forEach((link) => link.close()));
  const kinds = new Map<string, string>();
  for (const [name, program] of object.programs) {
    try {
      const link = attachProgram(program);
      assert.ok(link, `${program.sectionName} names a target`);
      links.push(link);
      kinds.set(name, link.kind);
    } catch (error) {
      // Only the kprobe kinds may fail, and only on kernels without them.
      assert.ok(error instanceof BpfAttachError && error.code === 'ERR_BPFMAP_ATTACH_UNSUPPORTED', `${name}: ${String(error)}`);
      if (name === 'kprobe_getpid') assert.equal(kprobeUnsupportedReason(), error.reason);
      else assert.equal(name, 'kmulti_getpid');
      kinds.set(name, 'unsupported');
    }
  }
  assert.equal(kinds.get('tp_getpid'), 'tracepoint');
  assert.equal(kinds.get('raw_sys_enter'), 'raw_tracepoint');
  assert.equal(kinds.get('btf_sys_enter'), 'tp_btf');
  await child.run('getpid 5');
  const counts = object.map('trace_counts') as BpfMap<number, bigint>;
  for (const [slot, name] of [[0, 'tp_getpid'], [1, 'raw_sys_enter'], [2, 'kprobe_getpid'], [3, 'kmulti_getpid'], [4, 'btf_sys_enter']] as const) {
    assert.equal(counts.get(slot), kinds.get(name) === 'unsupported' ? 0n : 5n, name);
  }
  for (const link of links) link.close();
  for (const program of object.programs.values()) assert.deepEqual(linksOfProgram(program.id), []);
});
