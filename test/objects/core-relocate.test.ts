/**
 * CO-RE relocations against the running kernel, checked against libbpf: test/fixtures/
 * core_reloc.bpf.c is built against a vmlinux.h of this kernel, loaded by the system libbpf (which
 * relocates it itself), and every instruction bpfmap relocates must equal libbpf's, byte for byte.
 * The fixture covers every kind clang 14 emits (field offset/size/exists/signed/lshift/rshift,
 * type id local/target, type exists/size, enum value exists/value), flavors, fields that changed
 * width (a load narrowed, a load poisoned), missing fields and types; type_matches, which clang 14
 * cannot emit, is reached by rewriting the kind of two records in the object's .BTF.ext.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bpftoolJson, needs } from '../helpers.js';
import { Btf } from '../../src/codec/btf/btf.js';
import { elfSection, elfSections } from '../../src/codec/btf/elf.js';
import { kernelBtf } from '../../src/codec/btf/sources.js';
import { CORE_RELOCATION_KINDS, parseBtfExt, type BtfExt, type CoreRelocationRecord } from '../../src/objects/btf-ext.js';
import { CoreRelocator, type AppliedCoreRelocation } from '../../src/objects/core/relocator.js';
import { POISON_HELPER_ID } from '../../src/objects/core/patch.js';
import { buildCoreObject, libbpfInstructions, patchedObject } from './core-fixture.js';

/** The fixture's programs by ELF section. */
const PROGRAMS: Record<string, string> = {
  'raw_tp/sys_enter': 'core_read_task',
  'tp_btf/sys_enter': 'core_direct',
};

interface Relocated {
  readonly btf: Btf;
  readonly ext: BtfExt;
  readonly sections: Map<string, { insns: Uint8Array; applied: AppliedCoreRelocation[] }>;
}

function relocate(objectPath: string): Relocated {
  const object = new Uint8Array(readFileSync(objectPath));
  const btf = Btf.parse(elfSection(object, '.BTF') as Uint8Array);
  const ext = parseBtfExt(elfSection(object, '.BTF.ext') as Uint8Array, btf);
  const relocator = new CoreRelocator(btf);
  const sections = new Map<string, { insns: Uint8Array; applied: AppliedCoreRelocation[] }>();
  for (const section of ext.sections.values()) {
    if (section.coreRelocations.length === 0) continue;
    const insns = (elfSection(object, section.name) as Uint8Array).slice();
    sections.set(section.name, { insns, applied: relocator.apply(insns, section.coreRelocations, { section: section.name, program: PROGRAMS[section.name] ?? '?' }) });
  }
  return { btf, ext, sections };
}

/** Compares every relocated instruction (both halves of an ld_imm64) with libbpf's. */
function assertSameAsLibbpf(relocated: Relocated, libbpf: Map<string, Uint8Array>): number {
  let compared = 0;
  for (const [section, { insns, applied }] of relocated.sections) {
    const program = PROGRAMS[section];
    assert.ok(program, `the fixture's section ${section} is known`);
    const theirs = libbpf.get(program);
    assert.ok(theirs, `libbpf loaded ${program}`);
    for (const relocation of applied) {
      const width: number = insns[relocation.insn * 8] === 0x18 || (relocation.poisoned && theirs[relocation.insn * 8 + 8] === 0x85 && relocation.kind !== 'field_exists') ? 16 : 8;
      const at = relocation.insn * 8;
      assert.equal(
        Buffer.from(insns.subarray(at, at + width)).toString('hex'),
        Buffer.from(theirs.subarray(at, at + width)).toString('hex'),
        `${program} insn ${relocation.insn}: ${relocation.kind} '${relocation.accessString}' (ours ${relocation.value}${relocation.poisoned ? ', poisoned' : ''})`,
      );
      compared++;
    }
  }
  return compared;
}

function find(relocated: Relocated, section: string, predicate: (r: AppliedCoreRelocation) => boolean): AppliedCoreRelocation[] {
  return relocated.sections.get(section)?.applied.filter(predicate) ?? [];
}

test('every relocated instruction equals libbpf\'s for the running kernel', needs('clang', 'bpftool', 'gcc'), () => {
  const objectPath = buildCoreObject('core_reloc');
  const relocated = relocate(objectPath);
  const compared = assertSameAsLibbpf(relocated, libbpfInstructions(objectPath));
  assert.ok(compared >= 30, `${compared} relocations compared`);
  const kinds = new Set([...relocated.sections.values()].flatMap((s) => s.applied.map((a) => a.kind)));
  assert.deepEqual([...kinds].sort(), CORE_RELOCATION_KINDS.filter((k) => k !== 'type_matches').sort(), 'every kind clang emits is exercised');

  // What the values mean, from the kernel's own BTF as bpftool reads it.
  const tracepoint = 'raw_tp/sys_enter';
  const vmlinux = kernelBtf();
  const task = vmlinux.typeByName('task_struct', 'struct');
  const kernelIds = bpftoolJson<{ types: { id: number; kind: string; name: string; size?: number }[] }>('btf', 'dump', 'file', '/sys/kernel/btf/vmlinux').types
    .filter((t) => t.kind === 'STRUCT' && t.name === 'task_struct');
  assert.deepEqual(find(relocated, tracepoint, (r) => r.kind === 'type_id_target').map((r) => r.value), [BigInt(kernelIds[0]?.id ?? -1)]);
  assert.deepEqual(find(relocated, tracepoint, (r) => r.kind === 'type_size').map((r) => r.value), [BigInt(kernelIds[0]?.size ?? -1)]);
  assert.deepEqual(find(relocated, tracepoint, (r) => r.kind === 'field_byte_offset' && r.accessString === '0:92').map((r) => r.value), [BigInt((vmlinux.findMember(task.id, 'pid')?.bitOffset ?? -8) / 8)]);
  // The missing field of the ___old flavor: exists = 0 and its guarded read poisoned.
  const old = find(relocated, tracepoint, (r) => relocated.btf.type(r.localTypeId).name === 'task_struct___old' && r.accessString === '0:1');
  assert.deepEqual(old.map((r) => [r.kind, r.value, r.poisoned]), [['field_exists', 0n, false], ['field_byte_offset', 0n, true]]);
  const { insns } = relocated.sections.get(tracepoint) ?? { insns: new Uint8Array() };
  const poisonedAt = (old[1]?.insn ?? 0) * 8;
  assert.equal(insns[poisonedAt], 0x85);
  assert.equal(new DataView(insns.buffer).getInt32(poisonedAt + 4, true), POISON_HELPER_ID);
  // The type the kernel lacks, the enumerator it lacks.
  assert.deepEqual(find(relocated, tracepoint, (r) => r.kind === 'type_exists').map((r) => [relocated.btf.type(r.localTypeId).name, r.value]),
    [['task_struct', 1n], ['core_not_in_kernel', 0n], ['task_struct___subset', 1n]]);
  assert.deepEqual(find(relocated, tracepoint, (r) => r.kind.startsWith('enumval')).map((r) => [r.kind, r.value]),
    [['enumval_exists', 1n], ['enumval_value', 27n], ['enumval_exists', 0n]]);
  // The shuffled layout: offsets moved to the kernel's, flags narrowed, pid poisoned, enum 99 -> 27.
  const direct = find(relocated, 'tp_btf/sys_enter', () => true);
  assert.ok(direct.some((r) => r.accessString === '0:0' && r.original === 0n && r.value === BigInt((vmlinux.findMember(task.id, 'flags')?.bitOffset ?? 0) / 8)));
  assert.ok(direct.some((r) => r.accessString === '0:2' && r.poisoned), 'the signed pid that changed width is poisoned');
  assert.ok(direct.some((r) => r.kind === 'enumval_value' && r.original === 99n && r.value === 27n));
});

/** Rewrites the kind (and optionally the local type) of the CO-RE record at `section`/`insn` in the object bytes. */
function rewriteRecord(bytes: Uint8Array, btf: Btf, section: string, insn: number, kind: number, typeId?: number): void {
  const ext = elfSections(bytes).find((s) => s.name === '.BTF.ext');
  assert.ok(ext);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const headerLength = view.getUint32(ext.offset + 4, true);
  const start = ext.offset + headerLength + view.getUint32(ext.offset + 24, true);
  const end = start + view.getUint32(ext.offset + 28, true);
  const recordSize = view.getUint32(start, true);
  for (let at = start + 4; at < end;) {
    const name = btf.string(view.getUint32(at, true));
    const count = view.getUint32(at + 4, true);
    at += 8;
    for (let i = 0; i < count; i++, at += recordSize) {
      if (name === section && view.getUint32(at, true) === insn * 8) {
        view.setUint32(at + 12, kind, true);
        if (typeId !== undefined) view.setUint32(at + 4, typeId, true);
        return;
      }
    }
  }
  assert.fail(`no CO-RE record at ${section} insn ${insn}`);
}

test('type_matches, written into the object\'s .BTF.ext, resolves as libbpf resolves it', needs('clang', 'bpftool', 'gcc'), () => {
  const original = buildCoreObject('core_reloc');
  const before = relocate(original);
  const section = 'raw_tp/sys_enter';
  const exists = find(before, section, (r) => r.kind === 'type_exists');
  const byName = (name: string): AppliedCoreRelocation => {
    const found = exists.find((r) => before.btf.type(r.localTypeId).name === name);
    assert.ok(found, name);
    return found;
  };
  const shuffled = before.btf.typeByName('task_struct___shuffled', 'struct');
  const matchesKind = CORE_RELOCATION_KINDS.indexOf('type_matches');
  const objectPath = patchedObject(original, 'matches', (bytes) => {
    rewriteRecord(bytes, before.btf, section, byName('task_struct').insn, matchesKind);
    rewriteRecord(bytes, before.btf, section, byName('task_struct___subset').insn, matchesKind);
    // The shuffled layout's flags is 8 bytes here, 4 in the kernel: no match.
    rewriteRecord(bytes, before.btf, section, byName('core_not_in_kernel').insn, matchesKind, shuffled.id);
  });
  const relocated = relocate(objectPath);
  assertSameAsLibbpf(relocated, libbpfInstructions(objectPath));
  const matches = find(relocated, section, (r) => r.kind === 'type_matches');
  assert.deepEqual(matches.map((r) => [relocated.btf.type(r.localTypeId).name, r.value]),
    // task_struct from vmlinux.h does not "match" the kernel's: type_matches compares int names,
    // and clang names 'unsigned long' what gcc (and so the kernel's BTF) names 'long unsigned int'.
    [['task_struct', 0n], ['task_struct___shuffled', 0n], ['task_struct___subset', 1n]]);
});

test('a relocation that cannot be applied is a CoreRelocationError naming program, section, instruction and access', needs('clang', 'bpftool'), () => {
  const object = new Uint8Array(readFileSync(buildCoreObject('core_reloc')));
  const btf = Btf.parse(elfSection(object, '.BTF') as Uint8Array);
  const section = 'raw_tp/sys_enter';
  const records = parseBtfExt(elfSection(object, '.BTF.ext') as Uint8Array, btf).sections.get(section)?.coreRelocations ?? [];
  const pid = records.find((r) => r.kind === 'field_byte_offset' && r.accessString === '0:92');
  assert.ok(pid);
  const fresh = (): Uint8Array => (elfSection(object, section) as Uint8Array).slice();
  const relocator = new CoreRelocator(btf);
  const expectError = (record: CoreRelocationRecord, insns: Uint8Array, code: string, pattern: RegExp): void => {
    assert.throws(() => relocator.apply(insns, [record], { program: 'core_read_task', section }), (error: Error & { code?: string; instruction?: number; accessString?: string }) => {
      assert.equal(error.name, 'CoreRelocationError', error.message);
      assert.equal(error.code, code, error.message);
      assert.equal(error.instruction, record.insn);
      assert.equal(error.accessString, record.accessString);
      assert.match(error.message, /program 'core_read_task', section 'raw_tp\/sys_enter', instruction \d+/);
      assert.match(error.message, pattern);
      return true;
    });
  };
  expectError({ ...pid, accessString: '0:9999' }, fresh(), 'ERR_BPFMAP_CORE_BAD_RELOCATION', /member index 9999/);
  expectError({ ...pid, kind: 'type_size' }, fresh(), 'ERR_BPFMAP_CORE_BAD_RELOCATION', /access string '0'/);
  const changed = fresh();
  new DataView(changed.buffer).setInt32(pid.insn * 8 + 4, 4, true);
  expectError(pid, changed, 'ERR_BPFMAP_CORE_BAD_INSTRUCTION', /immediate is 4, not the \d+ clang computed/);
  // A local type id the object does not have.
  expectError({ ...pid, typeId: btf.lastTypeId + 1 }, fresh(), 'ERR_BPFMAP_CORE_BAD_RELOCATION', /no type with id/);
  assert.throws(() => relocator.apply(fresh(), [{ ...pid, insn: 1 << 20 }]), { name: 'RangeError', code: 'ERR_BPFMAP_CORE_INSTRUCTIONS' });
  assert.throws(() => relocator.apply(new Uint8Array(12), []), { name: 'RangeError', code: 'ERR_BPFMAP_CORE_INSTRUCTIONS' });
});

test('fuzz: random records over the fixture only ever relocate or throw typed errors', needs('clang', 'bpftool'), () => {
  const object = new Uint8Array(readFileSync(buildCoreObject('core_reloc')));
  const btf = Btf.parse(elfSection(object, '.BTF') as Uint8Array);
  const section = 'raw_tp/sys_enter';
  const base = elfSection(object, section) as Uint8Array;
  const relocator = new CoreRelocator(btf);
  let state = 99;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const outcomes = { applied: 0, refused: 0 };
  // A count, not a time: a busy machine runs the same records as a quiet one.
  for (let run = 0; run < 3000; run++) {
    const steps = Array.from({ length: 1 + random(4) }, () => String(random(4) === 0 ? random(200) : random(3)));
    const record: CoreRelocationRecord = {
      insn: random(base.length / 8),
      typeId: random(btf.lastTypeId + 3),
      accessString: steps.join(':'),
      kind: CORE_RELOCATION_KINDS[random(CORE_RELOCATION_KINDS.length)] ?? 'field_exists',
    };
    try {
      relocator.apply(base.slice(), [record]);
      outcomes.applied++;
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'CoreRelocationError') throw error;
      outcomes.refused++;
    }
  }
  assert.ok(outcomes.refused > 50, JSON.stringify(outcomes));
});
