/**
 * Programs attached through vmlinux BTF (fentry, fexit, fmod_ret, lsm, iter, tp_btf), loaded by
 * bpfmap: the attach_btf_id the loader computes for each section equals the one the system
 * libbpf computes (`libbpf_find_vmlinux_btf_id`); iter and tp_btf load and the kernel reports
 * that id back; the trampoline kinds load where the kernel has trampolines and, where ftrace
 * refuses this process (EPERM on available_filter_functions), fail as `bpftool prog loadall`
 * fails there: EPERM before any verification, said as such.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BpfObject, VerifierError } from '../../src/index.js';
import { attachBtfId } from '../../src/objects/load.js';
import { buildBpfObject, fixturesDir, needs, pinDir, tempDir } from '../helpers.js';
import { ensureTracefs } from './link/helpers.js';

const TRAMPOLINE_PROGRAMS = ['on_getpid_entry', 'on_getpid_exit', 'on_file_open_ret', 'on_file_open_lsm'];

test('attach_btf_id of fentry, fexit, fmod_ret, lsm, iter and tp_btf sections is libbpf\'s', needs('clang', 'gcc'), (t) => {
  const helper = path.join(tempDir(t, 'bpfmap-attach-ids'), 'libbpf_attach_btf_ids');
  execFileSync('gcc', ['-O2', '-o', helper, path.join(fixturesDir, 'libbpf_attach_btf_ids.c'), '-lbpf'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const spec = BpfObject.open(buildBpfObject('obj_tracing'));
  const programs = [...spec.programs.values()];
  assert.equal(programs.length, 6);
  const input = programs.map((p) => `${p.attachTarget ?? ''} ${p.attachType ?? 0}`).join('\n');
  const libbpf = execFileSync(helper, { input: `${input}\n`, encoding: 'utf8' }).trimEnd().split('\n').map((line) => Number(line.split(' ')[2]));
  programs.forEach((program, i) => {
    assert.ok((libbpf[i] ?? 0) > 0, `libbpf finds ${program.sectionName}`);
    assert.equal(attachBtfId(program), libbpf[i], `${program.name} (${program.sectionName})`);
  });
});

test('bpfmap loads iter and tp_btf with that id; trampoline kinds load, or fail as bpftool does where ftrace refuses', needs('clang', 'bpftool'), (t) => {
  const objectPath = buildBpfObject('obj_tracing');
  const spec = BpfObject.open(objectPath);
  {
    using object = spec.load({ programs: ['each_map', 'on_sys_enter'] });
    for (const program of object.programs.values()) {
      assert.equal(program.attachBtfId, attachBtfId(spec.program(program.name)), `the kernel reports the id ${program.name} was loaded with`);
      assert.ok(program.info().verifiedInstructions > 0);
    }
  }
  let ftraceRefuses = false;
  try {
    readFileSync(path.join(ensureTracefs(t), 'available_filter_functions'), { encoding: 'utf8', flag: 'r' }).slice(0, 1);
  } catch (error) {
    ftraceRefuses = (error as { code?: string }).code === 'EPERM';
  }
  // bpftool on the same object: all programs, so it stops at the first one the kernel refuses.
  const bpftool = spawnSync('bpftool', ['prog', 'loadall', objectPath, path.join(pinDir(t, 'tracing'), 'progs')], { encoding: 'utf8' });
  assert.equal(bpftool.status === 0, !ftraceRefuses, `bpftool loads the trampoline programs exactly when ftrace lets this process: ${bpftool.stderr}`);
  for (const name of TRAMPOLINE_PROGRAMS) {
    if (!ftraceRefuses) {
      using object = spec.load({ programs: [name] });
      assert.equal(object.program(name).attachBtfId, attachBtfId(spec.program(name)));
      continue;
    }
    assert.throws(() => spec.load({ programs: [name] }), (e: unknown) => {
      assert.ok(e instanceof VerifierError, String(e));
      assert.equal(e.code, 'EPERM');
      assert.equal(e.program, name);
      assert.equal(e.log, '', 'refused before the verifier wrote anything');
      assert.match(e.message, /refused it before verifying it \(no verifier log\)/);
      return true;
    });
  }
  if (ftraceRefuses) assert.match(bpftool.stderr, /prog 'on_getpid_entry': BPF program load failed: Operation not permitted/);
});
