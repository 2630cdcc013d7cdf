/**
 * The BTF parser: vmlinux, both byte orders, longer headers, split BTF, every kind, and malformed
 * input (which must throw `BtfError` saying where, never crash or hang).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Btf } from '../../src/codec/btf/btf.js';
import { BtfError } from '../../src/codec/btf/errors.js';
import { BtfBuilder } from '../../src/codec/btf/writer.js';
import { btfCodec } from '../../src/codec/btf/codec.js';
import { fuzz } from './fuzz.js';
import { kernelBtf, readFileBounded, vmlinuxFromKernel } from '../../src/codec/btf/sources.js';
import { needs } from '../helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** A blob with one type of every kind. */
export function everyKindBlob(options: { littleEndian?: boolean; headerLength?: number } = {}): Uint8Array {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'int', name: 'int', size: 4, bits: 32, bitOffset: 0, signed: true, char: false, bool: false }); // 1
  const char = b.add({ kind: 'int', name: 'char', size: 1, bits: 8, bitOffset: 0, signed: true, char: false, bool: false }); // 2
  const ptr = b.add({ kind: 'ptr', name: '', type: int }); // 3
  const arr = b.add({ kind: 'array', name: '', type: char, indexType: int, length: 4 }); // 4
  const s = b.add({ kind: 'struct', name: 'pair', size: 16, members: [
    { name: 'a', type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: 'b', type: int, bitOffset: 32, bitfieldSize: 3 },
    { name: 'p', type: ptr, bitOffset: 64, bitfieldSize: 0 },
  ] }); // 5
  b.add({ kind: 'union', name: 'u', size: 4, members: [{ name: 'x', type: int, bitOffset: 0, bitfieldSize: 0 }, { name: 't', type: arr, bitOffset: 0, bitfieldSize: 0 }] }); // 6
  b.add({ kind: 'enum', name: 'e', size: 4, signed: true, values: [{ name: 'NEG', value: -1 }, { name: 'ONE', value: 1 }] }); // 7
  b.add({ kind: 'fwd', name: 'later', union: true }); // 8
  const td = b.add({ kind: 'typedef', name: 'pair_t', type: s }); // 9
  b.add({ kind: 'volatile', name: '', type: int }); // 10
  b.add({ kind: 'const', name: '', type: td }); // 11
  b.add({ kind: 'restrict', name: '', type: ptr }); // 12
  const proto = b.add({ kind: 'func_proto', name: '', returnType: int, params: [{ name: 'x', type: int }, { name: '', type: 0 }] }); // 13
  b.add({ kind: 'func', name: 'f', type: proto, linkage: 1 }); // 14
  const v = b.add({ kind: 'var', name: 'g', type: int, linkage: 1 }); // 15
  b.add({ kind: 'datasec', name: '.data', size: 4, vars: [{ type: v, offset: 0, size: 4 }] }); // 16
  b.add({ kind: 'float', name: 'double', size: 8 }); // 17
  b.add({ kind: 'decl_tag', name: 'tag', type: s, componentIndex: 1 }); // 18
  b.add({ kind: 'type_tag', name: 'user', type: int }); // 19
  b.add({ kind: 'enum64', name: 'e64', size: 8, signed: false, values: [{ name: 'BIG', value: 0xfedcba9876543210n }] }); // 20
  return b.build(options);
}

test('parses one type of every kind, in both byte orders and with a longer header', () => {
  const reference = Btf.parse(everyKindBlob());
  const kinds = [...reference.types()].map((t) => t.kind);
  assert.deepEqual(new Set(kinds).size, 19);
  for (const options of [{ littleEndian: false }, { littleEndian: true, headerLength: 32 }, { littleEndian: false, headerLength: 40 }]) {
    const btf = Btf.parse(everyKindBlob(options));
    assert.equal(btf.header.littleEndian, options.littleEndian);
    assert.deepEqual([...btf.types()], [...reference.types()]);
  }
  assert.equal(reference.size(9), 16);
  assert.equal(reference.alignment(5), 8);
  assert.equal(reference.typeByName('pair_t').kind, 'typedef');
  assert.equal(reference.resolve(11).name, 'pair');
  assert.deepEqual(reference.typeOfKind(20, 'enum64').values[0]?.value, 0xfedcba9876543210n);
  assert.equal(reference.findMember(5, 'b')?.member.bitfieldSize, 3);
});

test('big-endian codecs decode what little-endian ones do, byte-swapped', () => {
  const le = Btf.parse(everyKindBlob({ littleEndian: true }));
  const be = Btf.parse(everyKindBlob({ littleEndian: false }));
  const value = { a: -5, b: 3, p: 0x1122334455667788n };
  const leBytes = new Uint8Array(16);
  const beBytes = new Uint8Array(16);
  btfCodec(le, 5).encode(value, leBytes, 0);
  btfCodec(be, 5).encode(value, beBytes, 0);
  assert.deepEqual(btfCodec(le, 5).decode(leBytes, 0), value);
  assert.deepEqual(btfCodec(be, 5).decode(beBytes, 0), value);
  assert.deepEqual([...beBytes.subarray(0, 4)], [0xff, 0xff, 0xff, 0xfb]);
  assert.equal(beBytes[4], 3 << 5); // big-endian bitfields fill from the most significant bit
});

test('parses vmlinux lazily, with split BTF over it', { skip: existsSync(VMLINUX) ? undefined : 'no /sys/kernel/btf/vmlinux' }, () => {
  const bytes = readFileSync(VMLINUX);
  const vmlinux = Btf.parse(bytes);
  assert.ok(vmlinux.typeCount > 10000);
  // Lazy: parsing decodes no type record, and a lookup by name decodes only what it returns
  // (its speed is bench/btf.ts's business, not a test's).
  const decodedSoFar = (): number => (vmlinux as unknown as { decoded: unknown[] }).decoded.filter((type) => type !== undefined).length;
  assert.equal(decodedSoFar(), 0);
  const task = vmlinux.typeByName('task_struct', 'struct');
  assert.ok(decodedSoFar() <= 2, `typeByName decoded ${decodedSoFar()} types`);
  assert.ok(vmlinux.size(task.id) > 1000);
  assert.ok(vmlinux.findMember(task.id, 'pid'));
  // Every type decodes and every sized type resolves.
  for (const type of vmlinux.types()) {
    if (['int', 'struct', 'union', 'array', 'enum', 'enum64', 'ptr'].includes(type.kind)) vmlinux.size(type.id);
  }

  // Split BTF: one typedef over vmlinux's task_struct, naming a string of its own.
  const name = Buffer.from('\0my_task\0', 'latin1');
  const split = new Uint8Array(24 + 12 + name.length);
  const view = new DataView(split.buffer);
  view.setUint16(0, 0xeb9f, true);
  split[2] = 1;
  view.setUint32(4, 24, true);
  view.setUint32(12, 12, true);
  view.setUint32(16, 12, true);
  view.setUint32(20, name.length, true);
  view.setUint32(24, vmlinux.header.stringLength + 1, true); // name_off continues the base's strings
  view.setUint32(28, 8 << 24, true);
  view.setUint32(32, task.id, true);
  split.set(name, 36);
  const module = Btf.parse(split, { base: vmlinux });
  assert.equal(module.firstTypeId, vmlinux.lastTypeId + 1);
  const mine = module.typeByName('my_task');
  assert.equal(mine.id, vmlinux.lastTypeId + 1);
  assert.equal(module.resolve(mine.id).name, 'task_struct');
  assert.equal(module.type(task.id), task);
});

/** Expects a BtfError whose message says where. */
function rejects(bytes: Uint8Array, code: string, where: RegExp): void {
  assert.throws(() => {
    const btf = Btf.parse(bytes);
    for (const type of btf.types()) if (type.kind !== 'void') btf.size(type.id);
  }, (error: unknown) => error instanceof BtfError && error.code === code && where.test(error.message));
}

test('malformed blobs throw BtfError saying where', () => {
  const good = everyKindBlob();
  const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  rejects(good.subarray(0, 10), 'ERR_BTF_HEADER', /shorter than/);
  const badMagic = good.slice(); badMagic[0] = 0;
  rejects(badMagic, 'ERR_BTF_HEADER', /magic/);
  const longHeader = good.slice(); view(longHeader).setUint32(4, 1 << 20, true);
  rejects(longHeader, 'ERR_BTF_HEADER', /hdr_len/);
  rejects(good.subarray(0, good.length - 40), 'ERR_BTF_TRUNCATED', /section/);
  const unknownKind = good.slice(); view(unknownKind).setUint32(24 + 4, 25 << 24, true);
  rejects(unknownKind, 'ERR_BTF_BAD_TYPE', /type 1 at byte 0x1c: unknown kind 25/);
  const absurdVlen = good.slice(); view(absurdVlen).setUint32(24 + 4, (4 << 24) | 0xffff, true);
  rejects(absurdVlen, 'ERR_BTF_TRUNCATED', /vlen 65535/);
  const badString = good.slice(); view(badString).setUint32(24, 1 << 30, true);
  rejects(badString, 'ERR_BTF_BAD_STRING', /type 1: string offset/);
  const badRef = good.slice(); view(badRef).setUint32(24 + 32 + 8, 999, true); // ptr (type 3) → 999
  rejects(badRef, 'ERR_BTF_BAD_REFERENCE', /refers to type 999/);

  // Cycles: typedef chains and structs containing themselves.
  const b = new BtfBuilder();
  b.add({ kind: 'typedef', name: 'a', type: 2 });
  b.add({ kind: 'typedef', name: 'b', type: 1 });
  b.add({ kind: 'struct', name: 's', size: 4, members: [{ name: 'self', type: 3, bitOffset: 0, bitfieldSize: 0 }] });
  const cyclic = Btf.parse(b.build());
  assert.throws(() => cyclic.size(1), (e: unknown) => e instanceof BtfError && e.code === 'ERR_BTF_CYCLE');
  assert.throws(() => cyclic.resolve(1), (e: unknown) => e instanceof BtfError && e.code === 'ERR_BTF_CYCLE');
  assert.throws(() => btfCodec(cyclic, 3), (e: unknown) => e instanceof BtfError && e.code === 'ERR_BTF_CYCLE');
  assert.throws(() => cyclic.alignment(3), (e: unknown) => e instanceof BtfError && e.code === 'ERR_BTF_CYCLE');
});

test('fuzz: mutated blobs never crash, hang or throw anything but BtfError', () => {
  fuzz({ seeds: [everyKindBlob(), everyKindBlob({ littleEndian: false, headerLength: 28 })], runs: 100_000 });
});

test('codecs skip unnamed padding members and refuse duplicate member names (found by fuzzing)', () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'int', name: 'int', size: 4, bits: 32, bitOffset: 0, signed: true, char: false, bool: false });
  const bytes4 = b.add({ kind: 'array', name: '', type: int, indexType: int, length: 1 });
  const padded = b.add({ kind: 'struct', name: 'padded', size: 8, members: [
    { name: 'a', type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: '', type: int, bitOffset: 32, bitfieldSize: 3 },
  ] });
  const twice = b.add({ kind: 'union', name: 'twice', size: 4, members: [
    { name: 'x', type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: 'x', type: bytes4, bitOffset: 0, bitfieldSize: 0 },
  ] });
  const btf = Btf.parse(b.build());
  const codec = btfCodec(btf, padded);
  assert.deepEqual(codec.decode(Uint8Array.of(1, 0, 0, 0, 7, 0, 0, 0), 0), { a: 1 });
  const encoded = new Uint8Array(8);
  codec.encode({ a: 2 }, encoded, 0);
  assert.deepEqual(encoded, Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0));
  assert.throws(() => btfCodec(btf, twice), (error: unknown) => error instanceof BtfError && error.code === 'ERR_BTF_BAD_TYPE' && /member 'x' appears twice/.test(error.message));
});

test('lookups by name: the scans before the name index and the index agree, names inside other strings and base strings included', { skip: existsSync(VMLINUX) ? undefined : 'no /sys/kernel/btf/vmlinux' }, () => {
  const bytes = readFileSync(VMLINUX);
  const indexed = Btf.parse(bytes);
  // Past the scans a blob answers before building its name index.
  for (let i = 0; i < 20; i++) indexed.typesByName(`no such type ${i}`);
  const names = new Set<string>();
  for (let id = 1; id <= indexed.lastTypeId; id += 997) names.add(indexed.type(id).name);
  names.add('task_struct').add('file').add('pid');
  for (const name of names) {
    const fresh = Btf.parse(bytes);
    assert.deepEqual(fresh.typesByName(name).map((t) => t.id), indexed.typesByName(name).map((t) => t.id), `typesByName('${name}')`);
    if (name === '') continue;
    const prefixed: number[] = [];
    for (let id = 1; id <= indexed.lastTypeId; id++) if (indexed.type(id).name.startsWith(name)) prefixed.push(id);
    assert.deepEqual(fresh.idsWithNamePrefix(name), prefixed, `idsWithNamePrefix('${name}')`);
  }

  // Split BTF: a typedef named by one of vmlinux's strings (module BTF reuses them), one whose
  // name offset points inside a longer string of its own ('my_task' inside 'xmy_task'), and one
  // named 'my_task_struct'.
  const task = indexed.typeByName('task_struct', 'struct');
  const baseNameOffset = bytes.indexOf(Buffer.from('\0task_struct\0', 'latin1'), 24 + indexed.header.stringOffset) - 24 - indexed.header.stringOffset + 1;
  const strings = Buffer.from('\0xmy_task\0my_task_struct\0', 'latin1');
  const base = indexed.header.stringLength;
  const split = new Uint8Array(24 + 36 + strings.length);
  const view = new DataView(split.buffer);
  view.setUint16(0, 0xeb9f, true);
  split[2] = 1;
  view.setUint32(4, 24, true);
  view.setUint32(12, 36, true);
  view.setUint32(16, 36, true);
  view.setUint32(20, strings.length, true);
  for (const [i, nameOffset] of [baseNameOffset, base + 2, base + 10].entries()) {
    view.setUint32(24 + i * 12, nameOffset, true);
    view.setUint32(28 + i * 12, 8 << 24, true);
    view.setUint32(32 + i * 12, task.id, true);
  }
  split.set(strings, 60);
  const first = indexed.lastTypeId + 1;
  const scanned = Btf.parse(split, { base: indexed });
  assert.deepEqual(scanned.typesByName('my_task').map((t) => t.id), [first + 1]);
  assert.deepEqual(scanned.typesByName('task_struct').map((t) => t.id), [task.id, first]);
  assert.deepEqual(scanned.idsWithNamePrefix('my_task'), [first + 1, first + 2]);
  assert.deepEqual(scanned.idsWithNamePrefix('task_struct'), [first]);
  const moduleIndexed = Btf.parse(split, { base: indexed });
  for (let i = 0; i < 20; i++) moduleIndexed.typesByName(`no such type ${i}`);
  assert.deepEqual(moduleIndexed.typesByName('my_task').map((t) => t.id), [first + 1]);
  assert.deepEqual(moduleIndexed.typesByName('task_struct').map((t) => t.id), [task.id, first]);
});

test('a blob read as 32-bit words and the same blob at an odd address parse alike', () => {
  const blob = everyKindBlob();
  const odd = new Uint8Array(blob.length + 1).subarray(1);
  odd.set(blob);
  const aligned = Btf.parse(blob);
  const unaligned = Btf.parse(odd);
  assert.equal(unaligned.lastTypeId, aligned.lastTypeId);
  for (let id = 1; id <= aligned.lastTypeId; id++) assert.deepEqual(unaligned.type(id), aligned.type(id));
  for (const name of ['pair', 'u', 'e', 'later', 'int']) {
    assert.deepEqual(unaligned.typesByName(name).map((t) => t.id), aligned.typesByName(name).map((t) => t.id));
    assert.deepEqual(unaligned.idsWithNamePrefix(name), aligned.idsWithNamePrefix(name));
  }
});

test('kernelBtf copies vmlinux BTF out of the kernel byte for byte as /sys/kernel/btf/vmlinux serves it', needs(), () => {
  // As root the bytes come from the kernel's vmlinux BTF object (one OBJ_GET_INFO_BY_FD); the
  // sysfs file is the fallback. Both must be the same blob, or CO-RE would differ between them.
  const fromKernel = vmlinuxFromKernel();
  assert.ok(fromKernel, 'a root process finds the vmlinux BTF object');
  const fromFile = readFileBounded(VMLINUX);
  assert.equal(fromKernel.length, fromFile.length);
  assert.ok(Buffer.from(fromKernel).equals(Buffer.from(fromFile)), 'same bytes');
  assert.ok(kernelBtf().typeByName('task_struct', 'struct').id > 0);
});
