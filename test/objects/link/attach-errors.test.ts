/**
 * Attaching by section name to targets the kernel lacks: each failure is a BpfAttachError that
 * names the program, its ELF section, the attach kind and the target, with a stable code
 * (a missing tracepoint or raw tracepoint: ERR_BPFMAP_ATTACH_SYMBOL; a kprobe: the same, or
 * ERR_BPFMAP_ATTACH_UNSUPPORTED on kernels without kprobes), and leaves no link behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachProgram, BpfAttachError, BpfObject, kprobeUnsupportedReason } from '../../../src/index.js';
import { buildBpfObject, needs } from '../../helpers.js';
import { ensureTracefs, linksOfProgram } from './helpers.js';

test('a section naming a target the kernel lacks: the error names the program, section, kind and target', needs('clang', 'bpftool'), (t) => {
  ensureTracefs(t);
  using object = BpfObject.load(buildBpfObject('obj_attach_errors'));
  const expected = [
    ['missing_tracepoint', 'tracepoint/bpfmap_no_category/bpfmap_no_event', 'tracepoint', 'bpfmap_no_category/bpfmap_no_event', 'ERR_BPFMAP_ATTACH_SYMBOL'],
    ['missing_raw_tracepoint', 'raw_tp/bpfmap_no_raw_tracepoint', 'raw_tracepoint', 'bpfmap_no_raw_tracepoint', 'ERR_BPFMAP_ATTACH_SYMBOL'],
    ['missing_function', 'kprobe/bpfmap_no_such_function', 'kprobe', 'bpfmap_no_such_function', kprobeUnsupportedReason() ? 'ERR_BPFMAP_ATTACH_UNSUPPORTED' : 'ERR_BPFMAP_ATTACH_SYMBOL'],
  ] as const;
  for (const [name, section, kind, target, code] of expected) {
    const program = object.program(name);
    assert.throws(() => attachProgram(program), (e: unknown) => {
      assert.ok(e instanceof BpfAttachError, String(e));
      assert.deepEqual({ code: e.code, program: e.program, section: e.section, kind: e.kind, target: e.target }, { code, program: name, section, kind, target });
      assert.ok(e.message.startsWith(`attach ${kind} program '${name}' (section '${section}') to '${target}': `), e.message);
      return true;
    }, name);
    assert.deepEqual(linksOfProgram(program.id), []);
  }
});
