/**
 * `dump` of a big map on a terminal draws a progress line on stderr and erases it at the end; on a
 * pipe it draws nothing. The terminal is a tmux pane whose output bytes are logged (pipe-pane), so
 * the line is seen even though it is erased.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, needs, pinDir, tempDir, u32le, u64le } from '../helpers.js';
import { cliPath, runCli } from './run-cli.js';
import { TmuxSession } from './tmux.js';

const ENTRIES = 20_000;

/** A hash map of 100k possible entries (the progress threshold) holding ENTRIES. */
function bigMap(pin: string): void {
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '100000', 'name', 'cli_progress');
  using map = BpfMap.openPinned(pin);
  const entries: Array<[Uint8Array, Uint8Array]> = [];
  for (let i = 0; i < ENTRIES; i++) entries.push([u32le(i), u64le(i)]);
  map.setBatch(entries);
}

test('dump on a terminal shows a progress line on stderr and erases it; stdout stays clean', needs('bpftool', 'tmux'), async (t) => {
  const pin = path.join(pinDir(t, 'cli-progress'), 'big');
  bigMap(pin);
  const dir = tempDir(t, 'cli-progress');
  const output = path.join(dir, 'dump.json');
  const log = path.join(dir, 'pane.log');
  // The shell waits for a key so that logging starts before dump writes anything.
  const session = new TmuxSession(t, `sh -c "read go; '${process.execPath}' '${cliPath}' -j dump pinned '${pin}' --batch 1000 > '${output}'; echo EXIT=\\$?; sleep 60"`);
  session.tmux('pipe-pane', '-o', '-t', session.name, `cat >> '${log}'`);
  session.tmux('send-keys', '-t', session.name, 'Enter');
  await session.waitFor((pane) => /EXIT=\d+/.test(pane), 'dump to finish');
  assert.match(session.capture(), /EXIT=0/);
  assert.ok(existsSync(log));
  const bytes = readFileSync(log, 'latin1');
  const drawn = /\r\x1b\[Kdumping cli_progress: (\d+) entries \(at most 100000\), \d+\/s/.exec(bytes);
  assert.ok(drawn !== null, `a progress line was drawn: ${JSON.stringify(bytes.slice(0, 300))}`);
  // The first line is drawn after the first batch. A hash batch holds whole buckets, so it can
  // stop short of the 1000 asked for (bucket placement follows the map's random hash seed).
  assert.ok(Number(drawn[1]) >= 1 && Number(drawn[1]) <= 1000, `first drawn count: ${drawn[0]}`);
  // Erased at the end: after the last drawn line comes the erase, then the shell's EXIT line.
  assert.match(bytes.slice(bytes.lastIndexOf('dumping cli_progress')), /\r\x1b\[K[^]*EXIT=0/);
  assert.doesNotMatch(session.capture(), /dumping/, 'no progress left on the screen');
  const dumped = JSON.parse(readFileSync(output, 'utf8')) as unknown[];
  assert.equal(dumped.length, ENTRIES, 'stdout holds the dump alone');
});

test('dump on a pipe draws no progress', needs('bpftool'), (t) => {
  const pin = path.join(pinDir(t, 'cli-progress-pipe'), 'big');
  bigMap(pin);
  const result = runCli('-j', 'dump', 'pinned', pin, '--batch', '1000');
  assert.equal(result.status, 0);
  assert.equal(result.stderr, '');
  assert.equal((JSON.parse(result.stdout) as unknown[]).length, ENTRIES);
});
