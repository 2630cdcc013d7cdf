/**
 * uprobes on a function of a small C binary the test builds with cc, found by name in its ELF
 * symbol table: the probe counts exactly the calls of that function (not of its neighbour),
 * the uretprobe every return, and a pid filter limits both to one process.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { attachUprobe, BpfAttachError, findElfFunction } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { childProgram, counter, linksOfProgram, loadFixture, setU32, startChild } from './helpers.js';
import { execFileSync } from 'node:child_process';

test('findElfFunction gives the file offsets nm and the section headers imply', needs('cc'), () => {
  const binary = childProgram();
  const file = readFileSync(binary);
  const found = findElfFunction(file, 'bpfmap_probe_target');
  assert.ok(found);
  // nm's address of the symbol, and objdump's .text address/offset, from the same file.
  const nm = execFileSync('nm', [binary], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(' bpfmap_probe_target'));
  assert.ok(nm);
  assert.equal(found.address, BigInt(`0x${nm.split(' ')[0]}`));
  const text = execFileSync('objdump', ['-h', binary], { encoding: 'utf8' }).split('\n').find((l) => / \.text /.test(l));
  assert.ok(text);
  const [, , , vma, , fileOffset] = text.trim().split(/\s+/);
  assert.equal(found.fileOffset, found.address - BigInt(`0x${vma}`) + BigInt(`0x${fileOffset}`));
  assert.equal(findElfFunction(file, 'no_such_function_here'), undefined);
  assert.throws(() => findElfFunction(new Uint8Array(100), 'x'), /not an ELF file/);
});

test('uprobe and uretprobe count the calls of one function of the child, and detach on close', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const entry = fixture.program('uprobe_target');
  const exit = fixture.program('uretprobe_target');
  const counts = fixture.map('misc_counts');
  const child = await startChild(t);
  setU32(fixture.map('misc_pid'), child.pid);
  {
    using probe = attachUprobe(entry, { binary: childProgram(), symbol: 'bpfmap_probe_target' });
    using ret = attachUprobe(exit, { binary: childProgram(), symbol: 'bpfmap_probe_target', retprobe: true });
    await child.run('call 11');
    const info = probe.info();
    assert.equal(info.perfEventType, 'uprobe');
    assert.equal(info.name, childProgram());
    assert.equal(BigInt(info.offset ?? -1), findElfFunction(readFileSync(childProgram()), 'bpfmap_probe_target')?.fileOffset);
    assert.equal(ret.info().perfEventType, 'uretprobe');
    assert.equal(probe.kind, 'uprobe');
    assert.equal(ret.kind, 'uretprobe');
  }
  assert.equal(counter(counts, 0), 11n);
  assert.equal(counter(counts, 1), 11n);
  assert.deepEqual(linksOfProgram(entry.id), []);
  assert.deepEqual(linksOfProgram(exit.id), []);
  await child.run('call 4');
  assert.equal(counter(counts, 0), 11n, 'nothing counted after close');
});

test('a uprobe with a pid fires only in that process', needs('clang', 'bpftool', 'cc'), async (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const entry = fixture.program('uprobe_target');
  const counts = fixture.map('misc_counts');
  const watched = await startChild(t);
  const other = await startChild(t);
  // The program counts `other`; the probe is scoped to `watched`: nothing may be counted.
  setU32(fixture.map('misc_pid'), other.pid);
  using probe = attachUprobe(entry, { binary: childProgram(), symbol: 'bpfmap_probe_target', pid: watched.pid });
  await other.run('call 5');
  await watched.run('call 5');
  assert.equal(counter(counts, 0), 0n);
  setU32(fixture.map('misc_pid'), watched.pid);
  await watched.run('call 3');
  assert.equal(counter(counts, 0), 3n);
  assert.equal(probe.info().perfEventType, 'uprobe');
});

test('uprobe errors name the binary and the function', needs('clang', 'bpftool', 'cc'), (t) => {
  const fixture = loadFixture(t, 'attach_misc');
  const entry = fixture.program('uprobe_target');
  assert.throws(
    () => attachUprobe(entry, { binary: childProgram(), symbol: 'bpfmap_missing' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL' && e.message.includes('bpfmap_missing') && e.message.includes(childProgram()),
  );
  assert.throws(() => attachUprobe(entry, { binary: '/nonexistent/bin', symbol: 'main' }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_BINARY');
  assert.throws(() => attachUprobe(entry, { binary: 'bpfmap-no-such-tool', symbol: 'main' }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_BINARY' && /PATH/.test(e.message));
  assert.throws(() => attachUprobe(entry, { binary: '/etc/hostname', symbol: 'main' }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_BINARY');
  assert.throws(() => attachUprobe(entry, { binary: childProgram(), symbol: 'main', retprobe: true, offset: 4 }), { code: 'ERR_BPFMAP_OFFSET' });
  assert.deepEqual(linksOfProgram(entry.id), []);
});
