/**
 * `update` of a prog_array takes `value PROG` (id, pinned, tag, name) as bpftool does, and the map
 * then holds the program's id; bloom filters take `push MAP value DATA` and `update MAP value DATA`
 * (bpftool's update without a key).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../../src/index.js';
import { bpftool, bpftoolJson, loadBpfObject, needs, pinDir, tempDir, u32le } from '../helpers.js';
import { runCli } from './run-cli.js';

/**
 * Loads a one-instruction socket program with a name and a tag no other test's program has
 * (the tag hashes the instructions, so the return value makes it unique).
 */
function uniqueProgram(t: Parameters<typeof pinDir>[0]): { pin: string; id: number; tag: string; name: string } {
  const suffix = Math.random().toString(36).slice(2, 10);
  const name = `pa_${suffix}`;
  const dir = tempDir(t, 'cli-prog');
  const source = path.join(dir, 'prog.c');
  writeFileSync(source, `#include <linux/bpf.h>\n__attribute__((section("socket"), used)) int ${name}(void *ctx) { return ${Math.floor(Math.random() * 1e9)}; }\nchar _license[] __attribute__((section("license"), used)) = "GPL";\n`);
  const object = path.join(dir, 'prog.o');
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  execFileSync('clang', ['-O2', '-target', 'bpf', `-I/usr/include/${triplet}`, '-c', source, '-o', object], { stdio: 'pipe' });
  const { progs } = loadBpfObject(object, pinDir(t, 'cli-prog'));
  const pin = path.join(progs, name);
  const { id, tag } = bpftoolJson<{ id: number; tag: string }>('prog', 'show', 'pinned', pin);
  return { pin, id, tag, name };
}

test('prog_array update takes value PROG by pinned, id, tag and name; the slot then holds the program id', needs('bpftool', 'clang'), (t) => {
  const dir = pinDir(t, 'cli-prog-array');
  const array = path.join(dir, 'jumps');
  bpftool('map', 'create', array, 'type', 'prog_array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_jumps');
  const program = uniqueProgram(t);
  const forms: string[][] = [['pinned', program.pin], ['id', String(program.id)], ['tag', program.tag], ['name', program.name]];
  for (const [slot, form] of forms.entries()) {
    // Program arrays take only the `any` flag (the kernel refuses others with EINVAL).
    const result = runCli('-j', 'update', 'pinned', array, 'key', String(slot), '0', '0', '0', 'value', ...form, ...(slot === 0 ? ['any'] : []));
    assert.equal(result.status, 0, `${form.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.equal(result.stdout, 'null\n');
  }
  using jumps = BpfMap.openPinned(array);
  for (let slot = 0; slot < forms.length; slot++) assert.equal(jumps.getId(u32le(slot)), program.id, `slot ${slot}`);
  // The array is now bound to the program's type: show prints it as bpftool does.
  assert.equal(runCli('-j', 'show', 'pinned', array).stdout, bpftool('-j', 'map', 'show', 'pinned', array));
  assert.equal(runCli('show', 'pinned', array).stdout, bpftool('map', 'show', 'pinned', array));
  assert.match(runCli('show', 'pinned', array).stdout, /\n\towner_prog_type socket_filter  owner (not )?jited\n/);
  const hash = path.join(dir, 'h');
  bpftool('map', 'create', hash, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_notprog');
  const cases: Array<[string[], number, RegExp]> = [
    [['value', 'pinned', path.join(dir, 'missing')], 1, /no program pinned at .*missing/],
    [['value', 'pinned', hash], 1, /is not a pinned program/],
    [['value', 'id', '4294967295'], 1, /no program with id 4294967295/],
    [['value', 'tag', 'nothex'], 2, /is not 8 bytes of hex/],
    [['value', 'name', 'no_such_prog_x'], 1, /no program with name no_such_prog_x/],
    [['value', 'fd', '3'], 2, /expected 'id', 'pinned', 'tag' or 'name' for a program/],
    [['value', '1', '0', '0', '0'], 2, /for a program, got '1'/],
  ];
  for (const [value, status, message] of cases) {
    const result = runCli('update', 'pinned', array, 'key', '3', '0', '0', '0', ...value);
    assert.equal(result.status, status, `${value.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^Error: [^\n]+\n$/);
    assert.match(result.stderr, message);
  }
  assert.equal(jumps.getId(u32le(3)), program.id, 'failed updates changed nothing');
});

test('bloom_filter: push and key-less update add values, as bpftool does; only the any flag', needs('bpftool'), (t) => {
  const pin = path.join(pinDir(t, 'cli-bloom'), 'bloom');
  assert.equal(runCli('create', pin, 'type', 'bloom_filter', 'key', '0', 'value', '4', 'entries', '16', 'name', 'cli_bloom').status, 0);
  assert.equal(runCli('push', 'pinned', pin, 'value', '1', '2', '3', '4').status, 0);
  assert.equal(runCli('-j', 'update', 'pinned', pin, 'value', '5', '6', '7', '8', 'any').stdout, 'null\n');
  bpftool('map', 'push', 'pinned', pin, 'value', '9', '9', '9', '9');
  using bloom = BpfMap.openPinned(pin);
  for (const value of [[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]]) assert.equal(bloom.mayContain(Uint8Array.from(value)), true, value.join(' '));
  // 3 values in a 16-entry filter: a false positive here is a one-in-millions event.
  assert.equal(bloom.mayContain(Uint8Array.of(0xde, 0xad, 0xbe, 0xef)), false);
  const flagged = runCli('update', 'pinned', pin, 'value', '1', '1', '1', '1', 'noexist');
  assert.equal(flagged.status, 2);
  assert.match(flagged.stderr, /bloom_filter update takes no flag but 'any'/);
  assert.equal(bloom.mayContain(Uint8Array.of(1, 1, 1, 1)), false, 'the refused update added nothing');
  const short = runCli('push', 'pinned', pin, 'value', '1', '2');
  assert.equal(short.status, 2);
  assert.match(short.stderr, /value expected 4 bytes, got 2/);
});
