/**
 * CO-RE and ksym objects loaded by bpfmap (BpfObject), attached, and run: the relocated programs
 * pass the verifier (poisoned reads proven dead) and read the right kernel data — this thread's
 * pid and tgid, its parent's tgid, its comm, task flags read through two different local layouts
 * of task_struct, sizes and ids as the kernel's BTF has them, an address from /proc/kallsyms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { needs } from '../helpers.js';
import { kernelBtf } from '../../src/codec/btf/sources.js';
// From the package's entry point, as users import it (it installs the BTF support typed maps use).
import { BpfObject } from '../../src/index.js';
import { attachProgram } from '../../src/objects/link/attach.js';
import { buildCoreObject } from './core-fixture.js';

/** pid_tgid of the calling thread (the test runs on the main thread: tid = pid). */
const selfPidTgid = (BigInt(process.pid) << 32n) | BigInt(process.pid);

test('a CO-RE object loaded by bpfmap reads this task through relocated offsets', needs('clang', 'bpftool'), () => {
  const spec = BpfObject.open(buildCoreObject('core_reloc'));
  spec.setConstant('core_target_pid_tgid', selfPidTgid);
  using object = spec.load();
  const links = ['core_read_task', 'core_direct'].map((name) => attachProgram(object.program(name)));
  try {
    assert.ok(links.every((link) => link !== undefined), 'raw_tp and tp_btf attach by section name');
    void process.ppid; // getppid(): a syscall on this thread fires both programs
  } finally {
    for (const link of links) link?.close();
  }
  const seen = object.map<number, Record<string, unknown>>('core_out').get(0);
  assert.ok(seen);
  const vmlinux = kernelBtf();
  const task = vmlinux.typeByName('task_struct', 'struct');
  assert.equal(seen.pid_tgid, selfPidTgid);
  assert.equal(seen.pid, process.pid);
  assert.equal(seen.tgid, process.pid);
  assert.equal(seen.parent_tgid, process.ppid);
  assert.equal(seen.comm, readFileSync('/proc/self/comm', 'latin1').trim());
  assert.deepEqual(
    [seen.pid_exists, seen.old_field_exists, seen.pid_size, seen.pid_signed, seen.task_exists, seen.missing_type_exists, seen.ringbuf_exists, seen.ringbuf_value, seen.never_exists, seen.subset_exists],
    [1, 0, 4, 1, 1, 0, 1, 27, 0, 1],
  );
  assert.equal(seen.task_size, vmlinux.size(task.id));
  assert.equal(seen.kernel_id, task.id);
  assert.equal(seen.prio_offset, (vmlinux.findMember(task.id, 'prio')?.bitOffset ?? 0) / 8);
  assert.equal(seen.old_field, 0n, 'the poisoned read never ran');
  // The shuffled local layout reads the same kernel fields at the kernel's offsets.
  assert.equal(seen.direct_tgid, process.pid);
  assert.equal(seen.direct_parent_tgid, process.ppid);
  assert.equal(seen.direct_flags, BigInt(seen.flags as number), 'flags read with a narrowed load equals the probe read');
  assert.equal(seen.moved_value, 27);
  assert.equal(seen.direct_pid, 0n, 'the poisoned pid load is dead code');
});

test('a ksym object loaded by bpfmap: kallsyms address, missing weak externs 0, kfunc calls verified', needs('clang', 'bpftool'), () => {
  const spec = BpfObject.open(buildCoreObject('ksym'));
  spec.setConstant('ksym_target_pid_tgid', selfPidTgid);
  // ksym_typed needs CONFIG_KALLSYMS_ALL for the verifier to find runqueues' address: load it only where that exists.
  const kallsyms = readFileSync('/proc/kallsyms', 'latin1');
  const allSymbols = / runqueues$/m.test(kallsyms);
  using object = spec.load({ programs: allSymbols ? ['ksym_read', 'ksym_typed'] : ['ksym_read'] });
  const links = [...object.programs.values()].map((program) => attachProgram(program));
  try {
    void process.ppid;
  } finally {
    for (const link of links) link?.close();
  }
  const seen = object.map<number, Record<string, unknown>>('ksym_out').get(0);
  assert.ok(seen);
  const stext = kallsyms.split('\n').find((line) => line.endsWith(' _stext'))?.split(' ')[0];
  assert.equal(seen.stext_address, BigInt(`0x${stext}`));
  assert.equal(seen.missing_address, 0n);
  assert.equal(seen.missing_typed_address, 0n);
  assert.equal(seen.kfunc_result, 0, 'the call to the missing weak kfunc was proven dead');
  if (allSymbols) assert.equal(seen.cpu0, 0, 'runqueues of CPU 0 says cpu 0');
});
