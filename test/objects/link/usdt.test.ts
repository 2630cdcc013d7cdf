/**
 * USDT attach against a process built here with gcc and sys/sdt.h (test/fixtures/usdt_sdt.c):
 * a BPF program built with libbpf's <bpf/usdt.bpf.h> reads every argument kind the notes hold
 * (memory operands of five sizes and signs, registers, constants), per site, with the user's
 * cookie; a probe with two sites goes into one link; the semaphore-gated probe is enabled only
 * while attached (by section name, pinned); errors name the probe, the argument or the map; and
 * nothing stays attached.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { attachProgram, attachUsdt, AttachType, BpfAttachError, BpfObject, Link, sectionTarget, usdtProbes, type BpfMap, type BpfProgram } from '../../../src/index.js';
import { buildBpfObject, fixturesDir, linkReleased, needs, pinDir, tempDir } from '../../helpers.js';
import { linksOfProgram } from './helpers.js';
import { runCli } from '../../cli/run-cli.js';
import { rmSync } from 'node:fs';
import { bpftoolJson } from '../../helpers.js';

interface Record {
  calls: bigint;
  argc: bigint;
  last: bigint[];
  sum: bigint[];
}

interface Built {
  readonly child: string;
  readonly object: string;
}

/** The probed binary (cc -O2, two units) and the BPF object naming it in a section. */
function build(t: TestContext): Built {
  const dir = tempDir(t, 'bpfmap-usdt');
  const child = path.join(dir, 'usdt_sdt');
  execFileSync('cc', ['-O2', '-g', '-o', child, path.join(fixturesDir, 'usdt_sdt.c'), path.join(fixturesDir, 'usdt_sdt_gated.c')]);
  const object = path.join(dir, 'usdt_attach.bpf.o');
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-DCHILD_PATH="${child}"`, '-I/usr/include/x86_64-linux-gnu', '-c', path.join(fixturesDir, 'usdt_attach.bpf.c'), '-o', object]);
  return { child, object };
}

interface Child {
  readonly pid: number;
  /** Fires every probe once; resolves to the semaphore the gated probe saw. */
  go(): Promise<number>;
}

async function startChild(t: TestContext, binary: string): Promise<Child> {
  const proc = spawn(binary);
  t.after(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
  const lines = createInterface({ input: proc.stdout });
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => (waiting.length ? waiting.shift()!(line) : queue.push(line)));
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const line = queue.shift();
      if (line !== undefined) return resolve(line);
      const timer = setTimeout(() => reject(new Error('usdt_sdt did not answer')), 60_000);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
  const ready = /^ready (\d+)$/.exec(await next());
  assert.ok(ready, 'usdt_sdt starts');
  return {
    pid: Number(ready[1]),
    async go() {
      proc.stdin.write('go\n');
      const done = /^done (\d+)$/.exec(await next());
      assert.ok(done, 'usdt_sdt fired its probes');
      return Number(done[1]);
    },
  };
}

const signed64 = (value: bigint): bigint => BigInt.asIntN(64, value);

function record(records: BpfMap<bigint, Record>, key: bigint): Record {
  const found = records.get(key);
  assert.ok(found, `a record for cookie ${key}`);
  return found;
}

test('USDT: memory, register and constant arguments of every size and sign read exactly, per site, with the cookie; closing detaches', needs('cc', 'clang', 'bpftool'), async (t) => {
  const built = build(t);
  // Every operand kind the test means to cover is in the notes gcc wrote.
  const probes = usdtProbes(built.child);
  const kinds = (name: string): string[] => probes.filter((p) => p.name === name).flatMap((p) => p.arguments.map((a) => a.kind));
  assert.deepEqual(kinds('memory'), ['memory', 'memory', 'memory', 'memory', 'memory']);
  assert.ok(kinds('registers').includes('register') && kinds('registers').includes('constant'), probes.find((p) => p.name === 'registers')?.argumentText);
  assert.equal(probes.filter((p) => p.name === 'twice').length, 2, 'two sites of bpfmap:twice');

  using object = BpfObject.load(built.object);
  const program = object.program('record');
  assert.equal(program.attachType, AttachType.trace_uprobe_multi, 'usdt programs load for uprobe_multi on Linux 6.6+');
  const records = object.map('records') as BpfMap<bigint, Record>;
  const child = await startChild(t, built.child);
  {
    using memory = attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'memory', cookie: 1n });
    using registers = attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'registers', cookie: 2n, pid: child.pid });
    using twice = attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'twice', cookie: 3n });
    assert.equal(twice.info().typeName, 'uprobe_multi');
    assert.equal(twice.info().count, 2, 'both sites in one link');
    assert.equal(memory.kind, 'usdt');
    assert.equal(registers.target, `${built.child}:bpfmap:registers`);
    assert.equal(linksOfProgram(program.id).length, 3);
    await child.go();
    await child.go();
  }
  const memory = record(records, 1n);
  assert.equal(memory.calls, 2n);
  assert.equal(memory.argc, 5n);
  // int8 -5, uint16 65000, int32 -123456 * round, uint64 0xfedcba9876543210, int64 -2 (round 2 last).
  assert.deepEqual(memory.last.slice(0, 5), [-5n, 65000n, -246912n, signed64(0xfedcba9876543210n), -2n]);
  assert.deepEqual(memory.sum.slice(0, 5), [-10n, 130000n, -370368n, signed64(2n * 0xfedcba9876543210n), -4n]);
  const registers = record(records, 2n);
  assert.equal(registers.calls, 2n);
  assert.equal(registers.argc, 4n);
  // long -2^40 * round in %rdi, int -7 * round in %esi, unsigned char 250 + round in %dl, constant 42.
  assert.deepEqual(registers.last.slice(0, 4), [-2199023255552n, -14n, 252n, 42n]);
  assert.deepEqual(registers.sum.slice(0, 4), [-3298534883328n, -21n, 503n, 84n]);
  const twice = record(records, 3n);
  assert.equal(twice.calls, 4n, 'two sites, two rounds');
  assert.equal(twice.argc, 1n);
  assert.equal(twice.sum[0], 6n, 'each site reads its own constant: (1 + 2) per round');

  // Closed: nothing attached, nothing counted.
  assert.deepEqual(linksOfProgram(program.id), []);
  await child.go();
  assert.equal(record(records, 1n).calls, 2n);
  assert.equal(record(records, 3n).calls, 4n);
});

test('USDT semaphore: enabled only while attached (auto-attach by section, pinned link outlives its handle)', needs('cc', 'clang', 'bpftool'), async (t) => {
  const built = build(t);
  const gatedProbe = usdtProbes(built.child).find((p) => p.name === 'gated');
  assert.ok(gatedProbe && gatedProbe.semaphore !== 0n && gatedProbe.semaphoreFileOffset !== 0n, 'the gated probe has a semaphore');
  using object = BpfObject.load(built.object);
  const gated = object.program('gated');
  assert.deepEqual(sectionTarget(gated.sectionName!), { kind: 'usdt', binary: built.child, provider: 'bpfmap', name: 'gated' });
  const records = object.map('records') as BpfMap<bigint, Record>;
  const child = await startChild(t, built.child);
  assert.equal(await child.go(), 0, 'no tracer: semaphore 0');
  const pins = pinDir(t, 'usdt');
  {
    using link = attachProgram(gated);
    assert.ok(link);
    assert.equal(await child.go(), 1, 'attached: the kernel raised the semaphore');
    link.pin(path.join(pins, 'gated'));
  }
  assert.equal(await child.go(), 1, 'the pin keeps it attached');
  const seen = record(records, 1001n);
  assert.equal(seen.calls, 2n);
  assert.deepEqual(seen.last.slice(0, 2), [3n, 1n], 'round 3, semaphore 1');
  const pinned = Link.fromPinned(path.join(pins, 'gated'));
  pinned.unpin();
  pinned.close();
  assert.equal(await child.go(), 0, 'unpinned and closed: semaphore back to 0');
  assert.equal(record(records, 1001n).calls, 2n);
  assert.deepEqual(linksOfProgram(gated.id), []);
});

test('USDT on a uprobe perf link (a program not loaded for uprobe_multi): one site, semaphore and arguments', needs('cc', 'clang', 'bpftool'), async (t) => {
  const built = build(t);
  const spec = BpfObject.open(built.object);
  // BPF_PERF_EVENT as expected attach type: what kernels before 6.6 get, so attach takes perf links.
  for (const name of ['record', 'gated']) spec.programs.get(name)!.attachType = AttachType.perf_event;
  using object = spec.load();
  const program = object.program('record');
  const records = object.map('records') as BpfMap<bigint, Record>;
  const child = await startChild(t, built.child);
  {
    using gated = attachUsdt(object.program('gated'), { binary: built.child, provider: 'bpfmap', name: 'gated', pid: child.pid });
    using registers = attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'registers', cookie: 7n });
    assert.equal(gated.info().typeName, 'perf_event');
    assert.equal(registers.info().typeName, 'perf_event');
    assert.equal(await child.go(), 1, 'the perf uprobe raised the semaphore');
    assert.throws(
      () => attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'twice' }),
      (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_UNSUPPORTED' && /2 sites/.test(e.message),
    );
  }
  assert.equal(await child.go(), 0);
  assert.deepEqual(record(records, 7n).last.slice(0, 4), [-1099511627776n, -7n, 251n, 42n]);
  assert.deepEqual(record(records, 1001n).last.slice(0, 2), [1n, 1n]);
  assert.deepEqual(linksOfProgram(program.id), []);
});

test('USDT by the CLI: load autoattach pins the usdt link, which keeps the semaphore raised after the CLI exits until its pin is removed', needs('cc', 'clang', 'bpftool'), async (t) => {
  const built = build(t);
  const child = await startChild(t, built.child);
  const progs = path.join(pinDir(t, 'usdt-cli'), 'progs');
  const result = runCli('load', built.object, progs, 'autoattach');
  assert.equal(result.status, 0, result.stderr);
  const pinned = Link.fromPinned(path.join(progs, 'gated'));
  const link = pinned.info();
  pinned.close();
  assert.equal(link.typeName, 'uprobe_multi');
  assert.equal(await child.go(), 1, 'attached after the CLI exited');
  // The bare SEC("usdt") program names no probe: pinned as a program, as bpftool does.
  assert.equal(bpftoolJson<{ type: string }>('prog', 'show', 'pinned', path.join(progs, 'record')).type, 'kprobe');
  rmSync(path.join(progs, 'gated'));
  assert.ok(await linkReleased(link.id), 'the pin removed: the link is released');
  assert.equal(await child.go(), 0, 'the pin removed: detached, semaphore back to 0');
});

test('USDT: bpftrace reads the same argument values as usdt.bpf.h through bpfmap, on the same firing', needs('cc', 'clang', 'bpftool', 'bpftrace'), async (t) => {
  const built = build(t);
  using object = BpfObject.load(built.object);
  const program = object.program('record');
  const records = object.map('records') as BpfMap<bigint, Record>;
  const child = await startChild(t, built.child);
  using memory = attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'memory', cookie: 11n });
  using registers = attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'registers', cookie: 12n });
  const script = [
    `usdt:${built.child}:bpfmap:memory { printf("memory %d %d %d %ld %ld\\n", arg0, arg1, arg2, arg3, arg4); @n++; }`,
    `usdt:${built.child}:bpfmap:registers { printf("registers %ld %d %d %d\\n", arg0, arg1, arg2, arg3); @n++; }`,
    'interval:ms:100 { if (@n == 2) { exit(); } }',
    // BEGIN runs once every probe is attached ("Attaching N probes" comes before).
    'BEGIN { printf("armed\\n"); }',
    'END { clear(@n); }',
  ].join('\n');
  const tracer = spawn('bpftrace', ['-p', String(child.pid), '-e', script]);
  t.after(() => {
    if (tracer.exitCode === null) tracer.kill('SIGKILL');
  });
  let output = '';
  let errors = '';
  tracer.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => tracer.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bpftrace did not attach: ${errors}`)), 60_000);
    tracer.on('exit', (code) => reject(new Error(`bpftrace exited (${code}) before attaching: ${errors}`)));
    tracer.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('armed')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await child.go();
  const timer = setTimeout(() => tracer.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
  const line = (name: string): bigint[] => (output.split('\n').find((l) => l.startsWith(`${name} `)) ?? '').split(' ').slice(1).map((v) => BigInt(v));
  assert.deepEqual(record(records, 11n).last.slice(0, 5), line('memory'), output);
  assert.deepEqual(record(records, 12n).last.slice(0, 4), line('registers'), output);
});

test('USDT errors name the missing probe (listing those there are), the unreadable argument, the missing spec map', needs('cc', 'clang', 'bpftool'), (t) => {
  const built = build(t);
  using object = BpfObject.load(built.object);
  const program = object.program('record');
  assert.throws(
    () => attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'nope' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_USDT_PROBE' && /no USDT probe bpfmap:nope/.test(e.message) && /bpfmap:memory, bpfmap:registers, bpfmap:twice, bpfmap:global, bpfmap:gated/.test(e.message),
  );
  assert.throws(
    () => attachUsdt(program, { binary: built.child, provider: 'bpfmap', name: 'global' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_USDT_ARGUMENT' && e.message.includes('-4@bpfmap_global(%rip)'),
  );
  assert.throws(
    () => attachUsdt(program, { binary: '/bin/true', provider: 'bpfmap', name: 'memory' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_USDT_PROBE' && /no USDT probes|its probes/.test(e.message),
  );
  // An object built without usdt.bpf.h has no spec map.
  using plain = BpfObject.load(buildBpfObject('attach_umulti'));
  assert.throws(
    () => attachUsdt(plain.program('umulti_calls'), { binary: built.child, provider: 'bpfmap', name: 'memory' }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_USDT_MAPS' && e.message.includes('__bpf_usdt_specs'),
  );
  assert.throws(() => attachUsdt(program, { binary: built.child, provider: '', name: 'memory' }), (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'ERR_BPFMAP_OPTIONS');
  assert.throws(() => sectionTarget('usdt/bin:only_provider'), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SECTION');
  assert.equal(sectionTarget('usdt').kind, 'none');
  assert.deepEqual(linksOfProgram(program.id), [], 'failed attaches leave nothing');
  void (program as BpfProgram);
});
