/**
 * Arena maps (test/fixtures/arena.bpf.c): the loader creates the arena and maps it before the
 * program loads; the program allocates a page with bpf_arena_alloc_pages and writes to it, and
 * the test reads the values through `arenaMemory`. Kernels may refuse arenas (the VM this was
 * written on answers EPERM to any arena MAP_CREATE, libbpf's included): there the test checks
 * that the refusal is the kernel's, typed, and stops. The toolchain limit is checked too: clang
 * before 18 puts no `__arena` global in `.addr_space.1`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { BpfError, BpfMap, BpfObject, ObjectError, arenaMemory } from '../../src/index.js';
import { needs, tempDir } from '../helpers.js';
import { buildCoreObject } from './core-fixture.js';

test('an arena is mapped at load, and what the program writes to its page is read from user space', needs('clang', 'bpftool'), (t) => {
  const spec = BpfObject.open(buildCoreObject('arena'));
  const arena = spec.map('arena');
  assert.equal(arena.typeName, 'arena');
  assert.equal(arena.maxEntries, 4);
  let object: BpfObject;
  try {
    object = spec.load();
  } catch (error) {
    if (!(error instanceof ObjectError) || error.code !== 'ERR_BPFMAP_OBJECT_MAP' || !(error.cause instanceof BpfError) || error.cause.code !== 'EPERM') throw error;
    // The kernel refuses arenas themselves here, not this loader's attributes.
    assert.throws(() => BpfMap.create({ type: 'arena', keySize: 0, valueSize: 0, maxEntries: 1, flags: ['MMAPABLE'] }), (e: unknown) => e instanceof BpfError && e.code === 'EPERM');
    t.diagnostic('this kernel refuses arena maps (EPERM on MAP_CREATE), so no arena program runs here');
    return;
  }
  t.after(() => object.close());
  const memory = new DataView(arenaMemory(object.map('arena')));
  assert.equal(memory.byteLength, 4 * 4096);
  assert.equal(object.program('arena_write').run({}).returnValue, 0);
  const address = object.globals.get('page_address') as bigint;
  assert.equal(address % 4096n, 0n, 'a page address');
  assert.equal(memory.getBigUint64(0, true), 0x1234567890abcdefn, 'the first page, as the program wrote it');
  assert.equal(memory.getBigUint64(8, true), 42n);
  assert.equal(arenaMemory(object.map('arena')), memory.buffer, 'one mapping per arena');
});

test('clang before 18 compiles __arena but emits no .addr_space.1 section (no arena globals)', needs('clang', 'llvm-readelf'), (t) => {
  const version = Number(/clang version (\d+)/.exec(execFileSync('clang', ['--version'], { encoding: 'utf8' }))?.[1] ?? 0);
  const dir = tempDir(t, 'bpfmap-arena');
  const source = path.join(dir, 'arena_global.bpf.c');
  const object = path.join(dir, 'arena_global.bpf.o');
  execFileSync('sh', ['-c', `printf '%s\\n' 'int __attribute__((address_space(1))) counter;' 'int __attribute__((section("syscall"))) f(void *ctx) { return counter; }' > ${source}`]);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-c', source, '-o', object]);
  const sections = execFileSync('llvm-readelf', ['-S', object], { encoding: 'utf8' });
  assert.equal(sections.includes('.addr_space.1'), version >= 18, `clang ${version}`);
  t.diagnostic(`clang ${version}: ${version >= 18 ? 'arena globals go to .addr_space.1' : 'no .addr_space.1; __arena globals are ordinary globals'}`);
});
