/**
 * kprobes and kprobe_multi, asserted against what this kernel offers: where the kernel has
 * kprobes, the probe counts the child's getpid() calls exactly; where it was built without them,
 * attaching fails with ERR_BPFMAP_ATTACH_UNSUPPORTED naming the missing option, which the test
 * checks against the kernel's own configuration. Neither case skips, on CI or anywhere.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { attachKprobe, attachKprobeMulti, attachKsyscall, BpfAttachError, kprobeUnsupportedReason } from '../../../src/index.js';
import { kernelConfigHas } from '../../../src/objects/link/kernel-config.js';
import { needs } from '../../helpers.js';
import { counter, linksOfProgram, loadFixture, setU32, startChild } from './helpers.js';

const kprobePmu = existsSync('/sys/bus/event_source/devices/kprobe/type');

test('kprobe on the getpid syscall: counts every call where the kernel has kprobes, a typed reason where not', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('kprobe_getpid');
  const counts = fixture.map('trace_counts');
  const child = await startChild(t);
  setU32(fixture.map('trace_pid'), child.pid);

  if (!kprobePmu) {
    const reason = kprobeUnsupportedReason();
    assert.ok(reason, 'no kprobe PMU must come with a reason');
    if (kernelConfigHas('CONFIG_KPROBES') === false) assert.match(reason, /CONFIG_KPROBES is not set/);
    assert.throws(
      () => attachKprobe(program, { symbol: '__x64_sys_getpid' }),
      (e: unknown) =>
        e instanceof BpfAttachError &&
        e.code === 'ERR_BPFMAP_ATTACH_UNSUPPORTED' &&
        e.reason === reason &&
        e.program === 'kprobe_getpid' &&
        e.kind === 'kprobe' &&
        e.target === '__x64_sys_getpid',
    );
    assert.throws(() => attachKsyscall(program, { syscall: 'getpid', retprobe: true }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_UNSUPPORTED' && e.kind === 'kretprobe');
    assert.deepEqual(linksOfProgram(program.id), [], 'a failed attach leaves nothing');
    return;
  }

  {
    using link = attachKsyscall(program, { syscall: 'getpid' });
    await child.run('getpid 5');
    const info = link.info();
    assert.equal(info.perfEventType, 'kprobe');
    assert.match(info.name ?? '', /sys_getpid/);
  }
  assert.equal(counter(counts, 2), 5n);
  assert.deepEqual(linksOfProgram(program.id), []);
  await child.run('getpid 3');
  assert.equal(counter(counts, 2), 5n);
  assert.throws(() => attachKprobe(program, { symbol: 'bpfmap_no_such_function' }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL');
});

test('kprobe.multi: counts where the kernel has fprobe-based multi links, ERR_BPFMAP_ATTACH_UNSUPPORTED where not', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('kmulti_getpid');
  const counts = fixture.map('trace_counts');
  const child = await startChild(t);
  setU32(fixture.map('trace_pid'), child.pid);

  assert.throws(
    () => attachKprobeMulti(program, { symbols: ['__x64_sys_getpid', 'bpfmap_missing_fn'] }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL' && /bpfmap_missing_fn/.test(e.message),
  );
  let link;
  try {
    link = attachKprobeMulti(program, { pattern: '__x64_sys_getpi?' });
  } catch (error) {
    // The kernel answered EOPNOTSUPP: it must be one that lacks fprobe.
    assert.ok(error instanceof BpfAttachError && error.code === 'ERR_BPFMAP_ATTACH_UNSUPPORTED', String(error));
    assert.notEqual(kernelConfigHas('CONFIG_FPROBE'), true, 'a kernel with CONFIG_FPROBE must attach kprobe.multi');
    if (kernelConfigHas('CONFIG_FPROBE') === false) assert.match(error.reason, /CONFIG_FPROBE is not set/);
    assert.equal(error.errno, 95);
    assert.deepEqual(linksOfProgram(program.id), []);
    return;
  }
  {
    using attached = link;
    await child.run('getpid 4');
    assert.equal(attached.info().typeName, 'kprobe_multi');
    assert.equal(attached.info().count, 1);
  }
  assert.equal(counter(counts, 3), 4n);
  assert.deepEqual(linksOfProgram(program.id), []);
});
