/**
 * The scrape's byte path (labels and lines written straight into buffers) against a plain string
 * rendering of the same maps, built here from each label's text reader, `escapeLabelValue` and
 * `sampleValue` the way the exporter rendered lines before: the two must be byte-identical. The
 * maps (test/fixtures/serve_kinds.bpf.c) hold every label kind: integers of each size and sign
 * (u64 and s64 past 2^53), enums (named, aliased and unknown values), bools, floats, single chars,
 * char arrays with quotes, backslashes, newlines, valid multi-byte and invalid UTF-8, nested
 * structs, byte and short arrays, per-CPU sums (and a `cpu` label), slots histograms (per-CPU
 * too), a key with a bucket index, and a map without BTF. Keys and values are arbitrary bytes
 * drawn so that every escaping case comes up; promtool accepts the result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BpfMap } from '../../src/map/bpf-map.js';
import { loadMapBtf } from '../../src/map/btf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { roundUp8 } from '../../src/sys/layout.js';
import { planMap, type MapPlan } from '../../src/serve/metrics/btf-plan.js';
import { MapExporter } from '../../src/serve/metrics/exporter.js';
import { familyNames, slotUpperBound } from '../../src/serve/metrics/map-series.js';
import { escapeLabelValue, goFloat, sampleValue } from '../../src/serve/metrics/names.js';
import { buildBpfObject, loadBpfObject, needs, pinDir } from '../helpers.js';

/** A deterministic byte source (xorshift), so a failure can be replayed. */
function randomBytes(seed: number): (n: number) => Uint8Array {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  // Bytes that exercise escaping and UTF-8 checks come up often: quote, backslash, newline, NUL,
  // a valid two-byte and three-byte sequence, lone continuation and lead bytes, 0xff, a BOM.
  const pieces = [[0x22], [0x5c], [0x0a], [0], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0x80], [0xc3], [0xff], [0xef, 0xbb, 0xbf], [0x41], [0x7a], [0x30]];
  return (n) => {
    const out = new Uint8Array(n);
    let i = 0;
    while (i < n) {
      const r = next();
      if (r % 3 === 0) {
        out[i++] = (r >>> 8) & 0xff;
        continue;
      }
      for (const b of pieces[(r >>> 8) % pieces.length] as number[]) if (i < n) out[i++] = b;
    }
    return out;
  };
}

/** Offset of a member of the map's key struct, from its BTF. */
function keyMemberOffset(map: BpfMap, name: string): number {
  const btf = loadMapBtf(map.info);
  assert.ok(btf);
  const type = btf.resolve(map.info.btfKeyTypeId);
  assert.equal(type.kind, 'struct');
  if (type.kind !== 'struct') return -1;
  const member = type.members.find((m) => m.name === name);
  assert.ok(member, `key member ${name}`);
  return member.bitOffset / 8;
}

/**
 * The map's zero-config series rendered the plain way: each line a string of the label readers'
 * text (escaped), as the exporter wrote lines before the byte path. Returns each family's lines.
 */
function reference(map: BpfMap, base: string, perCpuLabel: boolean): string[] {
  const plan: MapPlan = planMap(map.info, loadMapBtf(map.info));
  const names = familyNames(base, plan);
  const cpus = map.perCpu ? possibleCpus() : 1;
  const stride = map.perCpu ? roundUp8(map.valueSize) : 0;
  const sampleLines: string[][] = plan.samples.map(() => []);
  const slotLines: string[][] = plan.slots.map(() => []);
  const buckets = new Map<string, Map<number, number>>();
  for (const batch of map.batches({ batchSize: 7 })) {
    const keyView = new DataView(batch.keys.buffer, batch.keys.byteOffset, batch.keys.byteLength);
    const valueView = new DataView(batch.values.buffer, batch.values.byteOffset, batch.values.byteLength);
    for (let e = 0; e < batch.count; e++) {
      const ko = e * batch.keySize;
      const vo = e * batch.valueStride;
      const parts: string[] = [];
      for (const label of plan.keyLabels) parts.push(`${label.name}="${escapeLabelValue(label.read(batch.keys, keyView, ko))}"`);
      for (const label of plan.valueLabels) parts.push(`${label.name}="${escapeLabelValue(label.read(batch.values, valueView, vo))}"`);
      const inner = parts.join(',');
      if (plan.keyBucket) {
        let count = 0;
        for (let c = 0; c < cpus; c++) count += (plan.samples[0] as MapPlan['samples'][number]).read(valueView, vo + c * stride);
        const group = buckets.get(inner) ?? new Map<number, number>();
        buckets.set(inner, group);
        const bucket = plan.keyBucket.bucket(keyView, ko);
        group.set(bucket, (group.get(bucket) ?? 0) + count);
        continue;
      }
      const sets = map.perCpu && perCpuLabel ? Array.from({ length: cpus }, (_, c) => [c, c + 1, `${inner}${inner === '' ? '' : ','}cpu="${c}"`] as const) : [[0, cpus, inner] as const];
      for (const [first, last, labels] of sets) {
        const braced = labels === '' ? '' : `{${labels}}`;
        plan.samples.forEach((sample, s) => {
          let sum = 0;
          for (let c = first; c < last; c++) sum += sample.read(valueView, vo + c * stride);
          (sampleLines[s] as string[]).push(`${names.samples[s] as string}${braced} ${sampleValue(sum)}`);
        });
        plan.slots.forEach((slots, h) => {
          const name = names.slots[h] as string;
          let total = 0;
          const open = labels === '' ? '{' : `{${labels},`;
          for (let i = 0; i < slots.length; i++) {
            // Each slot summed over the CPUs, then added up: the order the exporter adds in.
            let slot = 0;
            for (let c = first; c < last; c++) slot += slots.read(valueView, vo + c * stride + slots.offset + i * slots.elementSize);
            total += slot;
            (slotLines[h] as string[]).push(`${name}_bucket${open}le="${goFloat(slotUpperBound(i))}"} ${sampleValue(total)}`);
          }
          (slotLines[h] as string[]).push(`${name}_bucket${open}le="+Inf"} ${sampleValue(total)}`, `${name}_count${braced} ${sampleValue(total)}`);
        });
      }
    }
  }
  const bucketLines: string[] = [];
  if (plan.keyBucket) {
    const name = `${base}_${plan.keyBucket.member}`;
    for (const [inner, group] of buckets) {
      const open = inner === '' ? '{' : `{${inner},`;
      let total = 0;
      for (let i = 0; i <= Math.max(0, ...group.keys()); i++) {
        total += group.get(i) ?? 0;
        bucketLines.push(`${name}_bucket${open}le="${goFloat(2 ** i)}"} ${sampleValue(total)}`);
      }
      bucketLines.push(`${name}_bucket${open}le="+Inf"} ${sampleValue(total)}`, `${name}_count${inner === '' ? '' : `{${inner}}`} ${sampleValue(total)}`);
    }
  }
  return [...sampleLines.flat(), ...slotLines.flat(), ...bucketLines];
}

/** The lines of a scrape that belong to `map`'s families (self-metrics left out). */
async function scraped(map: BpfMap, perCpuLabel: boolean): Promise<{ lines: string[]; text: string }> {
  const exporter = new MapExporter({ maps: [{ kind: 'id', id: map.id }], programStats: false, perCpuLabel, batchSize: 5 });
  const text = await exporter.text('text');
  const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#') && !/^bpfmap_(map|read|scrape)_/.test(line));
  return { lines, text };
}

test('the byte path writes exactly the plain rendering, for every label kind', needs('bpftool', 'clang', 'promtool'), async (t) => {
  const dir = pinDir(t, 'serve-kinds');
  const { maps } = loadBpfObject(buildBpfObject('serve_kinds'), dir);
  const open = (name: string): BpfMap => {
    const map = BpfMap.openPinned(path.join(maps, name));
    t.after(() => map.close());
    return map;
  };
  const bytesOf = randomBytes(0x5eed);
  const cpus = possibleCpus();

  const kinds = open('kinds');
  const colorAt = keyMemberOffset(kinds, 'color');
  const flagAt = keyMemberOffset(kinds, 'flag');
  for (let i = 0; i < 600; i++) {
    const key = bytesOf(kinds.keySize);
    const view = new DataView(key.buffer);
    // Enumerators (RED and its alias CRIMSON, GREEN, BLUE) and unknown values; bools 0 and 1.
    view.setUint32(colorAt, [1, 2, 300, 7, 0xffffffff][i % 5] as number, true);
    key[flagAt] = i % 2;
    kinds.set(key, bytesOf(kinds.valueSize));
  }
  // The extremes of the 64-bit members: past 2^53 both ways, the most negative s64.
  const extreme = new Uint8Array(kinds.keySize);
  const extremeView = new DataView(extreme.buffer);
  extremeView.setBigUint64(keyMemberOffset(kinds, 'u64v'), 2n ** 64n - 1n, true);
  extremeView.setBigInt64(keyMemberOffset(kinds, 's64v'), -(2n ** 63n), true);
  kinds.set(extreme, bytesOf(kinds.valueSize));
  extremeView.setBigUint64(keyMemberOffset(kinds, 'u64v'), 2n ** 53n + 1n, true);
  extremeView.setBigInt64(keyMemberOffset(kinds, 's64v'), -(2n ** 53n) - 1n, true);
  kinds.set(extreme, bytesOf(kinds.valueSize));

  const perCpuValue = (map: BpfMap): Uint8Array[] => Array.from({ length: cpus }, () => bytesOf(map.valueSize));
  const pcpu = open('pcpu_kinds');
  for (let i = 0; i < 100; i++) pcpu.set(bytesOf(4), perCpuValue(pcpu) as unknown as Uint8Array);
  const hists = open('hist_kinds');
  for (let i = 0; i < 100; i++) {
    const value = bytesOf(hists.valueSize);
    // Slot counts small enough to sum exactly, and some zero.
    for (let s = 0; s < 6; s++) new DataView(value.buffer).setUint32(s * 4, i % 3 === 0 ? 0 : (value[s] as number) * 1000, true);
    hists.set(bytesOf(hists.keySize), value);
  }
  const pcpuHist = open('pcpu_hist');
  for (let i = 0; i < 4; i++) {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, i, true);
    pcpuHist.set(key, perCpuValue(pcpuHist) as unknown as Uint8Array);
  }
  const buckets = open('bucket_kinds');
  for (let i = 0; i < 120; i++) {
    const key = bytesOf(buckets.keySize);
    const view = new DataView(key.buffer);
    view.setUint32(0, i % 4, true);
    view.setBigUint64(keyMemberOffset(buckets, 'slot'), BigInt(i % 9), true);
    buckets.set(key, bytesOf(8));
  }
  // No BTF: the key's bytes as hex, the 8-byte value as a number.
  const raw = BpfMap.create({ type: 'hash', keySize: 6, valueSize: 8, maxEntries: 64, name: 'nobtf_kinds' });
  t.after(() => raw.close());
  for (let i = 0; i < 40; i++) raw.set(bytesOf(6), bytesOf(8));

  const cases: Array<[BpfMap, string, boolean]> = [
    [kinds, 'bpfmap_kinds', false],
    [pcpu, 'bpfmap_pcpu_kinds', false],
    [pcpu, 'bpfmap_pcpu_kinds', true],
    [hists, 'bpfmap_hist_kinds', false],
    [pcpuHist, 'bpfmap_pcpu_hist', false],
    [pcpuHist, 'bpfmap_pcpu_hist', true],
    [buckets, 'bpfmap_bucket_kinds', false],
    [raw, 'bpfmap_nobtf_kinds', false],
  ];
  for (const [map, base, perCpuLabel] of cases) {
    const expected = reference(map, base, perCpuLabel);
    const { lines, text } = await scraped(map, perCpuLabel);
    assert.ok(expected.length > 0, `${base}: the reference has lines`);
    assert.deepEqual(lines, expected, `${base}${perCpuLabel ? ' (cpu label)' : ''}: the byte path equals the plain rendering`);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(lint.status, 0, `promtool check metrics (${base}): ${lint.stdout}${lint.stderr}`);
  }

  // The inputs did reach every case the byte path treats apart.
  const { text } = await scraped(kinds, false);
  for (const [what, pattern] of [
    ['an escaped quote', /comm="[^"\n]*\\"/],
    ['an escaped backslash', /comm="[^"\n]*\\\\/],
    ['an escaped newline', /comm="[^"\n]*\\n/],
    ['an invalid byte as \\xNN', /\\\\x(ff|80|c3)/],
    ['valid UTF-8 kept', /é|€/],
    ['an enumerator name', /color="(RED|GREEN|BLUE)"/],
    ['an unknown enum value', /color="4294967295"/],
    ['a u64 past 2^53', /u64v="18446744073709551615"/],
    ['the most negative s64', /s64v="-9223372036854775808"/],
    ['a sample past 2^53 (shortest digits, then zeros)', /^bpfmap_kinds_packets\{.*\} \d{17,}$/m],
    ['a float label', /ratio="-?\d\.\d+e[-+]\d+"/],
    ['an expanded short array', /ports_1="\d+"/],
    ['a byte array as hex', /mac="[0-9a-f]{12}"/],
    ['a nested struct member', /inner_tag="/],
  ] as const) {
    assert.match(text, pattern, what);
  }
});
