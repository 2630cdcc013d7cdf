/**
 * #12's memory-safety rule for BPF_PROG_LOAD: JavaScript hands the addon the attribute's
 * pointer-free fields only. Every pointer, count and fd field of the bytes it passes is replaced
 * by the addon's own (instructions, license, log buffer, func/line info, fd_array, CO-RE
 * records, BTF fds), so filling those fields with garbage changes nothing: the program loads
 * and runs as if they were zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfProgram, ProgramType } from '../../src/index.js';
import { native } from '../../src/sys/native.js';
import { progLoadAttr, StructBuffer } from '../../src/sys/layout.js';
import { needs } from '../helpers.js';

/** `r0 = 2; exit`: XDP_PASS. */
const INSTRUCTIONS = new Uint8Array([0xb7, 0x00, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
/** union bpf_attr offsets of BPF_PROG_LOAD's pointer, count and fd fields (linux/bpf.h). */
const ADDON_FIELDS = {
  insn_cnt: [4, 4], insns: [8, 8], license: [16, 8], log_size: [28, 4], log_buf: [32, 8], prog_btf_fd: [72, 4],
  func_info_rec_size: [76, 4], func_info: [80, 8], func_info_cnt: [88, 4], line_info_rec_size: [92, 4], line_info: [96, 8],
  line_info_cnt: [104, 4], attach_btf_obj_fd: [112, 4], core_relo_cnt: [116, 4], fd_array: [120, 8], core_relos: [128, 8],
  core_relo_rec_size: [136, 4],
} as const;

test('BPF_PROG_LOAD: garbage in the pointer, count and fd fields JavaScript passes is replaced by the addon', needs(), () => {
  const attr = new StructBuffer(progLoadAttr).setU32('prog_type', ProgramType.xdp).setText('prog_name', 'attr_garbage');
  for (const [offset, size] of Object.values(ADDON_FIELDS)) attr.bytes.fill(0x41, offset, offset + size);
  const trueSize = new Uint32Array(1);
  const handle = native.progLoad(attr.bytes, INSTRUCTIONS, 'GPL', null, null, null, [], null, null, trueSize);
  if (typeof handle === 'number') assert.fail(`the kernel refused the load: errno ${-handle}`);
  using program = BpfProgram.adopt(handle, {});
  assert.equal(program.name, 'attr_garbage');
  assert.equal(program.info().xlatedSize, INSTRUCTIONS.length, 'the 2 instructions given, not 0x41414141 of them');
  assert.equal(program.run({ data: new Uint8Array(64) }).returnValue, 2);
  assert.deepEqual([...attr.bytes.subarray(8, 16)], new Array(8).fill(0x41), 'the caller\'s bytes are left as they were');
});
