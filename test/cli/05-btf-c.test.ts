/**
 * `btf MAP`: the printed C compiles with clang for the BPF target, and the key and value types it
 * declares have the map's key and value sizes (checked by `_Static_assert` in the compiled text).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bpftool, bpftoolJson, buildBpfObject, loadBpfObject, needs, pinDir, tempDir } from '../helpers.js';
import { buildCliFixture, cliJson, runCli } from './run-cli.js';

interface BtfPart {
  type: string;
  kind: string;
  btf_id: number;
  size: number;
  c: string;
}

/** Compiles C with clang for the BPF target (the types' ABI); throws with clang's message. */
function compileC(dir: string, name: string, source: string): void {
  const file = path.join(dir, `${name}.c`);
  writeFileSync(file, source);
  execFileSync('clang', ['-target', 'bpf', '-fsyntax-only', '-Wall', '-Werror', file], { stdio: 'pipe' });
}

/** A static assertion that a type has `size` bytes. */
function sizeAssert(part: BtfPart): string {
  return `_Static_assert(sizeof(${part.type}) == ${part.size}, "${part.type} is ${part.size} bytes");\n`;
}

/** Every pinned map of the BTF fixtures: structs, unions, enums, bitfields, floats, anonymous types, data sections. */
function fixtureMaps(t: Parameters<typeof pinDir>[0]): string[] {
  const cli = loadBpfObject(buildCliFixture(tempDir(t)), pinDir(t, 'cli-btf-c'));
  const types = loadBpfObject(buildBpfObject('btf_types'), pinDir(t, 'cli-btf-c-types'));
  const names = ['flows', 'pcpu_counts', 'hist_by_cpu', 'anon_values', 'name_keys'].map((name) => path.join(cli.maps, name));
  // Every map of btf_types, the data sections included (named after the object: btf_type_data, ...).
  const typeMaps = readdirSync(types.maps).map((name) => path.join(types.maps, name));
  assert.ok(typeMaps.some((pin) => pin.endsWith('_rodata')), 'the data-section maps are pinned');
  return [...names, ...typeMaps];
}

test('btf -j: each type compiles on its own and has the map\'s key or value size', needs('bpftool', 'clang'), (t) => {
  const dir = tempDir(t, 'cli-btf-c');
  for (const pin of fixtureMaps(t)) {
    const shown = bpftoolJson<{ bytes_key: number; bytes_value: number }>('map', 'show', 'pinned', pin);
    const parts = cliJson<{ key: BtfPart | null; value: BtfPart | null }>('btf', 'pinned', pin);
    const name = path.basename(pin);
    assert.ok(parts.value !== null, `${name}: value type`);
    // .data/.bss/.rodata maps have no BTF key type: bpftool formats them without one too.
    if (/_(data|bss|rodata)$/.test(name)) assert.equal(parts.key, null, name);
    else assert.ok(parts.key !== null, `${name}: key type`);
    for (const [part, size] of [[parts.key, shown.bytes_key], [parts.value, shown.bytes_value]] as const) {
      if (part === null) continue;
      assert.equal(part.size, size, `${name}: ${part.type}`);
      // A data section is a list of variables: C has no type for the whole of it.
      const source = part.kind === 'datasec' ? part.c : `${part.c}\n${sizeAssert(part)}`;
      assert.doesNotThrow(() => compileC(dir, `${name}-${part.type}`, source), `${name}: ${source}`);
    }
  }
});

test('btf text: one translation unit declaring key and value, which compiles with both sizes asserted', needs('bpftool', 'clang'), (t) => {
  const dir = tempDir(t, 'cli-btf-c-text');
  for (const pin of fixtureMaps(t)) {
    const name = path.basename(pin);
    const result = runCli('btf', 'pinned', pin);
    assert.equal(result.status, 0, result.stderr);
    const parts = cliJson<{ key: BtfPart | null; value: BtfPart | null }>('btf', 'pinned', pin);
    const { id, name: mapName } = bpftoolJson<{ id: number; name: string }>('map', 'show', 'pinned', pin);
    assert.ok(result.stdout.startsWith(`/* ${mapName} (id ${id}, btf_id `), result.stdout);
    const asserts = [parts.key, parts.value].filter((part): part is BtfPart => part !== null && part.kind !== 'datasec').map(sizeAssert);
    assert.doesNotThrow(() => compileC(dir, name, `${result.stdout}\n${asserts.join('')}`), `${name}: ${result.stdout}`);
  }
  const flows = fixtureMaps(t)[0] as string;
  const text = runCli('btf', 'pinned', flows).stdout;
  assert.match(text, /\/\* key: struct flow_key \(8 bytes\) \*\//);
  assert.match(text, /\/\* value: struct flow_stats \(48 bytes\) \*\//);
  assert.match(text, /unsigned int flag : 1;/);
  assert.equal(text.match(/^typedef unsigned int u32;$/gm)?.length, 1, 'shared dependencies are printed once');
});

test('btf of anonymous types names them with a typedef', needs('bpftool', 'clang'), (t) => {
  const { maps } = loadBpfObject(buildCliFixture(tempDir(t)), pinDir(t, 'cli-btf-anon'));
  const anon = cliJson<{ value: BtfPart }>('btf', 'pinned', path.join(maps, 'anon_values')).value;
  assert.equal(anon.type, 'anon_values_value_t');
  assert.match(anon.c, /typedef struct \{\n\tu32 count;\n\tunsigned short port;\n\} anon_values_value_t;/);
  const array = cliJson<{ key: BtfPart }>('btf', 'pinned', path.join(maps, 'name_keys')).key;
  assert.equal(array.c, 'typedef char name_keys_key_t[16];\n');
});

test('btf of a map without BTF fails with one line (exit 1), bpftool\'s JSON error with -j', needs('bpftool'), (t) => {
  const pin = path.join(pinDir(t, 'cli-btf-none'), 'raw');
  bpftool('map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cli_nobtf');
  const text = runCli('btf', 'pinned', pin);
  assert.equal(text.status, 1);
  assert.equal(text.stdout, '');
  assert.equal(text.stderr, 'Error: cli_nobtf has no BTF types to print: it was created without BTF\n');
  const json = runCli('-j', 'btf', 'pinned', pin);
  assert.equal(json.status, 1);
  assert.deepEqual(JSON.parse(json.stdout), { error: 'cli_nobtf has no BTF types to print: it was created without BTF' });
  assert.equal(runCli('btf').status, 2);
  assert.equal(runCli('btf', 'pinned', pin, 'extra').status, 2);
});
