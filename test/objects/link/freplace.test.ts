/**
 * freplace: an extension program loaded against a global function of another loaded program
 * (test/fixtures/freplace_target.bpf.c, freplace_ext.bpf.c) changes that program's result while
 * linked, checked by BPF_PROG_TEST_RUN of the target, and the original comes back on close.
 * freplace needs BPF trampolines: where the kernel refuses them (ftrace refuses this process),
 * the test checks that the load fails for that reason and stops there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BpfObject, BpfAttachError, ObjectError, VerifierError, attachFreplace, attachProgram, ProgramType } from '../../../src/index.js';
import { buildBpfObject, needs } from '../../helpers.js';
import { ensureTracefs } from './helpers.js';

const XDP_DROP = 1;
const XDP_PASS = 2;

test('an freplace program replaces a global function of another program while linked', needs('clang'), (t) => {
  const target = BpfObject.load(buildBpfObject('freplace_target'));
  t.after(() => target.close());
  const main = target.program('xdp_main');
  const packet = new Uint8Array(64);
  assert.equal(main.run({ data: packet }).returnValue, XDP_PASS);

  const spec = BpfObject.open(buildBpfObject('freplace_ext'));
  assert.equal(spec.program('new_pick').type, ProgramType.ext);
  assert.throws(() => spec.load(), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_SECTION' && /setAttachTarget/.test(e.message));
  spec.program('new_pick').setAttachTarget(main);
  assert.throws(() => attachFreplace(main), (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'ERR_BPFMAP_PROGRAM_TYPE');
  let ext: BpfObject;
  try {
    ext = spec.load();
  } catch (error) {
    // freplace links go through BPF trampolines, as fentry does: a kernel whose ftrace refuses
    // this process refuses the program at load (libbpf's load fails the same way here).
    if (!(error instanceof VerifierError) || error.code !== 'EPERM') throw error;
    assert.equal(error.program, 'new_pick');
    assert.throws(() => readFileSync(path.join(ensureTracefs(t), 'available_filter_functions')), { code: 'EPERM' });
    t.diagnostic('this kernel refuses BPF trampolines (ftrace: EPERM), so freplace programs cannot load here');
    return;
  }
  t.after(() => ext.close());
  const replacement = ext.program('new_pick');
  assert.equal(replacement.typeName, 'ext');
  assert.ok(replacement.attachBtfId > 0, 'loaded against the target function');

  // By section name, onto the load-time target.
  const link = attachProgram(replacement);
  assert.ok(link);
  t.after(() => link.close());
  assert.equal(link.info().typeName, 'tracing');
  assert.equal(main.run({ data: packet }).returnValue, XDP_DROP, 'the replacement decides');
  link.close();
  assert.equal(main.run({ data: packet }).returnValue, XDP_PASS, 'restored after detach');

  // Again, naming the target (the load-time one is used up by the first link).
  const again = attachFreplace(replacement, { target: main, function: 'pick' });
  t.after(() => again.close());
  assert.equal(main.run({ data: packet }).returnValue, XDP_DROP);
  again.close();
  assert.equal(main.run({ data: packet }).returnValue, XDP_PASS);

  assert.throws(() => attachFreplace(replacement, { target: main, function: 'no_such_function' }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL');
});
