/**
 * ksym externs resolved against the running kernel and written into their instructions, compared
 * with what the system libbpf wrote for the same object (test/fixtures/ksym.bpf.c): a typed
 * per-CPU variable, a typeless symbol from /proc/kallsyms, weak externs the kernel lacks, kfunc
 * calls, and the call to a missing weak kfunc; plus the typed errors for what cannot resolve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bpftoolJson, needs, tempDir } from '../helpers.js';
import { Btf } from '../../src/codec/btf/btf.js';
import { BtfBuilder } from '../../src/codec/btf/writer.js';
import { ElfObject, SHN_UNDEF, SymbolBinding, SymbolType } from '../../src/objects/elf.js';
import { KsymResolver, applyKsym, POISON_CALL_KFUNC_BASE, type KsymResolution } from '../../src/objects/ksym.js';
import { buildCoreObject, libbpfInstructions } from './core-fixture.js';

interface ExternUse {
  readonly program: string;
  /** Instruction index within the program. */
  readonly insn: number;
  readonly resolution: KsymResolution;
}

/** Resolves and applies every extern reference of the fixture's programs; returns each program's instructions. */
function relocateKsyms(objectPath: string, resolver?: KsymResolver): { programs: Map<string, Uint8Array>; uses: ExternUse[]; resolver: KsymResolver } {
  const elf = new ElfObject(new Uint8Array(readFileSync(objectPath)));
  const btfSection = elf.section('.BTF');
  assert.ok(btfSection);
  const ksyms = resolver ?? new KsymResolver(Btf.parse(elf.data(btfSection)));
  const programs = new Map<string, Uint8Array>();
  const uses: ExternUse[] = [];
  for (const symbol of elf.symbols) {
    if (symbol.type !== SymbolType.FUNC || symbol.section === SHN_UNDEF) continue;
    const section = elf.sectionAt(symbol.section);
    if (!section || section.name === '.text') continue;
    const insns = elf.data(section).slice(symbol.value, symbol.value + symbol.size);
    for (const relocation of elf.relocations(symbol.section)) {
      if (relocation.symbol.section !== SHN_UNDEF || relocation.offset < symbol.value || relocation.offset >= symbol.value + symbol.size) continue;
      if (relocation.symbol.name === '') continue;
      const insn = (relocation.offset - symbol.value) / 8;
      const resolution = ksyms.resolve({ name: relocation.symbol.name, weak: relocation.symbol.binding === SymbolBinding.WEAK, program: symbol.name });
      applyKsym(insns, insn, resolution, { program: symbol.name });
      uses.push({ program: symbol.name, insn, resolution });
    }
    programs.set(symbol.name, insns);
  }
  return { programs, uses, resolver: ksyms };
}

function hex(bytes: Uint8Array, insn: number, count: number): string {
  return Buffer.from(bytes.subarray(insn * 8, (insn + count) * 8)).toString('hex');
}

test('ksym externs resolve and patch as libbpf does: typed, typeless, weak, kfunc calls', needs('clang', 'bpftool', 'gcc'), () => {
  const objectPath = buildCoreObject('ksym');
  const { programs, uses } = relocateKsyms(objectPath);
  // The kernel may refuse ksym_typed (no CONFIG_KALLSYMS_ALL: no address for runqueues); libbpf
  // has relocated it all the same.
  assert.equal(uses.length, 8, 'every extern reference of the fixture');
  const theirs = libbpfInstructions(objectPath, true);
  for (const use of uses) {
    const ours = programs.get(use.program);
    const libbpf = theirs.get(use.program);
    assert.ok(ours && libbpf, use.program);
    const width = ours[use.insn * 8] === 0x18 ? 2 : 1;
    if (use.resolution.kind === 'missing' && use.resolution.declared === 'func' && ours[use.insn * 8] === 0x85) {
      // Current libbpf poisons the call to a missing weak kfunc; Debian's libbpf 1.1 wrote
      // `call kfunc 0` instead. Both leave it for the verifier to prove dead.
      const view = new DataView(ours.buffer, ours.byteOffset);
      assert.equal(ours[use.insn * 8 + 1], 0);
      assert.equal(view.getInt32(use.insn * 8 + 4, true), POISON_CALL_KFUNC_BASE);
      continue;
    }
    assert.equal(hex(ours, use.insn, width), hex(libbpf, use.insn, width), `${use.program} insn ${use.insn}: ${use.resolution.name} (${use.resolution.kind})`);
  }
  const byName = new Map(uses.map((u) => [u.resolution.name, u.resolution]));
  const kallsyms = readFileSync('/proc/kallsyms', 'latin1').split('\n').find((line) => line.endsWith(' _stext'));
  assert.deepEqual(byName.get('_stext'), { kind: 'address', name: '_stext', address: BigInt(`0x${kallsyms?.split(' ')[0]}`) });
  assert.deepEqual(byName.get('bpfmap_no_such_symbol'), { kind: 'address', name: 'bpfmap_no_such_symbol', address: 0n });
  assert.deepEqual(byName.get('bpfmap_no_such_typed'), { kind: 'missing', name: 'bpfmap_no_such_typed', declared: 'var' });
  assert.deepEqual(byName.get('bpfmap_no_such_kfunc'), { kind: 'missing', name: 'bpfmap_no_such_kfunc', declared: 'func' });
  const kernelIds = new Map(bpftoolJson<{ types: { id: number; kind: string; name: string }[] }>('btf', 'dump', 'file', '/sys/kernel/btf/vmlinux').types
    .filter((t) => (t.kind === 'VAR' || t.kind === 'FUNC') && ['runqueues', 'bpf_rcu_read_lock', 'bpf_rcu_read_unlock'].includes(t.name))
    .map((t) => [t.name, t.id]));
  for (const name of ['runqueues', 'bpf_rcu_read_lock', 'bpf_rcu_read_unlock']) {
    const resolution = byName.get(name);
    assert.equal(resolution?.kind === 'btf' ? resolution.btfId : undefined, kernelIds.get(name), name);
  }
});

test('unresolvable ksyms are ObjectErrors naming the symbol and program', needs('clang', 'bpftool'), (t) => {
  const objectPath = buildCoreObject('ksym');
  const elf = new ElfObject(new Uint8Array(readFileSync(objectPath)));
  const btf = Btf.parse(elf.data(elf.section('.BTF') ?? assert.fail('no .BTF')));
  const expectKsymError = (resolver: KsymResolver, name: string, pattern: RegExp): void => {
    assert.throws(() => resolver.resolve({ name, weak: false, program: 'ksym_read' }), (error: Error & { code?: string; symbol?: string; program?: string }) => {
      assert.equal(error.name, 'ObjectError');
      assert.equal(error.code, 'ERR_BPFMAP_OBJECT_KSYM');
      assert.equal(error.symbol, name);
      assert.equal(error.program, 'ksym_read');
      assert.match(error.message, /program 'ksym_read'/);
      assert.match(error.message, pattern);
      return true;
    });
  };
  const resolver = new KsymResolver(btf);
  // Declared __weak in C, asked for as strong: missing is an error.
  expectKsymError(resolver, 'bpfmap_no_such_symbol', /not in \/proc\/kallsyms/);
  expectKsymError(resolver, 'bpfmap_no_such_kfunc', /no kernel function 'bpfmap_no_such_kfunc'/);
  expectKsymError(resolver, 'bpfmap_no_such_typed', /no kernel variable/);
  expectKsymError(resolver, 'never_declared', /declares no variable or function/);

  // A kernel whose variable has another type than the object declares.
  const builder = new BtfBuilder();
  const u8 = builder.add({ kind: 'int', name: 'char', size: 1, bits: 8, bitOffset: 0, signed: true, char: false, bool: false });
  const blob = builder.add({ kind: 'struct', name: 'blob', size: 1, members: [{ name: 'c', type: u8, bitOffset: 0, bitfieldSize: 0 }] });
  builder.add({ kind: 'var', name: 'bpfmap_no_such_typed', type: blob, linkage: 1 });
  const otherKernel = new KsymResolver(btf, { vmlinux: Btf.parse(builder.build()), modules: () => [] });
  expectKsymError(otherKernel, 'bpfmap_no_such_typed', /declared as int int \[\d+\], but the kernel's is struct blob/);

  // kallsyms with two addresses for one name; a .llvm.-suffixed data symbol found by its plain name.
  const kallsyms = path.join(tempDir(t), 'kallsyms');
  writeFileSync(kallsyms, 'ffffffff81000000 T _stext\nffffffff81000010 t _stext\t[some_module]\nffffffff82000000 d bpfmap_no_such_symbol.llvm.123456\n');
  const fromFile = new KsymResolver(btf, { kallsymsPath: kallsyms, modules: () => [] });
  expectKsymError(fromFile, '_stext', /ambiguous in kallsyms: 0xffffffff81000000 or 0xffffffff81000010/);
  assert.deepEqual(fromFile.resolve({ name: 'bpfmap_no_such_symbol', weak: false }), { kind: 'address', name: 'bpfmap_no_such_symbol', address: 0xffffffff82000000n });

  // A ksym written into an instruction that cannot take it.
  const insns = new Uint8Array(16);
  insns[0] = 0xb7;
  assert.throws(() => applyKsym(insns, 0, { kind: 'address', name: '_stext', address: 1n }, { program: 'p' }), { name: 'ObjectError', code: 'ERR_BPFMAP_OBJECT_RELOCATION' });
  assert.throws(() => applyKsym(insns, 5, { kind: 'address', name: '_stext', address: 1n }), { name: 'ObjectError', code: 'ERR_BPFMAP_OBJECT_RELOCATION' });
});
