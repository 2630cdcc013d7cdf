/**
 * libbpf-tools' wakeuptime (tp_btf programs, which this kernel runs) filtered to a child of the
 * test that wakes up a few times and then sleeps for good, so its maps stop changing: bpfmap's
 * `-j dump` of `counts` (a BTF key of two comms and a stack id) equals bpftool's, and each entry,
 * with its waker stack read from `stackmap` through `bpfmap lookup`, is one block the tool prints
 * at exit: same target, waker, kernel addresses and blocked time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { bpftool, needs } from '../helpers.js';
import { startTool } from '../real-tools.js';
import { runCli } from './run-cli.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One block of wakeuptime's output: `target: X`, the waker's kernel stack, `waker: Y`, microseconds. */
interface Block { target: string; addresses: bigint[]; waker: string; usecs: number }

function toolBlocks(stdout: string): Block[] {
  const blocks: Block[] = [];
  let current: { target: string; addresses: bigint[] } | undefined;
  let waker: string | undefined;
  for (const line of stdout.split('\n')) {
    const target = /^\ttarget: +(.*)$/.exec(line);
    if (target !== null) {
      current = { target: target[1] ?? '', addresses: [] };
      continue;
    }
    if (current === undefined) continue;
    const frame = /^\t([0-9a-f]+) +\S+$/.exec(line);
    const wakerLine = /^\t {10}waker: (.*)$/.exec(line);
    const value = /^\t(-?\d+)$/.exec(line);
    if (wakerLine !== null) waker = wakerLine[1] ?? '';
    else if (value !== null && waker !== undefined) {
      blocks.push({ ...current, waker, usecs: Number(value[1]) });
      current = undefined;
      waker = undefined;
    } else if (frame !== null) current.addresses.push(BigInt(`0x${frame[1]}`));
  }
  return blocks;
}

interface CountEntry { key: string[]; formatted: { key: { waker: string; target: string; w_k_stack_id: number }; value: number } }

test('wakeuptime: counts and stackmap read through bpfmap are the blocks the tool prints', needs('wakeuptime', 'unshare', 'bpftool'), async (t) => {
  // Woken by the test's write, then by ten `sleep` children exiting; then asleep for good.
  const child = spawn('sh', ['-c', 'read line; i=0; while [ $i -lt 10 ]; do sleep 0.02; i=$((i+1)); done; echo done; exec sleep 1000'], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const tool = await startTool(t, ['wakeuptime', '-p', String(child.pid)], /Tracing blocked time/);
  child.stdin.write('go\n');
  while (!out.includes('done')) await sleep(10);
  await sleep(300);

  const counts = tool.map((info) => info.name === 'counts', 'named counts');
  const stackmap = tool.map((info) => info.name === 'stackmap', 'named stackmap');
  const dump = runCli('-j', 'dump', 'id', String(counts.id));
  assert.equal(dump.status, 0, dump.stderr);
  assert.equal(dump.stdout.trim(), bpftool('-j', 'map', 'dump', 'id', String(counts.id)).trim());
  const entries = JSON.parse(dump.stdout) as CountEntry[];
  assert.ok(entries.length >= 2, `expected wake-ups of the child: ${dump.stdout}`);
  const ours = entries.map(({ formatted }) => {
    const id = formatted.key.w_k_stack_id;
    const stackKey = [id & 0xff, (id >>> 8) & 0xff, (id >>> 16) & 0xff, (id >>> 24) & 0xff].map(String);
    const lookup = runCli('-j', 'lookup', 'id', String(stackmap.id), 'key', ...stackKey);
    assert.equal(lookup.status, 0, lookup.stderr);
    const bytes = Buffer.from((JSON.parse(lookup.stdout) as { value: string[] }).value.map((byte) => Number(byte)));
    const addresses: bigint[] = [];
    for (let offset = 0; offset + 8 <= bytes.length; offset += 8) {
      const address = bytes.readBigUInt64LE(offset);
      if (address === 0n) break;
      addresses.push(address);
    }
    // wakeuptime reads the u64 into an int and divides by 1000: the low 32 bits, signed, truncated.
    const usecs = Math.trunc(Number(BigInt.asIntN(32, BigInt(formatted.value))) / 1000);
    return { target: formatted.key.target, addresses, waker: formatted.key.waker, usecs };
  });
  const { stdout } = await tool.stop('SIGINT');
  const theirs = toolBlocks(stdout);
  assert.equal(theirs.length, ours.length, stdout);
  for (const block of ours) {
    assert.ok(theirs.some((their) => their.target === block.target && their.waker === block.waker && their.usecs === block.usecs && their.addresses.join() === block.addresses.join()),
      `the tool printed no block ${hexJson(block)} among ${hexJson(theirs)}`);
  }
  assert.ok(ours.some((block) => block.target === 'sh' && block.waker === 'sleep'), JSON.stringify(ours.map(({ target, waker }) => ({ target, waker }))));
});

function hexJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v));
}
