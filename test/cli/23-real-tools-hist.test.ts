/**
 * `hist` and `readHistograms` on the maps of real tools, compared with what the tools print or
 * what bpftool dumps of the same maps:
 * - bpftrace: hist(), lhist() and a keyed hist from a script whose values are fixed, compared
 *   line for line with what bpftrace prints at exit;
 * - runqlat and cpudist (alone, -P, -L) filtered to a child of the test that has stopped running,
 *   so the map no longer changes: compared with the tool's own text, headers included;
 * - softirqs -d (histograms in its .bss), hardirqs -d (keyed by irq name), biolatency -D (keyed
 *   by device): system-wide counts that only grow, so each count bpfmap reads lies between a
 *   bpftool dump taken before and one taken after; the headers (vector, irq and disk names) are
 *   ones the tool prints.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BpfMap, readHistograms } from '../../src/index.js';
import { bpftoolJson, needs, tempDir } from '../helpers.js';
import { startTool } from '../real-tools.js';
import { cliJson, runCli } from './run-cli.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Blocks of text separated by blank lines, grouped by the `@name` their header starts with. */
function bpftraceBlocks(text: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  for (const block of text.split(/\n\n+/)) {
    const name = /^(@[A-Za-z_0-9]+)[[:]/m.exec(block)?.[1];
    if (name === undefined) continue;
    const start = block.indexOf(name);
    blocks.set(name, [...(blocks.get(name) ?? []), block.slice(start).trimEnd()]);
  }
  return blocks;
}

test('bpftrace hist(), lhist() and a keyed hist read as bpftrace prints them', needs('bpftrace', 'unshare'), async (t) => {
  const dir = tempDir(t, 'bpfmap-bt');
  const script = path.join(dir, 'hists.bt');
  writeFileSync(script, `BEGIN {
    @h = hist(-3); @h = hist(0); @h = hist(1); @h = hist(5); @h = hist(5); @h = hist(1500); @h = hist(3000000);
    @l = lhist(7, 0, 100, 10); @l = lhist(-5, 0, 100, 10); @l = lhist(250, 0, 100, 10); @l = lhist(15, 0, 100, 10); @l = lhist(16, 0, 100, 10);
    @k[comm] = hist(3); @k["other"] = hist(100); @k["other"] = hist(100); @k["third"] = hist(1 << 20);
    printf("ready\\n");
  }
`);
  const tool = await startTool(t, ['bpftrace', script], /^ready$/m);
  const byName = (name: string): number => tool.map((info) => info.name === name, `named ${name}`).id;
  const ours = [
    runCli('hist', 'id', String(byName('AT_h'))),
    runCli('hist', 'id', String(byName('AT_k'))),
    runCli('hist', 'id', String(byName('AT_l')), '--layout', 'lhist', '--min', '0', '--max', '100', '--step', '10'),
  ];
  for (const result of ours) assert.equal(result.status, 0, result.stderr);
  const data = cliJson<{ layout: string; source: string; histograms: Array<{ key: unknown; buckets: Array<Record<string, unknown>>; total: number }> }>('hist', 'id', String(byName('AT_h')));
  const keyed = readHistograms(BpfMap.fromId(byName('AT_k'), { readOnly: true }));
  const { stdout, status } = await tool.stop('SIGINT');
  assert.equal(status, 0);
  const theirs = bpftraceBlocks(stdout);
  const mine = bpftraceBlocks(ours.map((result) => result.stdout).join('\n'));
  for (const name of ['@h', '@k', '@l']) {
    assert.ok(theirs.has(name), `bpftrace printed no ${name}: ${stdout}`);
    assert.deepEqual(mine.get(name), theirs.get(name), name);
  }
  // As data: bpftrace's own ranges, the negative slot unbounded below.
  assert.equal(data.layout, 'bpftrace-hist');
  assert.equal(data.source, 'key-suffix');
  assert.deepEqual(data.histograms[0]?.buckets[0], { slot: 0, low: null, high: -1, count: 1, label: '(..., 0)' });
  assert.deepEqual(data.histograms[0]?.buckets.find((bucket) => bucket.label === '[4, 8)'), { slot: 4, low: 4, high: 7, count: 2, label: '[4, 8)' });
  assert.equal(data.histograms[0]?.total, 7);
  assert.deepEqual(keyed.histograms.map((histogram) => histogram.key), [{ key: 'bpftrace' }, { key: 'other' }, { key: 'third' }]);
  assert.deepEqual(keyed.histograms[2]?.buckets, [{ slot: 22, low: 1048576n, high: 2097151n, count: 1n, label: '[1M, 2M)' }]);
});

test('bpftrace lhist(): the range comes from the instructions of the probe that fills the map', needs('bpftrace', 'unshare'), async (t) => {
  const dir = tempDir(t, 'bpfmap-bt-lhist');
  const script = path.join(dir, 'lhist.bt');
  // Only this test's process (getppid: process.ppid asks the kernel each time) fills the maps.
  writeFileSync(script, `tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @l = lhist(nsecs % 1100, 5, 1000, 25); @z = lhist(nsecs % 300, 0, 200, 10); }
BEGIN { printf("ready\\n"); }
`);
  const tool = await startTool(t, ['bpftrace', script, String(process.pid)], /^ready$/m);
  for (let i = 0; i < 2000; i++) void process.ppid;
  const byName = (name: string): number => tool.map((info) => info.name === name, `named ${name}`).id;
  const ours = [runCli('hist', 'id', String(byName('AT_l'))), runCli('hist', 'id', String(byName('AT_z')))];
  for (const result of ours) assert.equal(result.status, 0, result.stderr);
  // --layout lhist without a range finds the same one.
  assert.equal(runCli('hist', 'id', String(byName('AT_l')), '--layout', 'lhist').stdout, ours[0]!.stdout);
  const data = cliJson<{ layout: unknown }>('hist', 'id', String(byName('AT_l')));
  assert.deepEqual(data.layout, { kind: 'bpftrace-lhist', min: 5, max: 1000, step: 25 });
  const { stdout, status } = await tool.stop('SIGINT');
  assert.equal(status, 0);
  const theirs = bpftraceBlocks(stdout);
  const mine = bpftraceBlocks(ours.map((result) => result.stdout).join('\n'));
  for (const name of ['@l', '@z']) {
    assert.ok(theirs.has(name), `bpftrace printed no ${name}: ${stdout}`);
    assert.deepEqual(mine.get(name), theirs.get(name), name);
  }
});

test('--layout lhist on a map no program fills says which options to give', needs('bpftool'), (t) => {
  using map = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: 4, name: 'AT_netfmt_lh' });
  t.after(() => map.close());
  const result = runCli('hist', 'id', String(map.id), '--layout', 'lhist');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--layout lhist: cannot find the range of AT_netfmt_lh \(no loaded program uses it any more \(the script has exited\)\); give it as --min MIN --max MAX --step STEP, the last three arguments of lhist\(value, MIN, MAX, STEP\) in the script/);
});

/**
 * A child that waits for a line on stdin, then works, prints `done` and sleeps for good: once it
 * printed `done`, its histograms stay fixed. By default the work is 30 sleeps of 10 ms (30
 * wake-ups, 30 short runs: what runqlat measures). `preempted` makes it a busy loop on CPU 0
 * against a second busy loop there, so that the scheduler takes the CPU from it while it runs:
 * cpudist counts on-CPU time only at such involuntary switches, and a child that only ever blocks
 * by itself gives it nothing to count on a quiet machine.
 */
async function quietChild(t: TestContext, preempted = false): Promise<{ pid: number; run(): Promise<void> }> {
  const work = preempted ? 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done' : 'i=0; while [ $i -lt 30 ]; do sleep 0.01; i=$((i+1)); done';
  const script = `read line; ${work}; echo done; exec sleep 1000`;
  const child = preempted
    ? spawn('taskset', ['-c', '0', 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'ignore'] })
    : spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return {
    pid: child.pid!,
    async run() {
      const rival = preempted ? spawn('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }) : undefined;
      try {
        child.stdin.write('go\n');
        while (!out.includes('done')) await sleep(10);
      } finally {
        rival?.kill('SIGKILL');
      }
      await sleep(300);
    },
  };
}

/** What a libbpf tool printed after its banner line, without the blank lines that open and close it. */
function toolHistograms(stdout: string): string {
  return stdout.slice(stdout.indexOf('\n') + 1).replace(/^\n+/, '').trimEnd();
}

// Without options, hist finds the tool from the .rodata of its programs: its unit, and its
// headers (`pid = N comm`, `tid = N comm`), so the text is the tool's own, blank lines included.
for (const { tool, args } of [
  { tool: 'runqlat', args: [] },
  { tool: 'runqlat', args: ['-P'] },
  { tool: 'runqlat', args: ['-L'] },
  { tool: 'runqlat', args: ['-P', '-m'] },
  { tool: 'cpudist', args: [] },
  { tool: 'cpudist', args: ['-P'] },
  { tool: 'cpudist', args: ['-L'] },
] as Array<{ tool: string; args: string[] }>) {
  test(`${tool} ${args.join(' ')}: hist prints the tool's own histogram of the same map`, needs(tool, 'unshare', 'taskset'), async (t) => {
    const child = await quietChild(t, tool === 'cpudist');
    const running = await startTool(t, [tool, ...args, '-p', String(child.pid)], /Hit Ctrl-C/);
    await child.run();
    const hists = running.map((info) => info.name === 'hists', 'named hists');
    const ours = runCli('hist', 'id', String(hists.id));
    assert.equal(ours.status, 0, ours.stderr);
    const json = cliJson<{ tool?: string; unit?: string; histograms: Array<{ title?: string }> }>('hist', 'id', String(hists.id));
    const { stdout } = await running.stop('SIGINT');
    const theirs = toolHistograms(stdout);
    assert.match(theirs, / : count {4}distribution/, `${tool} printed no histogram: ${stdout}`);
    assert.equal(ours.stdout.replace(/^\n+/, '').trimEnd(), theirs);
    assert.equal(json.tool, tool);
    assert.equal(json.unit, args.includes('-m') ? 'msecs' : 'usecs');
    if (args.length > 0 && args[0] !== '-m') assert.match(json.histograms[0]?.title ?? '', new RegExp(`^${args[0] === '-P' ? 'pid' : 'tid'} = ${child.pid} sh$`));
  });
}

/** Counts by slot from bpfmap's JSON buckets. */
function denseCounts(buckets: ReadonlyArray<{ slot: number; count: number }>): number[] {
  const counts: number[] = [];
  for (const { slot, count } of buckets) counts[slot] = count;
  return Array.from(counts, (count) => count ?? 0);
}

/** Asserts before[i] <= ours[i] <= after[i] for every slot. */
function assertBetween(before: readonly number[], ours: readonly number[], after: readonly number[], what: string): void {
  for (let slot = 0; slot < after.length; slot++) {
    const mine = ours[slot] ?? 0;
    assert.ok((before[slot] ?? 0) <= mine && mine <= (after[slot] ?? 0), `${what} slot ${slot}: ${before[slot]} <= ${mine} <= ${after[slot]}`);
  }
  assert.ok(ours.length <= after.length || ours.slice(after.length).every((count) => count === 0), `${what}: slots past the tool's`);
}

type HistJson = { histograms: Array<{ key: Record<string, unknown> | null; buckets: Array<{ slot: number; count: number }> }> };

test('softirqs -d: the histograms in its .bss, one per softirq, between two bpftool dumps', needs('softirqs', 'unshare', 'bpftool'), async (t) => {
  const running = await startTool(t, ['softirqs', '-d'], /Hit Ctrl-C/);
  await sleep(1000);
  const bss = running.map((info) => info.name.endsWith('.bss'), 'a .bss');
  type Dump = Array<{ formatted: { value: { '.bss': Array<{ hists?: Array<{ slots: number[] }> }> } } }>;
  const hists = (dump: Dump): number[][] => (dump[0]?.formatted.value['.bss'].find((v) => v.hists !== undefined)?.hists ?? []).map((h) => h.slots);
  const before = hists(bpftoolJson<Dump>('map', 'dump', 'id', String(bss.id)));
  const ours = cliJson<HistJson>('hist', 'id', String(bss.id), '--section', 'softirq');
  const after = hists(bpftoolJson<Dump>('map', 'dump', 'id', String(bss.id)));
  assert.equal(ours.histograms.length, after.length);
  ours.histograms.forEach((histogram, index) => {
    assert.deepEqual(histogram.key, { softirq: index });
    assertBetween(before[index] ?? [], denseCounts(histogram.buckets), after[index] ?? [], `softirq ${index}`);
  });
  assert.ok(ours.histograms.some((histogram) => histogram.buckets.length > 0), 'no softirq ran in a second');
  // Without options: the tool's text, its vector names from the kernel, empty vectors left out.
  const text = runCli('hist', 'id', String(bss.id));
  assert.equal(text.status, 0, text.stderr);
  const { stdout } = await running.stop('SIGINT');
  assertToolHeaders(text.stdout, stdout, /^softirq = [a-z_]+$/);
  assert.match(text.stdout, /^softirq = timer\n {5}usecs {15}: count {4}distribution\n {9}0 -> 1 {10}: \d+/m);
  assert.doesNotMatch(text.stdout, /\[object Object\]|softirq = \d/);
});

/**
 * Asserts that bpfmap's histograms (read while the tool ran) have the tool's shape: each header
 * bpfmap prints (matching `header`) is one the tool printed at exit (counts only grow, so the
 * tool prints every histogram bpfmap saw), followed by the tool's column line.
 */
function assertToolHeaders(ours: string, theirs: string, header: RegExp): void {
  const headers = (text: string): string[] => text.split('\n').filter((line) => header.test(line));
  const mine = headers(ours);
  assert.ok(mine.length > 0, `no header like ${header} in ${ours}`);
  for (const line of mine) assert.ok(headers(theirs).includes(line), `the tool printed no '${line}': ${theirs}`);
  const lines = ours.split('\n');
  lines.forEach((line, i) => {
    if (header.test(line)) assert.match(lines[i + 1] ?? '', /^ {5}usecs {15}: count {4}distribution$/, `after '${line}'`);
  });
}

test('hardirqs -d: histograms keyed by irq name, between two bpftool dumps', needs('hardirqs', 'unshare', 'bpftool'), async (t) => {
  const running = await startTool(t, ['hardirqs', '-d'], /Hit Ctrl-C/);
  const infos = running.map((info) => info.name === 'infos', 'named infos');
  type Dump = Array<{ formatted: { key: { name: string }; value: { slots: number[] } } }>;
  const byName = (dump: Dump): Map<string, number[]> => new Map(dump.map((entry) => [entry.formatted.key.name, entry.formatted.value.slots]));
  // A quiet machine may take no device interrupt for seconds: direct writes complete through the
  // disk's interrupt, so make some until the tool has seen one (bounded).
  const dir = tempDir(t, 'bpfmap-irq');
  for (let round = 0; round < 20 && bpftoolJson<Dump>('map', 'dump', 'id', String(infos.id)).length === 0; round++) {
    const dd = spawn('dd', ['if=/dev/zero', `of=${path.join(dir, 'io')}`, 'bs=4k', 'count=50', 'oflag=direct'], { stdio: 'ignore' });
    await new Promise((resolve) => dd.on('close', resolve));
    await sleep(250);
  }
  const before = byName(bpftoolJson<Dump>('map', 'dump', 'id', String(infos.id)));
  const ours = cliJson<HistJson>('hist', 'id', String(infos.id));
  const after = byName(bpftoolJson<Dump>('map', 'dump', 'id', String(infos.id)));
  assert.ok(ours.histograms.length > 0, 'no interrupt while the test wrote to disk');
  for (const histogram of ours.histograms) {
    const name = String(histogram.key?.name);
    assertBetween(before.get(name) ?? [], denseCounts(histogram.buckets), after.get(name) ?? [], name);
  }
  // Without options: the tool's headers and unit; with --section name, the key field's own.
  const text = runCli('hist', 'id', String(infos.id));
  assert.equal(text.status, 0, text.stderr);
  assert.match(runCli('hist', 'id', String(infos.id), '--section', 'name').stdout, /^name = \S+\n {5}value {15}: count {4}distribution$/m);
  const { stdout } = await running.stop('SIGINT');
  assertToolHeaders(text.stdout, stdout, /^hardirq = \S+$/);
});

test('biolatency -D: histograms per disk with --section dev, between two bpftool dumps', needs('biolatency', 'unshare', 'bpftool'), async (t) => {
  const dir = tempDir(t, 'bpfmap-bio');
  const running = await startTool(t, ['biolatency', '-D'], /Hit Ctrl-C/);
  // Direct writes reach the disk as block I/O at once.
  const dd = spawn('dd', ['if=/dev/zero', `of=${path.join(dir, 'io')}`, 'bs=4k', 'count=200', 'oflag=direct'], { stdio: 'ignore' });
  await new Promise((resolve) => dd.on('close', resolve));
  const hists = running.map((info) => info.name === 'hists', 'named hists');
  type Dump = Array<{ formatted: { key: { dev: number; cmd_flags: number }; value: { slots: number[] } } }>;
  const byDev = (dump: Dump): Map<number, number[]> => {
    const sums = new Map<number, number[]>();
    for (const { formatted } of dump) {
      const sum = sums.get(formatted.key.dev) ?? [];
      formatted.value.slots.forEach((count, slot) => (sum[slot] = (sum[slot] ?? 0) + count));
      sums.set(formatted.key.dev, sum);
    }
    return sums;
  };
  const before = byDev(bpftoolJson<Dump>('map', 'dump', 'id', String(hists.id)));
  const ours = cliJson<HistJson>('hist', 'id', String(hists.id), '--section', 'dev');
  const after = byDev(bpftoolJson<Dump>('map', 'dump', 'id', String(hists.id)));
  assert.ok(ours.histograms.length > 0, 'no block I/O seen');
  for (const histogram of ours.histograms) {
    assert.deepEqual(Object.keys(histogram.key ?? {}), ['dev']);
    const dev = Number(histogram.key?.dev);
    assertBetween(before.get(dev) ?? [], denseCounts(histogram.buckets), after.get(dev) ?? [], `dev ${dev}`);
  }
  // Without options: biolatency's `disk = NAME<tab>` headers, the name found from the device number.
  const text = runCli('hist', 'id', String(hists.id));
  assert.equal(text.status, 0, text.stderr);
  const { stdout } = await running.stop('SIGINT');
  assertToolHeaders(text.stdout, stdout, /^disk = \S+\t$/);
  assert.doesNotMatch(text.stdout, /disk = Unknown/);
});

// -F splits by request flags: biolatency names them (`flags = Sync-Write`) from its own table of
// REQ_* bits, after `disk = NAME<tab>` with -D, and hist prints the same headers.
for (const args of [['-F'], ['-D', '-F']]) {
  test(`biolatency ${args.join(' ')}: hist heads each histogram as the tool does, flags named`, needs('biolatency', 'unshare', 'bpftool'), async (t) => {
    const dir = tempDir(t, 'bpfmap-bio-flags');
    const running = await startTool(t, ['biolatency', ...args], /Hit Ctrl-C/);
    const dd = spawn('dd', ['if=/dev/zero', `of=${path.join(dir, 'io')}`, 'bs=4k', 'count=200', 'oflag=direct'], { stdio: 'ignore' });
    await new Promise((resolve) => dd.on('close', resolve));
    const hists = running.map((info) => info.name === 'hists', 'named hists');
    const text = runCli('hist', 'id', String(hists.id));
    assert.equal(text.status, 0, text.stderr);
    const json = cliJson<{ tool?: string; histograms: Array<{ title?: string }> }>('hist', 'id', String(hists.id));
    const { stdout } = await running.stop('SIGINT');
    const flags = '(?:[A-Za-z]+-)*(?:[A-Za-z]+|\\(null\\))';
    const header = args.includes('-D') ? new RegExp(`^disk = \\S+\\tflags = ${flags}$`) : new RegExp(`^flags = ${flags}$`);
    assertToolHeaders(text.stdout, stdout, header);
    // Direct writes of the test are among them (Write, with whatever flags the kernel set).
    assert.match(text.stdout, /flags = (?:[A-Za-z]+-)*Write$/m);
    assert.equal(json.tool, 'biolatency');
    for (const { title } of json.histograms) assert.match(title ?? '', args.includes('-D') ? new RegExp(`^disk = \\S+ flags = ${flags}$`) : new RegExp(`^flags = ${flags}$`));
    if (!args.includes('-D')) assert.doesNotMatch(text.stdout.trimEnd(), /^$/m, 'biolatency -F prints no blank line between histograms');
  });
}
