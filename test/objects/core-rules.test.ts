/**
 * CO-RE matching rules on hand-built BTF, where the kernel side can be shaped at will: flavors that
 * agree and flavors that disagree (ambiguity is refused, as libbpf refuses it), members found
 * through anonymous unions, array elements and bounds, bitfields (offset, size, shifts), ld_imm64
 * values and poisoning, and module BTF consulted only when vmlinux has no candidate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf } from '../../src/codec/btf/btf.js';
import { BtfBuilder } from '../../src/codec/btf/writer.js';
import type { BtfMember } from '../../src/codec/btf/types.js';
import type { CoreRelocationKind, CoreRelocationRecord } from '../../src/objects/btf-ext.js';
import { CoreRelocator } from '../../src/objects/core/relocator.js';
import { POISON_HELPER_ID } from '../../src/objects/core/patch.js';
import { formatSpec } from '../../src/objects/core/spec.js';

const INT = { kind: 'int', name: 'int', size: 4, bits: 32, bitOffset: 0, signed: true, char: false, bool: false } as const;
const UINT = { kind: 'int', name: 'unsigned int', size: 4, bits: 32, bitOffset: 0, signed: false, char: false, bool: false } as const;

function member(name: string, type: number, bitOffset: number, bitfieldSize = 0): BtfMember {
  return { name, type, bitOffset, bitfieldSize };
}

/** A BTF from a function that adds types to a builder; returns the Btf and the ids by name. */
function build(add: (b: BtfBuilder, ids: Record<string, number>) => void): { btf: Btf; ids: Record<string, number> } {
  const builder = new BtfBuilder();
  const ids: Record<string, number> = {};
  add(builder, ids);
  return { btf: Btf.parse(builder.build()), ids };
}

/** The local (object) side: struct pair, struct outer with an array of pairs, struct bits, enum color. */
const local = build((b, ids) => {
  ids.int = b.add(INT);
  ids.uint = b.add(UINT);
  ids.pair = b.add({ kind: 'struct', name: 'pair', size: 8, members: [member('a', ids.int, 0), member('b', ids.int, 32)] });
  ids.pairs = b.add({ kind: 'array', name: '', type: ids.pair, indexType: ids.int, length: 3 });
  ids.outer = b.add({ kind: 'struct', name: 'outer', size: 28, members: [member('x', ids.int, 0), member('arr', ids.pairs, 32)] });
  ids.bits = b.add({ kind: 'struct', name: 'bits', size: 4, members: [member('flags', ids.uint, 0, 3), member('mode', ids.uint, 3, 5)] });
  ids.color = b.add({ kind: 'enum', name: 'color', size: 4, signed: false, values: [{ name: 'RED', value: 1 }, { name: 'BLUE', value: 2 }] });
  ids.big = b.add({ kind: 'enum64', name: 'big', size: 8, signed: false, values: [{ name: 'HUGE', value: 1n << 40n }] });
});

/** One `r0 = imm` (or ld_imm64 when `wide`) per value. */
function movs(values: readonly (number | bigint)[], wide = false): Uint8Array {
  const insns = new Uint8Array(values.length * (wide ? 16 : 8));
  const view = new DataView(insns.buffer);
  values.forEach((value, i) => {
    if (wide) {
      const v = BigInt(value);
      view.setUint8(i * 16, 0x18);
      view.setUint32(i * 16 + 4, Number(v & 0xffffffffn), true);
      view.setUint32(i * 16 + 12, Number(v >> 32n), true);
    } else {
      view.setUint8(i * 8, 0xb7);
      view.setInt32(i * 8 + 4, Number(value), true);
    }
  });
  return insns;
}

function record(insn: number, typeId: number, accessString: string, kind: CoreRelocationKind): CoreRelocationRecord {
  return { insn, typeId, accessString, kind };
}

function imm(insns: Uint8Array, insn: number): number {
  return new DataView(insns.buffer).getInt32(insn * 8 + 4, true);
}

test('flavors that agree relocate; flavors that disagree on an offset are refused as ambiguous', () => {
  const agreeing = build((b, ids) => {
    ids.int = b.add(INT);
    b.add({ kind: 'struct', name: 'pair', size: 12, members: [member('pad', ids.int, 0), member('a', ids.int, 32), member('b', ids.int, 64)] });
    b.add({ kind: 'struct', name: 'pair___v2', size: 16, members: [member('pad', ids.int, 0), member('a', ids.int, 32), member('b', ids.int, 64), member('c', ids.int, 96)] });
  });
  const insns = movs([4]);
  const [applied] = new CoreRelocator(local.btf, { target: { name: 'test', btf: agreeing.btf } }).apply(insns, [record(0, local.ids.pair as number, '0:1', 'field_byte_offset')]);
  assert.equal(applied?.value, 8n);
  assert.equal(imm(insns, 0), 8);

  const disagreeing = build((b, ids) => {
    ids.int = b.add(INT);
    b.add({ kind: 'struct', name: 'pair', size: 8, members: [member('a', ids.int, 0), member('b', ids.int, 32)] });
    b.add({ kind: 'struct', name: 'pair___v2', size: 8, members: [member('b', ids.int, 0), member('a', ids.int, 32)] });
  });
  assert.throws(() => new CoreRelocator(local.btf, { target: { name: 'test', btf: disagreeing.btf } }).apply(movs([4]), [record(0, local.ids.pair as number, '0:1', 'field_byte_offset')]),
    { name: 'CoreRelocationError', code: 'ERR_BPFMAP_CORE_AMBIGUOUS' });
  // libbpf compares the offsets before the values: even an existence check is ambiguous here.
  assert.throws(() => new CoreRelocator(local.btf, { target: { name: 'test', btf: disagreeing.btf } }).apply(movs([1]), [record(0, local.ids.pair as number, '0:1', 'field_exists')]),
    { name: 'CoreRelocationError', code: 'ERR_BPFMAP_CORE_AMBIGUOUS' });
});

test('members inside anonymous unions, array elements and their bounds', () => {
  const target = build((b, ids) => {
    ids.int = b.add(INT);
    ids.long = b.add({ kind: 'int', name: 'long', size: 8, bits: 64, bitOffset: 0, signed: true, char: false, bool: false });
    ids.anon = b.add({ kind: 'union', name: '', size: 4, members: [member('a', ids.int, 0)] });
    ids.pair = b.add({ kind: 'struct', name: 'pair', size: 12, members: [member('pad', ids.int, 0), member('', ids.anon, 32), member('b', ids.int, 64)] });
    ids.pairs = b.add({ kind: 'array', name: '', type: ids.pair, indexType: ids.int, length: 4 });
    b.add({ kind: 'struct', name: 'outer', size: 64, members: [member('y', ids.long, 0), member('x', ids.int, 64), member('arr', ids.pairs, 128)] });
  });
  const relocator = new CoreRelocator(local.btf, { target: { name: 'test', btf: target.btf } });
  // pair.a (local 0) is at 4 behind the anonymous union; outer.arr[2].b (local 4 + 16 + 4 = 24) is at 16 + 24 + 8 = 48.
  const insns = movs([0, 24, 8, 1]);
  const applied = relocator.apply(insns, [
    record(0, local.ids.pair as number, '0:0', 'field_byte_offset'),
    record(1, local.ids.outer as number, '0:1:2:1', 'field_byte_offset'),
    record(2, local.ids.outer as number, '0:1:2', 'field_byte_size'),
    record(3, local.ids.outer as number, '0:1:2', 'field_exists'),
  ]);
  assert.deepEqual([imm(insns, 0), imm(insns, 1), imm(insns, 2), imm(insns, 3)], [4, 48, 12, 1]);
  assert.match(applied[1]?.target ? formatSpec(applied[1].target.spec) : '', /outer\.arr\[2\]\.b \(0:2:2:2 @ offset 48\)/);

  // An element past the kernel array's end does not exist there: exists = 0, the offset poisoned.
  const short = build((b, ids) => {
    ids.int = b.add(INT);
    ids.pair = b.add({ kind: 'struct', name: 'pair', size: 8, members: [member('a', ids.int, 0), member('b', ids.int, 32)] });
    ids.pairs = b.add({ kind: 'array', name: '', type: ids.pair, indexType: ids.int, length: 2 });
    b.add({ kind: 'struct', name: 'outer', size: 20, members: [member('x', ids.int, 0), member('arr', ids.pairs, 32)] });
  });
  const bounded = movs([1, 24]);
  const results = new CoreRelocator(local.btf, { target: { name: 'test', btf: short.btf } }).apply(bounded, [
    record(0, local.ids.outer as number, '0:1:2', 'field_exists'),
    record(1, local.ids.outer as number, '0:1:2:1', 'field_byte_offset'),
  ]);
  assert.deepEqual(results.map((r) => [r.value, r.poisoned]), [[0n, false], [0n, true]]);
  assert.equal(bounded[8], 0x85);
  assert.equal(imm(bounded, 1), POISON_HELPER_ID);
});

test('bitfields: byte offset and size of the load, and the shifts that extract the bits', () => {
  const target = build((b, ids) => {
    ids.uint = b.add(UINT);
    b.add({ kind: 'struct', name: 'bits', size: 8, members: [member('x', ids.uint, 0, 30), member('mode', ids.uint, 30, 5)] });
  });
  // Local mode: bits 3..8 of a 4-byte word. Kernel mode: bits 30..35, which straddle the first
  // u32, so an 8-byte load at 0 is needed: lshift 64 - 35 = 29, rshift 64 - 5 = 59.
  const insns = movs([0, 4, 56, 59]);
  new CoreRelocator(local.btf, { target: { name: 'test', btf: target.btf } }).apply(insns, [
    record(0, local.ids.bits as number, '0:1', 'field_byte_offset'),
    record(1, local.ids.bits as number, '0:1', 'field_byte_size'),
    record(2, local.ids.bits as number, '0:1', 'field_lshift_u64'),
    record(3, local.ids.bits as number, '0:1', 'field_rshift_u64'),
  ]);
  assert.deepEqual([0, 1, 2, 3].map((i) => imm(insns, i)), [0, 8, 29, 59]);
});

test('enum values in ld_imm64, flavored enumerators, poisoning both halves of a missing value', () => {
  const target = build((b) => {
    b.add({ kind: 'enum64', name: 'big___kernel', size: 8, signed: false, values: [{ name: 'HUGE', value: 3n << 33n }] });
    b.add({ kind: 'enum', name: 'color', size: 4, signed: false, values: [{ name: 'BLUE', value: 7 }] });
  });
  const relocator = new CoreRelocator(local.btf, { target: { name: 'test', btf: target.btf } });
  const wide = movs([1n << 40n, 1], true);
  relocator.apply(wide, [
    record(0, local.ids.big as number, '0', 'enumval_value'),
    record(2, local.ids.color as number, '0', 'enumval_value'), // RED: not in the kernel enum
  ]);
  const view = new DataView(wide.buffer);
  assert.equal(view.getBigUint64(4, true) & 0xffffffffn, (3n << 33n) & 0xffffffffn);
  assert.equal(BigInt(view.getUint32(12, true)), (3n << 33n) >> 32n);
  assert.deepEqual([wide[16], wide[24]], [0x85, 0x85]);
  assert.deepEqual([view.getInt32(20, true), view.getInt32(28, true)], [POISON_HELPER_ID, POISON_HELPER_ID]);
  const narrow = movs([2]);
  relocator.apply(narrow, [record(0, local.ids.color as number, '1', 'enumval_value')]);
  assert.equal(imm(narrow, 0), 7);
});

test('module BTF is searched only when vmlinux has no candidate', () => {
  const vmlinux = build((b, ids) => {
    ids.int = b.add(INT);
    b.add({ kind: 'struct', name: 'outer', size: 8, members: [member('x', ids.int, 32)] });
  });
  let listed = 0;
  const module = build((b, ids) => {
    ids.int = b.add(INT);
    b.add({ kind: 'struct', name: 'pair', size: 16, members: [member('a', ids.int, 64), member('b', ids.int, 96)] });
  });
  const relocator = new CoreRelocator(local.btf, {
    target: { name: 'vmlinux', btf: vmlinux.btf },
    modules: () => { listed++; return [{ name: 'test_module', btf: module.btf }]; },
  });
  const insns = movs([0, 4]);
  const applied = relocator.apply(insns, [
    record(0, local.ids.outer as number, '0:0', 'field_byte_offset'),
    record(1, local.ids.pair as number, '0:1', 'field_byte_offset'),
  ]);
  assert.deepEqual([imm(insns, 0), imm(insns, 1)], [4, 12]);
  assert.deepEqual(applied.map((a) => a.target?.btf), ['vmlinux', 'test_module']);
  assert.equal(listed, 1, 'modules listed once, for the type vmlinux lacks');
});
