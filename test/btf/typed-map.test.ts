/**
 * Maps typed through BTF: a pinned map opens typed from its own BTF; a map created with BTF from
 * JavaScript shows `formatted` values in bpftool; floats decode to what a C program wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildBpfObject, loadBpfObject, needs, pinDir, tempDir, bpftool, toolUnavailable } from '../helpers.js';
import { btfFromFile, kernelBtf } from '../../src/codec/btf/sources.js';
import { btfCodec } from '../../src/codec/btf/codec.js';
import { formatBtfValue } from '../../src/codec/btf/format.js';
import { openTyped, createWithBtf } from '../../src/map/btf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { parseExactJson } from './exact-json.js';

test('a pinned map opens typed through its own BTF, per-CPU maps as arrays', needs('clang', 'bpftool'), (t) => {
  const { maps } = loadBpfObject(buildBpfObject('btf_types'), pinDir(t, 'btf-typed'));
  const hash = openTyped<Record<string, unknown>, Record<string, unknown>>(path.join(maps, 'btf_hash'));
  t.after(() => hash.close());
  const key = { id: 7, color: 'BLUE', label: 'k1', pad_tail: -2 };
  const value = btfCodec<Record<string, unknown>>(btfFromFile(buildBpfObject('btf_types')), btfFromFile(buildBpfObject('btf_types')).typeByName('value', 'struct').id)
    .decode(new Uint8Array(160), 0);
  value.name = 'hello';
  value.color = 'GREEN';
  value.u128 = (1n << 100n) + 5n;
  value.lo = 0x1234;
  hash.set(key, value);
  const back = hash.get(key);
  assert.deepEqual(back?.name, 'hello');
  assert.deepEqual(back?.color, 'GREEN');
  assert.equal(back?.u128, (1n << 100n) + 5n);
  assert.equal(back?.u, 0x1234);
  const dumped = parseExactJson(bpftool('-j', 'map', 'dump', 'pinned', path.join(maps, 'btf_hash')), true) as { formatted: { key: unknown; value: { name: string } } }[];
  assert.equal(dumped[0]?.formatted.value.name, 'hello');
  assert.deepEqual(dumped[0]?.formatted.key, { id: 7, color: 'BLUE', label: 'k1', pad_tail: -2 });

  const percpu = openTyped<number, Record<string, unknown>[]>(path.join(maps, 'btf_pcarray'));
  t.after(() => percpu.close());
  const perCpuValues = Array.from({ length: possibleCpus() }, (_, cpu) => ({ tag: `c${cpu}`, s: cpu }));
  percpu.set(1, perCpuValues);
  assert.deepEqual(percpu.get(1), perCpuValues);

  const data = openTyped<number, Record<string, Record<string, unknown>>>(path.join(maps, 'btf_type_rodata'), { readOnly: true });
  t.after(() => data.close());
  assert.deepEqual(data.get(0), { '.rodata': { g_const: 42, g_banner: 'hello' } });
});

test('a map created with BTF shows formatted values in bpftool', needs('clang', 'bpftool'), (t) => {
  const btf = btfFromFile(buildBpfObject('btf_types'));
  const map = createWithBtf<Record<string, unknown>, Record<string, unknown>>({ type: 'hash', maxEntries: 4, name: 'btf_created' }, { btf, key: 'key', value: 'either' });
  t.after(() => map.close());
  map.set({ id: 1, color: 'RED', label: 'abc', pad_tail: 3 }, { whole: 0x4847464544434241n });
  const dir = pinDir(t, 'btf-created');
  map.pin(path.join(dir, 'm'));
  const dump = parseExactJson(bpftool('-j', 'map', 'dump', 'pinned', path.join(dir, 'm')), true) as { formatted: unknown }[];
  assert.deepEqual(dump[0]?.formatted, {
    key: { id: 1, color: 'RED', label: 'abc', pad_tail: 3 },
    value: { inner: { tag: [65, 66, 67, 68], s: 17989 }, whole: 0x4847464544434241n, text: [65, 66, 67, 68, 69, 70, 71, 72] },
  });
  assert.ok(map.info.btfId > 0);
});

test('floats decode to the values a C program wrote', needs('clang', ...(toolUnavailable('cc') ? ['cc'] : [])), (t) => {
  const dir = tempDir(t, 'btf-floats');
  const source = path.join(dir, 'floats.c');
  writeFileSync(source, `#include <stdio.h>
#include <string.h>
struct floats { float f; double d; float pair[2]; };
int main(void) {
  struct floats v; unsigned char bytes[sizeof v]; unsigned i;
  memset(&v, 0, sizeof v);
  v.f = 0.1f; v.d = -1234.5678e-300; v.pair[0] = 3.4028235e38f; v.pair[1] = -1.17549435e-38f;
  memcpy(bytes, &v, sizeof v);
  for (i = 0; i < sizeof v; i++) printf("%02x", bytes[i]);
  printf("\\n%.9g %.17g %.9g %.9g\\n", v.f, v.d, v.pair[0], v.pair[1]);
  return 0;
}
`);
  execFileSync('cc', ['-O2', '-o', path.join(dir, 'floats'), source]);
  const [hex, printed] = execFileSync(path.join(dir, 'floats'), { encoding: 'utf8' }).trim().split('\n') as [string, string];
  const [f, d, p0, p1] = printed.split(' ').map(Number) as [number, number, number, number];
  const btf = btfFromFile(buildBpfObject('btf_types'));
  const floats = btf.typeByName('floats', 'struct');
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  const codec = btfCodec<{ f: number; d: number; pair: number[] }>(btf, floats.id);
  assert.deepEqual(codec.decode(bytes, 0), { f: Math.fround(f), d, pair: [Math.fround(p0), Math.fround(p1)] });
  const again = new Uint8Array(codec.size);
  codec.encode(codec.decode(bytes, 0), again, 0);
  assert.deepEqual(again, bytes);
  assert.deepEqual(formatBtfValue(btf, floats.id, bytes), { f: 0.1, d, pair: [3.4028235e38, -1.1754944e-38] });
});

test('a BTF codec given too few bytes throws a coded RangeError', () => {
  const btf = kernelBtf();
  const int = btf.typesByName('int').find((type) => type.kind === 'int');
  assert.ok(int);
  const codec = btfCodec<number>(btf, int.id);
  assert.throws(() => codec.decode(new Uint8Array(2), 0), { name: 'RangeError', code: 'ERR_BPFMAP_BTF_RANGE' });
  assert.throws(() => codec.encode(1, new Uint8Array(4), 2), { name: 'RangeError', code: 'ERR_BPFMAP_BTF_RANGE' });
});
