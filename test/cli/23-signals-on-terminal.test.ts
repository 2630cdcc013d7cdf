/**
 * Signals in a real terminal (tmux): Ctrl-C during a long dump leaves no progress line on the
 * screen (and still ends the dump as Ctrl-C does, status 130); SIGHUP during `watch` gives the
 * terminal back (main screen, cursor shown).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, needs, pinDir, tempDir, u32le, u64le } from '../helpers.js';
import { cliPath } from './run-cli.js';
import { TmuxSession } from './tmux.js';

// Enough that a dump one entry per batch (--batch 1) outlasts the wait for its progress line and
// the Ctrl-C after it, even on a fast machine: about 3 s of dump where 200k took 0.6 s.
const ENTRIES = 1_000_000;

test('Ctrl-C during a dump on a terminal erases the progress line; the dump ends with status 130', needs('bpftool', 'tmux'), async (t) => {
  const pin = path.join(pinDir(t, 'cli-dump-sigint'), 'big');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', String(ENTRIES), 'name', 'cli_dump_int');
  {
    using map = BpfMap.openPinned(pin);
    for (let start = 0; start < ENTRIES; start += 50_000) {
      const entries: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = start; i < start + 50_000; i++) entries.push([u32le(i), u64le(i)]);
      map.setBatch(entries);
    }
  }
  const output = path.join(tempDir(t, 'cli-dump-sigint'), 'dump.json');
  // The trap keeps the shell alive after Ctrl-C (children still get the default SIGINT action).
  const session = new TmuxSession(t, `sh -c "trap 'echo INTERRUPTED' INT; '${process.execPath}' '${cliPath}' -j dump pinned '${pin}' --batch 1 > '${output}'; echo EXIT=\\$?; sleep 60"`);
  await session.waitFor((pane) => /dumping cli_dump_int: \d+ entries/.test(pane), 'the progress line', () => {}, 30_000);
  session.tmux('send-keys', '-t', session.name, 'C-c');
  const pane = await session.waitFor((text) => /EXIT=\d+/.test(text), 'the dump to end');
  assert.match(pane, /EXIT=130/);
  assert.doesNotMatch(pane, /dumping/, `no progress line left:\n${pane}`);
});

test('SIGHUP during watch restores the main screen and the cursor', needs('bpftool', 'tmux'), async (t) => {
  const pin = path.join(pinDir(t, 'cli-watch-hup'), 'counts');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '4', 'name', 'cli_watch_hup');
  const watch = [process.execPath, cliPath, 'watch', 'pinned', pin, '--interval', '0.2'].map((word) => `'${word}'`).join(' ');
  const session = new TmuxSession(t, `sh -c "echo BEFORE-WATCH; ${watch}; echo EXIT=\\$?; sleep 60"`);
  await session.waitFor((pane) => pane.includes('cli_watch_hup (hash, id'), 'the first frame');
  assert.deepEqual(session.modes(), { alternate: true, cursorShown: false });
  // The watch process is the only child of the pane's shell, which this test started.
  const shell = session.tmux('display-message', '-p', '-t', session.name, '#{pane_pid}').trim();
  const child = execFileSync('pgrep', ['-P', shell], { encoding: 'utf8' }).trim();
  assert.match(child, /^\d+$/);
  process.kill(Number(child), 'SIGHUP');
  const pane = await session.waitFor((text) => /EXIT=\d+/.test(text), 'watch to exit');
  assert.match(pane, /^BEFORE-WATCH\nEXIT=0\n/);
  assert.deepEqual(session.modes(), { alternate: false, cursorShown: true });
});
