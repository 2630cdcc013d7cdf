/**
 * `program.run()` (BPF_PROG_TEST_RUN) with data in and out, a context in and out, and repeat,
 * against `bpftool prog run` on the same pinned programs with the same input files: the return
 * value, the output packet (size and bytes) and the output context must be bpftool's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BpfError, BpfObject } from '../../src/index.js';
import { buildBpfObject, needs, pinDir, tempDir } from '../helpers.js';

const XDP_PASS = 2;
/** sizeof(struct __sk_buff) on current kernels; mark is at byte 8, priority at 32. */
const SKB_SIZE = 192;

/** Runs `bpftool prog run pinned PIN ...` and returns its return value and output files. */
function bpftoolRun(pin: string, dir: string, input: { data: Uint8Array; context?: Uint8Array; repeat?: number }): { returnValue: number; data: Buffer; context: Buffer | undefined } {
  const dataIn = path.join(dir, 'data_in');
  const dataOut = path.join(dir, 'data_out');
  const ctxIn = path.join(dir, 'ctx_in');
  const ctxOut = path.join(dir, 'ctx_out');
  writeFileSync(dataIn, input.data);
  const args = ['prog', 'run', 'pinned', pin, 'data_in', dataIn, 'data_out', dataOut];
  if (input.context) {
    writeFileSync(ctxIn, input.context);
    args.push('ctx_in', ctxIn, 'ctx_out', ctxOut);
  }
  if (input.repeat) args.push('repeat', String(input.repeat));
  const printed = execFileSync('bpftool', args, { encoding: 'utf8' });
  const returnValue = Number(/Return value: (\d+)/.exec(printed)?.[1]);
  return { returnValue, data: readFileSync(dataOut), context: input.context ? readFileSync(ctxOut) : undefined };
}

test('run(): data out, context in and out, and repeat give what bpftool prog run gives', needs('clang', 'bpftool'), (t) => {
  const dir = pinDir(t, 'prog-run');
  const files = tempDir(t, 'bpfmap-prog-run');
  using object = BpfObject.load(buildBpfObject('obj_run'));
  const shrink = object.program('shrink_packet');
  const bumpMark = object.program('bump_mark');
  shrink.pin(path.join(dir, 'shrink_packet'));
  bumpMark.pin(path.join(dir, 'bump_mark'));
  const packet = new Uint8Array(64).map((_, i) => i);

  const once = shrink.run({ data: packet });
  assert.equal(once.returnValue, XDP_PASS);
  assert.deepEqual([...(once.data ?? [])], [0xab, ...packet.subarray(5)], 'the packet lost 4 bytes and its new first byte was written');
  assert.deepEqual(Buffer.from(once.data ?? []), bpftoolRun(path.join(dir, 'shrink_packet'), files, { data: packet }).data);
  assert.ok(once.durationNs >= 0);
  // Repeated runs: the kernel keeps moving the same buffer's start (4 bytes a run), bpftool sees the same.
  const repeated = shrink.run({ data: packet, repeat: 5 });
  const theirs = bpftoolRun(path.join(dir, 'shrink_packet'), files, { data: packet, repeat: 5 });
  assert.equal(repeated.returnValue, theirs.returnValue);
  assert.deepEqual(Buffer.from(repeated.data ?? []), theirs.data);
  assert.equal(repeated.data?.length, 64 - 5 * 4);

  const context = new Uint8Array(SKB_SIZE);
  new DataView(context.buffer).setUint32(8, 10, true);
  const ours = bumpMark.run({ data: new Uint8Array(64), context, contextOut: new Uint8Array(SKB_SIZE) });
  const bpftool = bpftoolRun(path.join(dir, 'bump_mark'), files, { data: new Uint8Array(64), context });
  assert.equal(ours.returnValue, 10, 'the program saw the mark given in the context');
  assert.equal(bpftool.returnValue, 10);
  assert.ok(ours.context);
  const out = new DataView(ours.context.buffer, ours.context.byteOffset, ours.context.byteLength);
  assert.deepEqual([out.getUint32(8, true), out.getUint32(32, true)], [15, 7]);
  assert.deepEqual(Buffer.from(ours.context), bpftool.context);

  // An output buffer too small for the packet: the kernel's ENOSPC, named.
  assert.throws(() => shrink.run({ data: packet, dataOut: new Uint8Array(8) }), (e: unknown) => e instanceof BpfError && e.code === 'ENOSPC' && /shrink_packet/.test(e.message));
  assert.throws(() => shrink.run({ data: packet, repeat: -1 }), { name: 'RangeError', code: 'ERR_BPFMAP_OPTIONS' });
});
