/**
 * Objects with CO-RE relocations and ksym externs load through BpfObject: the loader applies
 * core's relocator to copies of the sections and resolves `__ksym` externs while linking, and the
 * kernel's verifier accepts the result. A spec loads twice (relocation does not alter the spec).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, VerifierError } from '../../src/index.js';
import { needs } from '../helpers.js';
import { buildCoreObject } from './core-fixture.js';

test('a CO-RE object built against vmlinux.h loads, twice from one spec', needs('clang', 'bpftool'), () => {
  const spec = BpfObject.open(buildCoreObject('core_reloc'));
  assert.ok((spec.btfExt?.sections.size ?? 0) > 0);
  const before = spec.program('core_read_task').instructions;
  for (let round = 0; round < 2; round++) {
    using object = spec.load();
    for (const program of object.programs.values()) {
      const info = program.info();
      assert.ok(info.verifiedInstructions > 0, `${program.name} passed the verifier`);
      assert.ok(info.funcInfoCount >= 1);
    }
  }
  assert.deepEqual(spec.program('core_read_task').instructions, before, 'loading left the spec\'s instructions as clang wrote them');
});

test('ksym externs (typeless, weak, kfunc calls) resolve at load; an unresolvable typed ksym is the verifier\'s error', needs('clang', 'bpftool'), () => {
  const spec = BpfObject.open(buildCoreObject('ksym'));
  {
    using object = spec.load({ programs: ['ksym_read'] });
    assert.ok(object.program('ksym_read').info().verifiedInstructions > 0);
  }
  // runqueues is a per-CPU variable whose address the kernel knows only with CONFIG_KALLSYMS_ALL.
  try {
    spec.load({ programs: ['ksym_typed'] }).close();
  } catch (error) {
    assert.ok(error instanceof VerifierError);
    assert.match(error.log, /runqueues/);
  }
});
