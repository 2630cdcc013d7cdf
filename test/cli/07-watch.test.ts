/**
 * `watch MAP` in a real terminal (tmux): the table redraws with the map's new values and their
 * rate per second, per-CPU columns on request, and Ctrl-C or `q` gives the terminal back (main
 * screen, cursor shown, the shell's output as it was before).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, needs, pinDir, u32le, u64le } from '../helpers.js';
import { cliPath } from './run-cli.js';
import { TmuxSession } from './tmux.js';

/** The shell line a session runs: a marker, the watch, then its exit status, then a pause to look at the pane. */
function watchCommand(...args: string[]): string {
  const quoted = [process.execPath, cliPath, 'watch', ...args].map((word) => `'${word}'`).join(' ');
  return `sh -c "echo BEFORE-WATCH; ${quoted}; echo EXIT=\\$?; sleep 60"`;
}

/** Checks the terminal is back: main screen with the shell's lines, cursor shown, the table gone. */
async function assertRestored(session: TmuxSession): Promise<void> {
  const pane = await session.waitFor((text) => /EXIT=\d+/.test(text), 'watch to exit');
  assert.match(pane, /^BEFORE-WATCH\nEXIT=0\n/, 'the main screen is back as the shell left it, and watch exited 0');
  assert.doesNotMatch(pane, /q or Ctrl-C quits/);
  assert.deepEqual(session.modes(), { alternate: false, cursorShown: true });
}

test('watch redraws new values with their rate, and Ctrl-C restores the terminal', needs('bpftool', 'tmux'), async (t) => {
  const pin = path.join(pinDir(t, 'cli-watch'), 'counts');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '8', 'name', 'cli_watch');
  using map = BpfMap.openPinned(pin);
  map.set(u32le(1), u64le(0));
  const session = new TmuxSession(t, watchCommand('pinned', pin, '--interval', '0.2'));
  await session.waitFor((pane) => pane.includes('cli_watch (hash, id'), 'the first frame');
  assert.deepEqual(session.modes(), { alternate: true, cursorShown: false });

  // The counter climbs by 1000 every 50 ms or so: about 20000/s.
  let counter = 0;
  const row = /^\s*1\s+(\d+)\s+([\d.]+)\s*$/m;
  const pane = await session.waitFor(
    (text) => {
      const match = row.exec(text);
      return match !== null && Number(match[1]) >= 5000 && Number(match[2]) > 0;
    },
    'a new value and a positive rate',
    () => map.set(u32le(1), u64le((counter += 1000))),
  );
  assert.match(pane, /^\s*key\s+value\s+value\/s\s*$/m);
  const rate = Number(row.exec(pane)?.[2]);
  assert.ok(rate > 1000 && rate < 200_000, `rate ${rate}/s for a counter climbing ~20000/s`);

  session.tmux('send-keys', '-t', session.name, 'C-c');
  await assertRestored(session);
});

test('watch --per-cpu shows a column per CPU and the sum; q quits and restores the terminal', needs('bpftool', 'tmux'), async (t) => {
  const pin = path.join(pinDir(t, 'cli-watch-pcpu'), 'pcpu');
  bpftool('map', 'create', pin, 'type', 'percpu_array', 'key', '4', 'value', '8', 'entries', '2', 'name', 'cli_watch_pc');
  const session = new TmuxSession(t, watchCommand('pinned', pin, '--interval', '0.2', '--per-cpu'));
  await session.waitFor((pane) => pane.includes('cli_watch_pc (percpu_array'), 'the first frame');
  // bpftool writes the value to every CPU.
  bpftool('map', 'update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '7', '0', '0', '0', '0', '0', '0', '0');
  const cpus = (await import('../../src/index.js')).possibleCpus();
  const pane = await session.waitFor((text) => new RegExp(`^\\s*1(\\s+7){${cpus}}\\s+${7 * cpus}\\s`, 'm').test(text), 'the per-CPU values and their sum');
  const header = Array.from({ length: cpus }, (_, cpu) => `cpu${cpu}`).join('\\s+');
  assert.match(pane, new RegExp(`^\\s*key\\s+${header}\\s+sum\\s+sum/s\\s*$`, 'm'));
  session.tmux('send-keys', '-t', session.name, 'q');
  await assertRestored(session);
});

test('watch on a pipe prints one table per interval; bad options are usage errors', needs('bpftool'), async (t) => {
  const pin = path.join(pinDir(t, 'cli-watch-pipe'), 'h');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_watch_p');
  bpftool('map', 'update', 'pinned', pin, 'key', '2', '0', '0', '0', 'value', '9', '0', '0', '0');
  const { startCli, runCli } = await import('./run-cli.js');
  const watcher = startCli('watch', 'pinned', pin, '--interval', '0.1');
  await watcher.waitForStdout((text) => text.split(/^(?=cli_watch_p \()/m).length >= 3, 'three frames');
  watcher.child.kill('SIGINT');
  const result = await watcher.exited;
  assert.equal(result.status, 0, result.stderr);
  const frames = result.stdout.split(/^(?=cli_watch_p \()/m);
  assert.ok(frames.length >= 2, `${frames.length} frames`);
  // No program uses a map bpftool created: watch says so.
  assert.match(frames[0] ?? '', /^cli_watch_p \(hash, id \d+\): 1 entry, every 0.1 s, [\d:]+ \[orphaned: no program uses this map\]\n\nkey  value  value\/s\n  2      9        -\n\n$/);
  assert.match(frames[1] ?? '', /\n  2      9        0\n\n$/);
  for (const [args, message] of [
    [['watch', 'pinned', pin, '--interval', '0'], /--interval: must be more than 0 seconds/],
    [['watch', 'pinned', pin, '--per-cpu'], /not a per-CPU map/],
  ] as Array<[string[], RegExp]>) {
    const bad = runCli(...args);
    assert.equal(bad.status, 2, args.join(' '));
    assert.match(bad.stderr + bad.stdout, message);
  }
});

test('watch -j prints one JSON document per interval with exact values and rates', needs('bpftool'), async (t) => {
  const pin = path.join(pinDir(t, 'cli-watch-json'), 'h');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '4', 'name', 'cli_watch_j');
  // 2^63 + 1 does not fit a double: it must come out as exact digits.
  bpftool('map', 'update', 'pinned', pin, 'key', '2', '0', '0', '0', 'value', '1', '0', '0', '0', '0', '0', '0', '0x80');
  bpftool('map', 'update', 'pinned', pin, 'key', '3', '0', '0', '0', 'value', '10', '0', '0', '0', '0', '0', '0', '0');
  const { startCli } = await import('./run-cli.js');
  const watcher = startCli('-j', 'watch', 'pinned', pin, '--interval', '0.2');
  await watcher.waitForStdout((text) => text.includes('\n'), 'the first document');
  bpftool('map', 'update', 'pinned', pin, 'key', '3', '0', '0', '0', 'value', '110', '0', '0', '0', '0', '0', '0', '0');
  // The document that first sees 110, and one after it.
  await watcher.waitForStdout((text) => /"key":3,"value":\{"value":110,[^\n]*\n[^\n]*\n/.test(text), 'a document after the change');
  watcher.child.kill('SIGINT');
  const result = await watcher.exited;
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.ok(lines.length >= 3, `${lines.length} documents`);
  assert.match(lines[0] ?? '', /"entries":\[\{"key":2,"value":\{"value":9223372036854775809,"value\/s":null\}\},\{"key":3,"value":\{"value":10,"value\/s":null\}\}\]/);
  const documents = lines.map((line) => JSON.parse(line) as { map: { name: string; type: string }; time: string; interval: number; entries: Array<{ key: number; value: Record<string, number | null> }> });
  for (const document of documents) {
    assert.deepEqual(document.map.name, 'cli_watch_j');
    assert.equal(document.map.type, 'hash');
    assert.equal(document.interval, 0.2);
    assert.ok(!Number.isNaN(Date.parse(document.time)));
  }
  const last = documents.at(-1)!;
  assert.equal(last.entries.find((e) => e.key === 3)?.value['value'], 110);
  // The 100 added to key 3 shows up as a positive rate in the document right after it.
  const rising = documents.map((d) => d.entries.find((e) => e.key === 3)?.value['value/s'] ?? 0);
  assert.ok(rising.some((rate) => rate !== null && rate > 0), `rates ${JSON.stringify(rising)}`);
});
