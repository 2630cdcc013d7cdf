/**
 * The C printer's output compiles with the same sizes, and the TypeScript generator's output
 * compiles under `tsc --strict` and types the values the codecs actually decode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildBpfObject, needs, repoRoot, tempDir, toolUnavailable } from '../helpers.js';
import { btfFromFile } from '../../src/codec/btf/sources.js';
import { btfCodec } from '../../src/codec/btf/codec.js';
import { printC } from '../../src/codec/btf/c-printer.js';
import { generateTypeScript } from '../../src/codec/btf/typescript.js';

/** A TypeScript literal for a decoded value (bigints with `n`). */
function tsLiteral(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(tsLiteral).join(', ')}]`;
  return `{ ${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}: ${tsLiteral(v)}`).join(', ')} }`;
}

function randomBytes(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, () => Math.floor(Math.random() * 256));
}

test('generated TypeScript compiles under --strict and types decoded values', { ...needs('clang'), skip: toolUnavailable('clang') }, (t) => {
  const btf = btfFromFile(buildBpfObject('btf_types'));
  const names = ['key', 'value', 'either', 'bits', 'floats'];
  const dir = tempDir(t, 'btf-ts');
  writeFileSync(path.join(dir, 'maps.ts'), generateTypeScript(btf, [...names, btf.typeByName('.rodata', 'datasec').id]));
  const checks = names.map((name) => {
    const codec = btfCodec(btf, btf.typeByName(name).id);
    return `export const ${name}_decoded: T.${name} = ${tsLiteral(codec.decode(randomBytes(codec.size), 0))};\n`;
  });
  writeFileSync(path.join(dir, 'use.ts'), `import type * as T from './maps.js';
${checks.join('')}
export const rodata: T._rodata = { '.rodata': { g_const: 42, g_banner: 'hello' } };
export const k: T.key = { id: 1, color: 'BLUE', label: 'x', pad_tail: 0 };
// @ts-expect-error 'PURPLE' is not an enumerator of color
export const badEnum: T.key = { id: 1, color: 'PURPLE', label: '', pad_tail: 0 };
// @ts-expect-error 64-bit members are bigint
export const badBig: T.either = { whole: 1 };
`);
  const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', path.join(dir, 'use.ts')], { stdio: 'pipe' });
});

test('printed C compiles with the same sizes and offsets', { ...needs('clang'), skip: toolUnavailable('clang') ?? toolUnavailable('cc') }, (t) => {
  const btf = btfFromFile(buildBpfObject('btf_types'));
  const ids = ['key', 'value', 'either', 'floats'].map((name) => btf.typeByName(name).id);
  const asserts = ['key', 'value', 'either', 'floats'].map((name) => {
    const type = btf.typeByName(name);
    return `_Static_assert(sizeof(${type.kind === 'union' ? 'union' : 'struct'} ${name}) == ${btf.size(type.id)}, "size of ${name}");\n`;
  });
  const u128 = btf.findMember(btf.typeByName('value').id, 'u128');
  asserts.push(`_Static_assert(__builtin_offsetof(struct value, u128) == ${(u128?.bitOffset ?? 0) / 8}, "offset");\n`);
  const dir = tempDir(t, 'btf-c');
  const file = path.join(dir, 'types.c');
  writeFileSync(file, `${printC(btf, ids)}\n${asserts.join('')}`);
  execFileSync('clang', ['-target', 'bpf', '-fsyntax-only', file], { stdio: 'pipe' });
  assert.ok(true);
});
