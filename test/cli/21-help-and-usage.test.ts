/**
 * What a new user meets first: per-command help, the short usage without a command, unknown
 * options (prototype names included), map type mistakes, and JSON nested too deep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBpfObject, needs, pinDir, tempDir } from '../helpers.js';
import { buildCliFixture, runCli } from './run-cli.js';

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
  const all = runCli('help');
  assert.equal(all.status, 0);
  assert.match(all.stdout, /bpfmap \[OPTIONS\] dump/);
  assert.match(all.stdout, /bpfmap help COMMAND/);
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
