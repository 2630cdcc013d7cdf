/**
 * Commands that change maps (update, delete, create, pin, freeze, push) checked with bpftool, and
 * every kind of bad input: one line on stderr (or bpftool's {"error"} with -j), exit 2 for usage
 * and 1 for failed operations, and nothing changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { bpftool, bpftoolJson, needs, pinDir } from '../helpers.js';
import { cliJson, runCli } from './run-cli.js';

test('update (flags, hex, octal, per-CPU), delete, create, pin, freeze', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-writes');
  const pin = path.join(dir, 'h');
  assert.equal(runCli('create', pin, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '8', 'name', 'cli_h', 'flags', '0x1').status, 0);
  const shown = bpftoolJson<Record<string, unknown>>('map', 'show', 'pinned', pin);
  assert.equal(shown.type, 'hash');
  assert.equal(shown.flags, 1);
  assert.equal(shown.name, 'cli_h');
  assert.equal(runCli('-j', 'update', 'pinned', pin, 'key', '0x1', '010', '9', '0', 'value', 'hex', 'de', 'ad', '0xbe', 'ef').stdout.trim(), 'null');
  assert.deepEqual(bpftoolJson('map', 'lookup', 'pinned', pin, 'key', '1', '8', '9', '0'), {
    key: ['0x01', '0x08', '0x09', '0x00'], value: ['0xde', '0xad', '0xbe', '0xef'],
  });
  const exists = runCli('update', 'pinned', pin, 'key', '1', '8', '9', '0', 'value', '0', '0', '0', '0', 'noexist');
  assert.equal(exists.status, 1);
  assert.match(exists.stderr, /EEXIST/);
  assert.equal(runCli('update', 'pinned', pin, 'key', '2', '0', '0', '0', 'value', '0', '0', '0', '0', 'exist').status, 1);
  assert.equal(runCli('update', 'pinned', pin, 'key', '1', '8', '9', '0', 'value', '1', '1', '1', '1', 'exist').status, 0);
  assert.equal(runCli('delete', 'pinned', pin, 'key', '1', '8', '9', '0').status, 0);
  assert.equal(runCli('delete', 'pinned', pin, 'key', '1', '8', '9', '0').status, 1);
  assert.deepEqual(bpftoolJson('map', 'dump', 'pinned', pin), []);

  const pcpu = path.join(dir, 'pc');
  bpftool('map', 'create', pcpu, 'type', 'percpu_hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_pc');
  assert.equal(runCli('update', 'pinned', pcpu, 'key', '1', '0', '0', '0', 'value', '7', '0', '0', '0').status, 0);
  const entry = bpftoolJson<{ values: Array<{ value: string[] }> }>('map', 'lookup', 'pinned', pcpu, 'key', '1', '0', '0', '0');
  for (const { value } of entry.values) assert.deepEqual(value, ['0x07', '0x00', '0x00', '0x00']);

  const second = path.join(dir, 'second');
  assert.equal(runCli('pin', 'pinned', pin, second).status, 0);
  assert.equal(bpftoolJson<{ id: number }>('map', 'show', 'pinned', second).id, shown.id);
  assert.equal(runCli('freeze', 'pinned', pin).status, 0);
  assert.equal(bpftoolJson<{ frozen: number }>('map', 'show', 'pinned', pin).frozen, 1);
  const frozen = runCli('update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '1', '0', '0', '0');
  assert.equal(frozen.status, 1);
  assert.match(frozen.stderr, /frozen/);

  const outer = path.join(dir, 'outer');
  const inner = path.join(dir, 'inner');
  bpftool('map', 'create', inner, 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'cli_inner');
  assert.equal(runCli('create', outer, 'type', 'array_of_maps', 'key', '4', 'value', '4', 'entries', '2', 'name', 'cli_outer', 'inner_map', 'pinned', inner).status, 0);
  assert.equal(runCli('update', 'pinned', outer, 'key', '0', '0', '0', '0', 'value', 'pinned', inner).status, 0);
  const innerId = bpftoolJson<{ id: number }>('map', 'show', 'pinned', inner).id;
  assert.deepEqual(cliJson<{ value: string[] }>('lookup', 'pinned', outer, 'key', '0', '0', '0', '0').value, bpftoolJson<{ value: string[] }>('map', 'lookup', 'pinned', outer, 'key', '0', '0', '0', '0').value);
  assert.equal(cliJson<{ value: string[] }>('lookup', 'pinned', outer, 'key', '0', '0', '0', '0').value[0], `0x${(innerId & 0xff).toString(16).padStart(2, '0')}`);
});

test('bad input: one line, exit 2 for usage and 1 for failures, bpftool JSON errors, nothing changed', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-errors');
  const pin = path.join(dir, 'h');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_err');
  bpftool('map', 'update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '1', '0', '0', '0');
  const before = bpftool('-j', 'map', 'dump', 'pinned', pin);
  const cases: Array<{ args: string[]; status: number; message: RegExp }> = [
    { args: ['frobnicate'], status: 2, message: /unknown command 'frobnicate'/ },
    { args: ['update', 'pinned', pin, 'key', 'hex', 'zz', '0', '0', '0', 'value', '1', '0', '0', '0'], status: 2, message: /error parsing byte: zz/ },
    { args: ['update', 'pinned', pin, 'key', '1', '0', '0', 'value', '9', '9', '9', '9'], status: 2, message: /key expected 4 bytes, got 3/ },
    { args: ['update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '9', '9', '9', '9', '9'], status: 2, message: /expected an update flag .* got '9'/ },
    { args: ['update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '9', '9', '9', '256'], status: 2, message: /byte 256 is out of range/ },
    { args: ['update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '9', '9', '9', '9', 'sometimes'], status: 2, message: /update flag/ },
    { args: ['update', 'pinned', pin, 'key', '1', '0', '0', '0'], status: 2, message: /'value' expected/ },
    { args: ['update', 'pinned', pin, 'key', '1', '0', '0', '0', 'value', '9', '9', '9', '9', '--bogus'], status: 2, message: /unknown option '--bogus'/ },
    { args: ['update', 'pinned', path.join(dir, 'missing'), 'key', '1', '0', '0', '0', 'value', '9', '9', '9', '9'], status: 1, message: /no map pinned at .*missing/ },
    { args: ['dump', 'id', '0'], status: 2, message: /not a map id/ },
    { args: ['dump', 'id', '4294967295'], status: 1, message: /no map with id 4294967295/ },
    { args: ['dump', 'fd', '3'], status: 2, message: /expected 'id', 'pinned' or 'name'/ },
    { args: ['dump', 'name', 'a_name_that_is_too_long'], status: 2, message: /longer than 15/ },
    { args: ['lookup', 'pinned', pin, 'key', '9', '9', '9', '9'], status: 1, message: /key not found/ },
    { args: ['delete', 'pinned', pin, 'key', '9', '9', '9', '9'], status: 1, message: /not found/ },
    { args: ['create', path.join(dir, 'x'), 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4'], status: 2, message: /map name not specified/ },
    { args: ['create', path.join(dir, 'x'), 'type', 'nonsense', 'name', 'x'], status: 2, message: /invalid map type/ },
    { args: ['create', path.join(dir, 'x'), 'type', 'array', 'key', '3', 'value', '4', 'entries', '4', 'name', 'x'], status: 1, message: /MAP_CREATE.*EINVAL/ },
    { args: ['pop', 'pinned', pin], status: 1, message: /needs a queue or stack/ },
    { args: ['-q', 'show'], status: 2, message: /unknown option '-q'/ },
  ];
  for (const { args, status, message } of cases) {
    const text = runCli(...args);
    assert.equal(text.status, status, `${args.join(' ')}: ${text.stderr}`);
    assert.equal(text.stdout, '', args.join(' '));
    assert.match(text.stderr, /^Error: [^\n]+\n$/, args.join(' '));
    assert.match(text.stderr, message, args.join(' '));
    const json = runCli('-j', ...args);
    assert.equal(json.status, status);
    assert.equal(json.stderr, '');
    const document = JSON.parse(json.stdout) as { error?: string } | null;
    if (document !== null) assert.match(document.error ?? '', message);
  }
  assert.equal(bpftool('-j', 'map', 'dump', 'pinned', pin), before);
  assert.equal(existsSync(path.join(dir, 'x')), false);
});

test('keywords and commands may be abbreviated as in bpftool', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-prefix');
  const pin = path.join(dir, 'h');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_prefix');
  assert.equal(runCli('upd', 'pin', pin, 'k', '1', '0', '0', '0', 'v', '2', '0', '0', '0', 'noex').status, 0);
  assert.deepEqual(cliJson('dum', 'pinned', pin), bpftoolJson('map', 'dump', 'pinned', pin));
  assert.deepEqual(cliJson('dump', 'name', 'cli_prefix'), bpftoolJson('map', 'dump', 'pinned', pin));
});

test('demo runs end to end and exits 0', needs(), () => {
  const result = runCli('demo');
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /1\. create a hash map/);
  assert.match(result.stdout, /9223372036854775809/);
  assert.match(result.stdout, /Found 3 elements/);
  assert.match(result.stdout, /^done$/m);
});
