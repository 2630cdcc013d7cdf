/**
 * Loading objects with BpfObject against the real kernel: the spec an object opens into, each
 * relocation kind (maps, global data, subprogram calls, bpf_loop callbacks, kconfig externs),
 * .rodata rewriting, global data read and written from both sides, maps-in-maps and prog_arrays
 * with initial values, pinned-map reuse and refusal, replaced maps, and the typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { release } from 'node:os';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { BpfObject, BpfMap, BpfError, MapFlags, ObjectError, VerifierError, PinMismatchError, ProgramType, AttachType } from '../../src/index.js';
import { buildBpfObject, bpftoolJson, needs, pinDir } from '../helpers.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;
const packet = (): Uint8Array => new Uint8Array(64);

test('an object opens into a spec of its maps, programs and variables, named as libbpf names them', needs('clang'), () => {
  const spec = BpfObject.open(buildBpfObject('obj_basic'));
  assert.equal(spec.name, 'obj_basic');
  assert.equal(spec.license, 'GPL');
  assert.deepEqual([...spec.maps.keys()].sort(), ['.bss', '.data', '.rodata', 'counts']);
  const rodata = spec.map('.rodata');
  assert.equal(rodata.name, 'obj_basi.rodata', 'libbpf keeps 8 characters of the object name before .rodata');
  assert.equal(rodata.flags, MapFlags.RDONLY_PROG | MapFlags.MMAPABLE);
  assert.equal(spec.map('.bss').name, 'obj_basi.bss');
  assert.equal(spec.map('.bss').valueSize, 24);
  const counts = spec.map('counts');
  assert.deepEqual([counts.typeName, counts.keySize, counts.valueSize, counts.maxEntries], ['hash', 4, 8, 16]);
  const xdp = spec.program('xdp_verdict');
  assert.equal(xdp.type, ProgramType.xdp);
  assert.equal(xdp.attachType, AttachType.xdp);
  const tracepoint = spec.program('count_getpid');
  assert.equal(tracepoint.typeName, 'tracepoint');
  assert.equal(tracepoint.attachType, undefined, 'libbpf passes no expected attach type for tracepoints');
  assert.equal(tracepoint.attachTarget, 'syscalls/sys_enter_getpid');
  assert.deepEqual([...spec.programs.keys()].sort(), ['count_getpid', 'xdp_loop', 'xdp_verdict'], 'subprograms in .text are not entry programs');
  assert.equal(spec.constant('verdict'), XDP_PASS);
  assert.equal(spec.constant('runs'), 7n);
  assert.deepEqual({ ...spec.variables.get('multiplier') }, { name: 'multiplier', map: '.rodata', offset: 8, size: 8, typeId: spec.variables.get('multiplier')?.typeId, constant: true });
  assert.throws(() => spec.program('nope'), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_NAME' && /xdp_verdict/.test(e.message));
  assert.throws(() => spec.setConstant('verdict', 1n << 40n), RangeError);
  assert.equal(spec.constant('verdict'), XDP_PASS, 'a refused value writes nothing');
});

test('.rodata rewriting changes what a program returns; globals are shared with the program both ways', needs('clang'), () => {
  const objectPath = buildBpfObject('obj_basic');
  {
    using object = BpfObject.load(objectPath);
    assert.equal(object.program('xdp_verdict').run({ data: packet() }).returnValue, XDP_PASS);
  }
  const spec = BpfObject.open(objectPath);
  spec.setConstant('verdict', XDP_DROP).setConstant('multiplier', 5n);
  using object = spec.load();
  const verdict = object.program('xdp_verdict');
  assert.equal(verdict.run({ data: packet() }).returnValue, XDP_DROP);
  // .data: initial 7, the program increments it on each run.
  assert.equal(object.globals.get('runs'), 8n);
  object.globals.set('runs', 100n);
  verdict.run({ data: packet(), repeat: 3 });
  assert.equal(object.globals.get('runs'), 103n, 'the program saw the value written from JavaScript');
  // The map reference: the program counted its runs in `counts` (typed through BTF).
  assert.deepEqual([...object.map<number, bigint>('counts')], [[1, 4n]]);
  // .bss, written by a bpf_loop callback (0+1+2+3+4) through a static subprogram (x3, x multiplier).
  assert.equal(object.program('xdp_loop').run({ data: packet() }).returnValue, XDP_PASS);
  assert.equal(object.globals.get('last_sum'), 10n * 3n * 5n);
  assert.deepEqual(object.globals.get('scratch'), [0, 103, 0, 0]);
  // .rodata is frozen once loaded; its mapping is read-only.
  assert.equal(object.map('.rodata').frozen, true);
  assert.throws(() => object.globals.set('verdict', 2), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_STATE');
  assert.equal(object.globals.get('verdict'), XDP_DROP);
  assert.throws(() => object.globals.get('nope'), { code: 'ERR_BPFMAP_OBJECT_NAME' });
  // Data maps are indexed by a u32 even though their BTF names no key type: a bad index is coded.
  assert.throws(() => object.map('.bss').get(-1 as never), { name: 'RangeError', code: 'ERR_BPFMAP_KEY_TYPE' });
});

test('an object path is read with a bound: a device is refused, not read without end', () => {
  assert.throws(() => BpfObject.open('/dev/zero'), { code: 'ERR_BTF_UNSUPPORTED', message: /larger than \d+ bytes/ });
});

test('programs share .text subprograms, each with its own copy; loaded programs carry func and line info', needs('clang'), () => {
  using object = BpfObject.load(buildBpfObject('obj_basic'), { logLevel: 1 });
  const loop = object.program('xdp_loop').info();
  const tracepoint = object.program('count_getpid').info();
  // xdp_loop has itself, add_index (callback) and triple; count_getpid has itself and triple.
  assert.equal(loop.funcInfoCount, 3);
  assert.equal(tracepoint.funcInfoCount, 2);
  assert.ok(loop.lineInfoCount > 0);
  assert.ok(loop.btfId > 0);
  assert.match(object.program('xdp_loop').verifierLog, /processed \d+ insns/);
  assert.equal(object.program('count_getpid').typeName, 'tracepoint');
  assert.equal(object.program('xdp_verdict').sectionName, 'xdp');
  assert.equal(object.program('xdp_verdict').attachType, AttachType.xdp);
});

test('maps-in-maps and prog_arrays get their initial values; kconfig externs read the running kernel', needs('clang'), (t) => {
  const dir = pinDir(t, 'loader-mim');
  const spec = BpfObject.open(buildBpfObject('obj_maps'));
  assert.deepEqual(spec.map('outer').slots, [{ index: 0, map: 'inner_a' }, { index: 2, map: 'inner_b' }]);
  assert.deepEqual(spec.map('jumps').slots, [{ index: 1, program: 'tail_target' }]);
  using object = spec.load({ pinPath: dir });
  const outer = object.map<Uint8Array, Uint8Array>('outer');
  const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
  const innerB = object.map<number, bigint>('inner_b');
  assert.equal(outer.getId(u32(0)), object.map('inner_a').id);
  assert.equal(outer.getId(u32(1)), undefined);
  assert.equal(outer.getId(u32(2)), innerB.id);
  innerB.set(1, 42n);
  assert.equal(object.program('read_inner').run({ data: packet() }).returnValue, 42, 'the program read inner_b through outer[2]');
  assert.equal(object.program('jump').run({ data: packet() }).returnValue, XDP_TX, 'the tail call reached jumps[1]');
  const [major = 0, minor = 0, patch = 0] = release().split(/[.-]/).map(Number);
  assert.equal(object.globals.get('seen_version'), BigInt((major << 16) + (minor << 8) + Math.min(patch, 255)));
  assert.equal(object.globals.get('seen_syscall'), 1n);
  assert.equal(object.globals.get('seen_missing'), 0n, 'a weak extern the kernel lacks reads 0');
  const kconfig = object.map('.kconfig');
  assert.equal(kconfig.name, 'obj_map.kconfig');
  assert.equal(kconfig.frozen, true);
  // .data.custom keeps its own name (no object prefix), as libbpf names custom sections.
  assert.equal(object.map('.data.custom').name, '.data.custom');
  assert.ok(existsSync(path.join(dir, 'shared_counts')), 'the map with LIBBPF_PIN_BY_NAME is pinned under pinPath');
});

test('a map pinned by name is reused by the next load, and an incompatible pin is refused naming what differs', needs('clang'), (t) => {
  const dir = pinDir(t, 'loader-pin');
  const objectPath = buildBpfObject('obj_maps');
  const first = BpfObject.load(objectPath, { pinPath: dir });
  const shared = first.map<number, bigint>('shared_counts');
  shared.set(0, 10n);
  const id = shared.id;
  first.close();
  {
    using second = BpfObject.load(objectPath, { pinPath: dir });
    assert.equal(second.map('shared_counts').id, id, 'the second load reused the pinned map');
    second.program('read_inner').run({ data: packet(), repeat: 2 });
    assert.equal(second.map<number, bigint>('shared_counts').get(0), 12n, 'the program of the second load counted into the first load\'s map');
  }
  const spec = BpfObject.open(objectPath);
  spec.map('shared_counts').maxEntries = 16;
  spec.map('shared_counts').flags = MapFlags.NO_PREALLOC;
  const before = BpfMap.openPinned(path.join(dir, 'shared_counts'));
  assert.throws(() => spec.load({ pinPath: dir }), (e: unknown) => {
    assert.ok(e instanceof PinMismatchError);
    assert.equal(e.code, 'ERR_BPFMAP_PIN_MISMATCH');
    assert.deepEqual(e.differences.map((d) => d.field), ['maxEntries', 'flags']);
    assert.match(e.message, /maxEntries is 8 there but 16 in the spec/);
    return true;
  });
  using after = BpfMap.openPinned(path.join(dir, 'shared_counts'));
  assert.equal(after.id, before.id, 'the refused load left the pin alone');
  before.close();
});

test('BpfMap.openOrCreatePinned creates, reuses, and refuses with the differences', needs(), (t) => {
  const dir = pinDir(t, 'loader-ocp');
  const pin = path.join(dir, 'counts');
  const spec = { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'ocp_counts' } as const;
  using created = BpfMap.openOrCreatePinned(pin, spec);
  using reused = BpfMap.openOrCreatePinned(pin, spec);
  assert.equal(reused.id, created.id);
  assert.throws(() => BpfMap.openOrCreatePinned(pin, { ...spec, type: 'array', valueSize: 16 }), (e: unknown) =>
    e instanceof PinMismatchError && e.differences.length === 2 && e.differences[0]?.field === 'type' && e.differences[0].pinned === 'hash' && e.differences[1]?.field === 'valueSize');
});

test('replaceMap makes two objects share one map', needs('clang'), () => {
  const objectPath = buildBpfObject('obj_basic');
  using first = BpfObject.load(objectPath);
  const spec = BpfObject.open(objectPath);
  spec.replaceMap('counts', first.map('counts'));
  using second = spec.load();
  assert.equal(second.map('counts').id, first.map('counts').id);
  second.program('xdp_verdict').run({ data: packet() });
  first.program('xdp_verdict').run({ data: packet() });
  assert.deepEqual([...first.map<number, bigint>('counts')], [[1, 2n]]);
  const wrong = BpfObject.open(objectPath);
  using small = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16 });
  wrong.replaceMap('counts', small as never);
  assert.throws(() => wrong.load(), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_MAP' && /valueSize is 4 but the object wants 8/.test(e.message));
  assert.equal(small.closed, false, 'a replacement map stays the caller\'s');
});

test('errors name the program, section and instruction: verifier refusal with its log, unknown section, unsupported relocation', needs('clang'), () => {
  const objectPath = buildBpfObject('obj_errors');
  const spec = BpfObject.open(objectPath);
  assert.equal(spec.program('strange_section').type, 0);
  assert.throws(() => spec.load({ programs: ['out_of_bounds'] }), (e: unknown) => {
    assert.ok(e instanceof VerifierError);
    assert.ok(e instanceof BpfError);
    assert.equal(e.name, 'VerifierError');
    assert.equal(e.program, 'out_of_bounds');
    assert.equal(e.section, 'xdp');
    assert.equal(e.command, 'PROG_LOAD');
    assert.match(e.log, /out of bounds|invalid/);
    assert.match(e.message, /program 'out_of_bounds' \(section 'xdp'\)/);
    return true;
  });
  assert.throws(() => spec.load({ programs: ['strange_section'] }), (e: unknown) =>
    e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_SECTION' && e.program === 'strange_section' && e.section === 'not_a_known_section');
  {
    using fine = spec.load({ programs: ['fine'] });
    assert.equal(fine.program('fine').run({ data: packet() }).returnValue, XDP_PASS);
    assert.deepEqual([...fine.programs.keys()], ['fine']);
  }
  // A relocation the loader cannot resolve: a ksym extern, written into a copy of obj_basic's
  // .rel section by pointing the `counts` relocation at an undefined symbol.
  const bytes = new Uint8Array(readFileSync(buildBpfObject('obj_basic')));
  const broken = BpfObject.open(bytes);
  const xdpSection = [...broken.code.values()].find((s) => s.name === 'xdp');
  assert.ok(xdpSection);
  const [index] = [...xdpSection.relocations].find(([, r]) => r.kind === 'map') ?? [];
  assert.ok(index !== undefined);
  xdpSection.relocations.set(index, { kind: 'unsupported', reason: 'test', symbol: 'counts' });
  assert.throws(() => broken.load(), (e: unknown) =>
    e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_RELOCATION' && e.program === 'xdp_verdict' && e.section === 'xdp' && e.instruction === index);
  assert.throws(() => BpfObject.open(new Uint8Array(64)), (e: unknown) => e instanceof ObjectError && e.code === 'ERR_BPFMAP_OBJECT_ELF');
});

test('maps created by the loader match what bpftool shows (types, flags, frozen, BTF)', needs('clang', 'bpftool'), () => {
  using object = BpfObject.load(buildBpfObject('obj_basic'));
  interface Shown { name: string; type: string; flags: number; bytes_value: number; frozen?: number; btf_id?: number }
  const rodata = bpftoolJson<Shown>('map', 'show', 'id', String(object.map('.rodata').id));
  assert.equal(rodata.name, 'obj_basi.rodata');
  assert.equal(rodata.flags, MapFlags.RDONLY_PROG | MapFlags.MMAPABLE);
  assert.equal(rodata.frozen, 1);
  assert.ok((rodata.btf_id ?? 0) > 0);
  const dump = bpftoolJson<Array<{ formatted?: { value: { '.rodata': Array<Record<string, unknown>> } } }>>('map', 'dump', 'id', String(object.map('.rodata').id));
  assert.deepEqual(dump[0]?.formatted?.value['.rodata'], [{ verdict: XDP_PASS }, { multiplier: 1 }]);
});
