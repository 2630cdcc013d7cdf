/**
 * USDT notes of a binary the test builds (test/fixtures/usdt_child.c, notes written by hand in
 * sys/sdt.h's layout): every probe, address and argument string as `readelf -n` prints them,
 * the probe names `bpftrace -l` lists, a `nop` at each probe's file offset, and the arguments
 * parsed into registers, memory operands and constants.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseUsdtArgument, usdtProbes } from '../../../src/index.js';
import { fixturesDir, needs, tempDir } from '../../helpers.js';

test('USDT probes read from .note.stapsdt agree with readelf and bpftrace, and point at their nop', needs('cc', 'readelf', 'bpftrace'), (t) => {
  const binary = path.join(tempDir(t, 'bpfmap-usdt'), 'usdt_child');
  execFileSync('cc', ['-O1', '-o', binary, path.join(fixturesDir, 'usdt_child.c')]);
  const probes = usdtProbes(binary);
  assert.deepEqual(probes.map((p) => `${p.provider}:${p.name}`), ['bpfmap:start', 'bpfmap:args', 'bpfmap:mem']);

  // readelf -n: Provider, Name, Location, Semaphore and Arguments of each note, in order.
  const notes = execFileSync('readelf', ['-n', binary], { encoding: 'utf8' });
  const fromReadelf = [...notes.matchAll(/Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)/g)]
    .map((m) => ({ provider: m[1], name: m[2], address: BigInt(m[3] ?? 0), semaphore: BigInt(m[4] ?? 0), argumentText: (m[5] ?? '').trim() }));
  assert.deepEqual(probes.map(({ provider, name, address, semaphore, argumentText }) => ({ provider, name, address, semaphore, argumentText })), fromReadelf);

  const listed = execFileSync('bpftrace', ['-l', `usdt:${binary}:*`], { encoding: 'utf8' }).trim().split('\n').map((line) => line.slice(line.lastIndexOf(':', line.lastIndexOf(':') - 1) + 1)).sort();
  assert.deepEqual(listed, probes.map((p) => `${p.provider}:${p.name}`).sort());

  const bytes = readFileSync(binary);
  for (const probe of probes) assert.equal(bytes[Number(probe.fileOffset)], 0x90, `a nop at ${probe.name}'s file offset`);

  const args = probes.find((p) => p.name === 'args');
  assert.equal(args?.arguments.length, 3);
  assert.deepEqual(args?.arguments[0] && { kind: args.arguments[0].kind, size: args.arguments[0].size, signed: args.arguments[0].signed }, { kind: 'register', size: 4, signed: true });
  assert.deepEqual(args?.arguments[2], { kind: 'constant', size: 4, signed: false, value: 42n });
  assert.equal(probes.find((p) => p.name === 'mem')?.arguments[0]?.kind, 'memory');
});

test('USDT argument operands: registers of any width, memory, constants; errors name the argument', () => {
  assert.deepEqual(parseUsdtArgument('-4@%eax'), { kind: 'register', size: 4, signed: true, register: 'rax' });
  assert.deepEqual(parseUsdtArgument('1@%r9b'), { kind: 'register', size: 1, signed: false, register: 'r9' });
  assert.deepEqual(parseUsdtArgument('8@-16(%rbp)'), { kind: 'memory', size: 8, signed: false, register: 'rbp', offset: -16 });
  assert.deepEqual(parseUsdtArgument('2@(%rsp)'), { kind: 'memory', size: 2, signed: false, register: 'rsp', offset: 0 });
  assert.deepEqual(parseUsdtArgument('-8@$-5'), { kind: 'constant', size: 8, signed: true, value: -5n });
  for (const bad of ['4%eax', '3@%eax', '4@%xyz', '4@[rax]']) assert.throws(() => parseUsdtArgument(bad), (e: unknown) => e instanceof Error && e.name === 'ElfFormatError' && e.message.includes(bad));
});
