/**
 * Maps with BTF (loaded from test/cli/fixtures/cli_maps.bpf.c by bpftool): `formatted` equals
 * bpftool's entry for entry, 64-bit values stay exact, and keys and values can be typed as JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { bpftool, bpftoolJson, loadBpfObject, needs, pinDir, tempDir } from '../helpers.js';
import { buildCliFixture, cliJson, runCli } from './run-cli.js';

const FLOW_KEY = ['127', '0', '0', '1', '80', '0', '6', '0'];
const FLOW_VALUE = [
  '1', '0', '0', '0', '0', '0', '0', '0', // packets
  '255', '255', '255', '255', '255', '255', '255', '255', // bytes: 2^64 - 1
  '110', '111', '100', '101', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', // comm "node"
  '7', '0', '0', '0', // color BLUE
  '0x0b', '0', '0', '0', // flag 1, level 5
  '0xfe', '0xff', '0xff', '0xff', // delta -2
  '0', '0', '0', '0',
];

test('formatted output equals bpftool for structs, enums, bitfields, char arrays and per-CPU values', needs('bpftool', 'clang'), (t) => {
  const dir = pinDir(t, 'cli-btf');
  const { maps } = loadBpfObject(buildCliFixture(tempDir(t)), dir);
  const flows = path.join(maps, 'flows');
  bpftool('map', 'update', 'pinned', flows, 'key', ...FLOW_KEY, 'value', ...FLOW_VALUE);
  bpftool('map', 'update', 'pinned', path.join(maps, 'pcpu_counts'), 'key', '1', '0', '0', '0', 'value', '255', '255', '255', '255', '255', '255', '255', '127');
  for (const name of ['flows', 'pcpu_counts', 'hist_slots', 'hist_by_cpu']) {
    const pin = path.join(maps, name);
    const ours = runCli('-j', 'dump', 'pinned', pin);
    assert.equal(ours.status, 0, ours.stderr);
    const theirs = bpftool('-j', 'map', 'dump', 'pinned', pin);
    // Same text, so 64-bit numbers are the same digits (JSON.parse would round both alike).
    assert.equal(ours.stdout.trim(), theirs.trim(), name);
  }
  assert.equal(runCli('-j', 'lookup', 'pinned', flows, 'key', ...FLOW_KEY).stdout.trim(), bpftool('-j', 'map', 'lookup', 'pinned', flows, 'key', ...FLOW_KEY).trim());
  assert.match(runCli('-j', 'dump', 'pinned', flows).stdout, /"bytes":18446744073709551615,/);
});

test('keys and values given as JSON write the same bytes as bpftool bytes', needs('bpftool', 'clang'), (t) => {
  const dir = pinDir(t, 'cli-btf-input');
  const { maps } = loadBpfObject(buildCliFixture(tempDir(t)), dir);
  const flows = path.join(maps, 'flows');
  const key = '{"saddr": 16777343, "dport": 80, "proto": 6, "pad": 0}';
  const value = '{"packets": 1, "bytes": 18446744073709551615, "comm": "node", "color": "BLUE", "flag": 1, "level": 5, "delta": -2}';
  const update = runCli('update', 'pinned', flows, 'key', key, 'value', value, 'noexist');
  assert.equal(update.status, 0, update.stderr);
  const entry = bpftoolJson<Record<string, unknown>>('map', 'lookup', 'pinned', flows, 'key', ...FLOW_KEY);
  assert.deepEqual(entry.value, FLOW_VALUE.map((byte) => `0x${Number(byte).toString(16).padStart(2, '0')}`));
  // A lone number is a typed key when the map has BTF; per-CPU maps get it on every CPU.
  const counts = path.join(maps, 'pcpu_counts');
  assert.equal(runCli('update', 'pinned', counts, 'key', '2', 'value', '9007199254740993').status, 0);
  const looked = cliJson<{ formatted: { values: Array<{ value: unknown }> } }>('lookup', 'pinned', counts, 'key', '2');
  assert.ok(looked.formatted.values.length >= 1);
  const text = runCli('-j', 'lookup', 'pinned', counts, 'key', '2').stdout;
  assert.match(text, /"value":9007199254740993\}/);
  // JSON against a map field that does not exist is a usage error and writes nothing.
  const bad = runCli('update', 'pinned', flows, 'key', '{"saddr": 1}', 'value', value);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^Error: key: .*dport/);
  assert.equal(bpftoolJson<unknown[]>('map', 'dump', 'pinned', flows).length, 1);
  // So is a field the type does not have (a misspelling), named in the message.
  const misspelled = runCli('update', 'pinned', flows, 'key', key, 'value', value.replace('"packets"', '"packet"'));
  assert.equal(misspelled.status, 2, misspelled.stderr);
  assert.match(misspelled.stderr, /^Error: value: .*packet\b/);
  assert.equal(bpftoolJson<unknown[]>('map', 'dump', 'pinned', flows).length, 1);
  // Text output: a flat struct key and value print as an aligned table.
  const table = runCli('dump', 'pinned', flows).stdout.split('\n');
  assert.match(table[0] ?? '', /^\s*saddr\s+dport\s+proto\s+pad\s+packets\s+bytes\s+comm\s+color\s+flag\s+level\s+delta$/);
  assert.match(table[1] ?? '', /16777343\s+80\s+6\s+0\s+1\s+18446744073709551615\s+node\s+BLUE\s+0x1\s+0x5\s+-2/);
  assert.equal(table[2], 'Found 1 element');
});

test('JSON input on a map without BTF is a usage error', needs('bpftool'), (t) => {
  const dir = pinDir(t, 'cli-btf-none');
  const pin = path.join(dir, 'raw');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_raw');
  const result = runCli('update', 'pinned', pin, 'key', '{"a": 1}', 'value', '1', '2', '3', '4');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /no BTF/);
});
