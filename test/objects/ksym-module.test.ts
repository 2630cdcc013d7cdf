/**
 * kfuncs of kernel modules: the call names the module's BTF by its index in the program's
 * fd_array (insn.off), as libbpf does. The kernel this was written on has no loadable modules
 * (no /proc/modules, only vmlinux under /sys/kernel/btf), so no module kfunc can be called for
 * real here, and the resolver's module search and the loader's fd_array slot for a module are
 * not exercised. What runs: the addon's fd_array plumbing against the kernel (a BTF object at
 * the index `off` names reaches the verifier, which refuses vmlinux BTF there by name), the
 * instruction encoding and its errors, and the check that this kernel indeed has no modules.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { native, type NativeObject } from '../../src/sys/native.js';
import { Command } from '../../src/sys/commands.js';
import { idAttr, progLoadAttr, StructBuffer } from '../../src/sys/layout.js';
import { btfFromHandle } from '../../src/codec/btf/sources.js';
import { applyKsym } from '../../src/objects/ksym.js';
import { ObjectError } from '../../src/index.js';
import { needs } from '../helpers.js';

const XDP = 6;

/** A handle on the kernel's vmlinux BTF object. */
function vmlinuxBtfHandle(): NativeObject<'btf'> {
  const attr = new StructBuffer(idAttr);
  let id = 0;
  for (;;) {
    attr.setU32('id', id).setU32('next_id', 0);
    assert.equal(native.bpfPlain(Command.BTF_GET_NEXT_ID, attr.bytes), 0, 'vmlinux BTF must be loaded');
    id = attr.u32('next_id');
    const handle = native.objGetById<'btf'>(Command.BTF_GET_FD_BY_ID, id, 0);
    if (typeof handle === 'number') continue;
    const { kernel, name } = btfFromHandle(handle);
    if (kernel && name === 'vmlinux') return handle;
    native.objClose(handle);
  }
}

/** call (src_reg 2: kfunc) with off and imm; r0 = 0; exit. */
function kfuncProgram(off: number, btfId: number): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 0x85);
  view.setUint8(1, 2 << 4);
  view.setInt16(2, off, true);
  view.setInt32(4, btfId, true);
  view.setUint8(8, 0xb7); // mov r0, 0
  view.setUint8(16, 0x95); // exit
  return bytes;
}

test('fd_array: a BTF object given for a kfunc call reaches the kernel at the index insn.off names', needs(), (t) => {
  const vmlinux = vmlinuxBtfHandle();
  t.after(() => native.objClose(vmlinux));
  const attr = new StructBuffer(progLoadAttr).setU32('prog_type', XDP).setU32('log_level', 1);
  const log = new Uint8Array(1 << 16);
  // Index 0 is padding (off 0 means vmlinux); the call names index 1.
  const result = native.progLoad(attr.bytes, kfuncProgram(1, 1), 'GPL', log, null, null, [vmlinux, vmlinux], null, null, new Uint32Array(1));
  assert.equal(typeof result, 'number', 'the kernel must refuse vmlinux BTF in a kfunc slot');
  const text = Buffer.from(log.subarray(0, log.indexOf(0))).toString();
  assert.match(text, /BTF fd for kfunc is not a module BTF/, 'the verifier read a BTF object from fd_array[1]');
  // Without fd_array, the same call is refused before any BTF is read.
  log.fill(0);
  assert.equal(typeof native.progLoad(attr.bytes, kfuncProgram(1, 1), 'GPL', log, null, null, [], null, null, new Uint32Array(1)), 'number');
  assert.match(Buffer.from(log.subarray(0, log.indexOf(0))).toString(), /fd_array/);
  // A map index may never name a BTF entry of fd_array.
  const mapLoad = new Uint8Array(24);
  mapLoad[0] = 0x18;
  mapLoad[1] = (5 << 4) | 1; // ld_imm64 r1, map index 0
  mapLoad[16] = 0x95;
  assert.throws(() => native.progLoad(attr.bytes, mapLoad, 'GPL', null, null, null, [vmlinux], null, null, new Uint32Array(1)), { code: 'ERR_BPFMAP_PROGRAM' });
});

test('module kfunc calls: off is the fd_array index of the module BTF, never 0', () => {
  const call = kfuncProgram(0, 0).subarray(0, 8).slice();
  applyKsym(call, 0, { kind: 'btf', name: 'mod_kfunc', declared: 'func', btfId: 70123, module: 'some_mod' }, { fdArrayIndex: 3 });
  const view = new DataView(call.buffer);
  assert.equal(view.getUint8(1) >> 4, 2);
  assert.equal(view.getInt16(2, true), 3);
  assert.equal(view.getInt32(4, true), 70123);
  for (const fdArrayIndex of [undefined, 0, 40000]) {
    assert.throws(() => applyKsym(call, 0, { kind: 'btf', name: 'mod_kfunc', declared: 'func', btfId: 1, module: 'some_mod' }, fdArrayIndex === undefined ? {} : { fdArrayIndex }), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_RELOCATION');
  }
  applyKsym(call, 0, { kind: 'btf', name: 'vmlinux_kfunc', declared: 'func', btfId: 5 });
  assert.equal(view.getInt16(2, true), 0, 'vmlinux kfuncs keep off 0');
});

test('this kernel has no module BTF, so module kfuncs cannot be called here', needs(), (t) => {
  const modules = readdirSync('/sys/kernel/btf').filter((name) => name !== 'vmlinux');
  if (modules.length > 0) {
    t.diagnostic(`modules with BTF here: ${modules.join(', ')}`);
    return;
  }
  assert.ok(!existsSync('/proc/modules'), 'modules are loaded, yet none has BTF');
  t.diagnostic('no loadable modules (no /proc/modules, only vmlinux under /sys/kernel/btf)');
});
