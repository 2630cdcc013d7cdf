/**
 * Externs the running kernel cannot satisfy, through a whole load, compared with what
 * `bpftool prog loadall` (libbpf) does with the same object: a strong `__ksym` is an ObjectError
 * naming the program, section, instruction and symbol; a strong `__kconfig` extern that the
 * kernel's configuration does not mention is refused instead of reading 0. (Weak ones reading 0:
 * load.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BpfObject, ObjectError } from '../../src/index.js';
import { buildBpfObject, needs, pinDir } from '../helpers.js';

/** bpftool's stderr for a loadall of `objectPath` that must fail. */
function bpftoolRefusal(objectPath: string, dir: string): string {
  const result = spawnSync('bpftool', ['prog', 'loadall', objectPath, path.join(dir, 'progs')], { encoding: 'utf8' });
  assert.notEqual(result.status, 0, 'bpftool refuses the object too');
  return result.stderr;
}

test('a missing strong __ksym fails the load naming the program, section, instruction and symbol', needs('clang', 'bpftool'), (t) => {
  const objectPath = buildBpfObject('obj_extern_ksym');
  assert.match(bpftoolRefusal(objectPath, pinDir(t, 'externs')), /bpfmap_extern_missing/);
  assert.throws(() => BpfObject.load(objectPath), (e: unknown) => {
    assert.ok(e instanceof ObjectError, String(e));
    assert.equal(e.code, 'ERR_BPFMAP_OBJECT_KSYM');
    assert.equal(e.symbol, 'bpfmap_extern_missing');
    assert.equal(e.program, 'strong_ksym');
    assert.equal(e.section, 'xdp');
    // llvm-objdump -dr: 0: r1 = seen ll; 2: r2 = bpfmap_extern_missing ll (R_BPF_64_64).
    assert.equal(e.instruction, 2, 'the ld_imm64 that loads its address');
    assert.match(e.message, /^program 'strong_ksym', section 'xdp', instruction 2: extern 'bpfmap_extern_missing' \(__ksym\): not in \/proc\/kallsyms/);
    return true;
  });
});

test('a strong kconfig extern the kernel configuration does not mention is refused, as libbpf refuses it', needs('clang', 'bpftool'), (t) => {
  const objectPath = buildBpfObject('obj_extern_kconfig');
  assert.match(bpftoolRefusal(objectPath, pinDir(t, 'externs')), /extern 'CONFIG_BPFMAP_EXTERN_MISSING' \(strong\): not resolved/);
  assert.throws(() => BpfObject.load(objectPath), (e: unknown) =>
    e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_KSYM' && e.symbol === 'CONFIG_BPFMAP_EXTERN_MISSING' && e.section === '.kconfig' && /declare it __weak/.test(e.message));
});
