/**
 * What a new user meets first: per-command help, the help overview, the short usage without a command, unknown
 * options (prototype names included), map type mistakes, and JSON nested too deep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBpfObject, needs, pinDir, tempDir } from '../helpers.js';
import { buildCliFixture, runCli } from './run-cli.js';
import { commands } from '../../src/cli/app.js';

test('help COMMAND and COMMAND --help print that command\'s usage and what it does', () => {
  const viaHelp = runCli('help', 'watch');
  assert.equal(viaHelp.status, 0, viaHelp.stderr);
  assert.match(viaHelp.stdout, /^Usage: bpfmap \[OPTIONS\] watch\s+MAP/);
  assert.match(viaHelp.stdout, /No rates for fields that are not counters/);
  assert.doesNotMatch(viaHelp.stdout, /bpfmap \[OPTIONS\] dump/, 'only the one command');
  const viaOption = runCli('watch', '--help');
  assert.equal(viaOption.status, 0, viaOption.stderr);
  assert.equal(viaOption.stdout, viaHelp.stdout);
  // A prefix selects the command, as everywhere else.
  assert.equal(runCli('help', 'wat').stdout, viaHelp.stdout);
  const unknown = runCli('help', 'nosuch');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'nosuch'/);
  // `COMMAND help`, as `bpftool map help`: the same text; with more words it stays a usage error.
  const viaWord = runCli('watch', 'help');
  assert.equal(viaWord.status, 0, viaWord.stderr);
  assert.equal(viaWord.stdout, viaHelp.stdout);
  assert.equal(runCli('help', 'help').status, 0);
  const extra = runCli('dump', 'help', 'extra');
  assert.equal(extra.status, 2);
  assert.match(extra.stderr, /^Error: expected 'id', 'pinned' or 'name', got 'help'\n$/);
});

test('help without a command is a short overview: every command once, grouped, one line each', () => {
  const all = runCli('help');
  assert.equal(all.status, 0, all.stderr);
  assert.equal(runCli('--help').stdout, all.stdout);
  const lines = all.stdout.trimEnd().split('\n');
  assert.ok(lines.length <= 50, `${lines.length} lines`);
  for (const line of lines) assert.ok(line.length <= 100, `a line of ${line.length} characters: ${line}`);
  // Not the full usage of every command: that is what 'help COMMAND' is for.
  assert.doesNotMatch(all.stdout, /bpfmap \[OPTIONS\] (dump|watch|create)/);
  assert.match(all.stdout, /'bpfmap help COMMAND' or 'bpfmap COMMAND help'/);
  assert.match(all.stdout, /^Maps \(bpftool map\):$/m);
  assert.match(all.stdout, /^Queues, stacks, bloom filters:$/m);
  // Each command of the table (other sessions add commands) stands at the start of exactly one line.
  const commandLines = lines.filter((line) => /^ {2}[a-z_]/.test(line) && !/:=/.test(line));
  const listed = commandLines.flatMap((line) => (line.trim().split(/\s{2,}/)[0] as string).split(', '));
  assert.deepEqual([...listed].sort(), commands.map((command) => command.name).sort());
  for (const line of commandLines) assert.match(line, /^ {2}[a-z_, ]+ {2,}\S/, `a summary on the line: ${line}`);
});

test('no command: a short usage on stderr and exit 2; with -j a JSON error on stdout', () => {
  const plain = runCli();
  assert.equal(plain.status, 2);
  assert.equal(plain.stdout, '');
  const lines = plain.stderr.trim().split('\n');
  assert.equal(lines.length, 1, 'one line, not the whole usage');
  assert.match(lines[0] as string, /no command given.*show, list, help, dump/);
  const json = runCli('-j');
  assert.equal(json.status, 2);
  const document = JSON.parse(json.stdout) as { error: string };
  assert.match(document.error, /no command given/);
});

test('options named like Object.prototype members are unknown options', () => {
  for (const option of ['--constructor', '--__proto__', '--toString', '--hasOwnProperty', '--valueOf']) {
    const result = runCli(option, 'help');
    assert.equal(result.status, 2, `${option}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, new RegExp(`unknown option '${option}'`));
  }
});

test('create: a misspelt type lists the valid ones; type 0 is a usage error; nothing is pinned', needs(), (t) => {
  const dir = pinDir(t, 'cli-create-type');
  const pin = path.join(dir, 'm');
  const misspelt = runCli('create', pin, 'type', 'hashh', 'key', '4', 'value', '4', 'entries', '4', 'name', 'x');
  assert.equal(misspelt.status, 2);
  assert.match(misspelt.stderr, /invalid map type 'hashh': expected one of hash, array, .*ringbuf.* or a number/);
  const zero = runCli('create', pin, 'type', '0', 'key', '4', 'value', '4', 'entries', '4', 'name', 'x');
  assert.equal(zero.status, 2, zero.stderr);
  assert.match(zero.stderr, /0 is not a map type/);
  const prototypeName = runCli('create', pin, 'type', 'constructor', 'key', '4', 'value', '4', 'entries', '4', 'name', 'x');
  assert.equal(prototypeName.status, 2);
  assert.equal(existsSync(pin), false);
});

test('a key nested 30,000 levels deep is a usage error, not a stack overflow', needs('clang', 'bpftool'), (t) => {
  const dir = pinDir(t, 'cli-deep-json');
  const object = buildCliFixture(tempDir(t, 'cli-deep-json'));
  const { maps } = loadBpfObject(object, dir);
  const pin = path.join(maps, 'flows');
  assert.ok(existsSync(pin), 'the fixture pins a map named flows');
  const deep = `${'['.repeat(30000)}${']'.repeat(30000)}`;
  for (const json of [false, true]) {
    const result = json ? runCli('-j', 'lookup', 'pinned', pin, 'key', deep) : runCli('lookup', 'pinned', pin, 'key', deep);
    assert.equal(result.status, 2, result.stderr);
    if (json) assert.match((JSON.parse(result.stdout) as { error: string }).error, /nested deeper than 256 levels/);
    else {
      assert.match(result.stderr, /^Error: key: invalid JSON at character 257: nested deeper than 256 levels\n$/);
      assert.doesNotMatch(result.stderr, /RangeError|stack/);
    }
  }
});
