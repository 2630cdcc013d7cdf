/**
 * `events --type` on execsnoop's records, which are shorter than their BTF type: execsnoop sends
 * `struct event` only as far as its trailing `char args[]` is filled. The fixed part decodes, the
 * arguments present decode as text, and the output says the record was partial.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { needs } from '../helpers.js';
import { startTool } from '../real-tools.js';
import { startCli } from './run-cli.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

test('events --type on execsnoop: short records decode their fixed part and the arguments present', needs('execsnoop', 'unshare'), async (t) => {
  const tool = await startTool(t, ['execsnoop'], /PCOMM|PID/);
  const events = tool.map((info) => info.typeName === 'perf_event_array', 'perf event arrays');
  const marker = `bpfmap${process.pid}`;
  const cli = startCli('-j', 'events', 'id', String(events.id), '--type', 'struct event', '--timeout', '20');
  t.after(() => {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  });
  // Exec until a record of ours arrives (the reader needs a moment to put its buffers in place).
  for (let i = 0; i < 100 && !cli.stdout().includes(marker); i++) {
    spawnSync('/bin/true', [marker, 'second-arg']);
    await sleep(50);
  }
  cli.child.kill('SIGINT');
  const result = await cli.exited;
  assert.equal(result.status, 0, result.stderr);
  const ours = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as {
    cpu: number; formatted: { comm: string; args: string; args_count: number; args_size: number; pid: number }; partial?: { member: string; bytes: number; of: number };
  }).filter((record) => record.formatted.args.includes(marker));
  assert.ok(ours.length > 0, `no record of /bin/true ${marker}: ${result.stdout.slice(0, 500)}${result.stderr}`);
  const record = ours[0]!;
  assert.equal(record.formatted.args, `/bin/true\u0000${marker}\u0000second-arg`);
  assert.equal(record.formatted.args_count, 3);
  // Perf samples are padded to 8 bytes: the bytes present are args_size and up to 7 of padding.
  assert.ok(record.partial!.bytes >= record.formatted.args_size && record.partial!.bytes < record.formatted.args_size + 8, JSON.stringify(record));
  assert.equal(record.partial?.member, 'args');
  assert.ok((record.partial?.of ?? 0) > record.partial!.bytes);
});
