/**
 * bpfmap's formatted output equals bpftool's `formatted`, entry for entry, for maps of varied
 * C types filled with random bytes; and BTF codecs round-trip every byte of those entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { buildBpfObject, loadBpfObject, needs, pinDir, bpftool } from '../helpers.js';
import { BpfMap } from '../../src/map/bpf-map.js';
import { possibleCpus } from '../../src/sys/cpus.js';
import { btfFromId } from '../../src/codec/btf/sources.js';
import { formatMapEntry } from '../../src/codec/btf/format.js';
import { formatToJson, type FormattedValue } from '../../src/codec/btf/json.js';
import { btfCodec } from '../../src/codec/btf/codec.js';
import { parseExactJson } from './exact-json.js';

/** Random bytes; half of the buffers are printable ASCII with NULs, so char arrays become strings. */
function randomBytes(size: number, stringy: boolean): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    bytes[i] = stringy ? (Math.random() < 0.2 ? 0 : 0x20 + Math.floor(Math.random() * 95)) : Math.floor(Math.random() * 256);
  }
  return bytes;
}

function hexBytes(list: readonly FormattedValue[]): Uint8Array {
  return Uint8Array.from(list.map((h) => parseInt(h as string, 16)));
}

interface DumpEntry {
  key: string[];
  value?: string[];
  values?: { cpu: number; value: string[] }[];
  formatted: FormattedValue;
}

/** Maps whose value types have padding bits or a _Bool (and data sections, with gaps between variables). */
const hasPadding = new Set(['btf_hash', 'btf_percpu']);
const skipFloats = new Set(['btf_floats']); // bpftool prints "(unsupported-kind" for floats

test('formatted output equals bpftool map dump, entry for entry', needs('clang', 'bpftool'), (t) => {
  const object = buildBpfObject('btf_types');
  const { maps } = loadBpfObject(object, pinDir(t, 'btf-fmt'));
  const cpus = possibleCpus();
  let compared = 0;
  for (const name of readdirSync(maps)) {
    if (skipFloats.has(name)) continue;
    const pin = path.join(maps, name);
    const map = BpfMap.openPinned(pin);
    try {
      const info = map.info;
      const stride = (info.valueSize + 7) & ~7;
      const randomValue = (i: number): Uint8Array | Uint8Array[] =>
        map.perCpu ? Array.from({ length: cpus }, (_, c) => randomBytes(info.valueSize, (i + c) % 2 === 0)) : randomBytes(info.valueSize, i % 2 === 0);
      if (!name.endsWith('rodata')) {
        const entries = Math.min(info.maxEntries, 12);
        for (let i = 0; i < entries; i++) {
          const key = info.typeName.includes('array') ? Uint8Array.from([i, 0, 0, 0]) : randomBytes(info.keySize, i % 3 === 0);
          (map as BpfMap<Uint8Array, unknown>).set(key, randomValue(i));
        }
      }
      const { btf } = btfFromId(info.btfId);
      const dump = parseExactJson(bpftool('-j', 'map', 'dump', 'pinned', pin), true) as unknown as DumpEntry[];
      assert.ok(dump.length > 0, `${name} has entries`);
      for (const entry of dump) {
        const key = hexBytes(entry.key);
        let value: Uint8Array;
        if (entry.values) {
          value = new Uint8Array(stride * cpus);
          for (const { cpu, value: hex } of entry.values) value.set(hexBytes(hex), cpu * stride);
        } else {
          value = hexBytes(entry.value as string[]);
        }
        const ours = formatMapEntry(btf, info, key, value, map.perCpu ? cpus : undefined);
        assert.equal(formatToJson(ours as FormattedValue), formatToJson(entry.formatted), `${name} entry ${entry.key.join(' ')}`);
        compared++;

        // The codecs round-trip the same bytes exactly. Types with padding (or _Bool, which
        // stores any non-zero byte as 1) round-trip the decoded value instead.
        const valueCodec = btfCodec(btf, info.btfValueTypeId);
        for (let cpu = 0; cpu < (map.perCpu ? cpus : 1); cpu++) {
          const bytes = value.subarray(cpu * stride, cpu * stride + info.valueSize);
          const again = new Uint8Array(info.valueSize);
          const decoded = valueCodec.decode(bytes, 0);
          valueCodec.encode(decoded, again, 0);
          if (!hasPadding.has(name) && !/_(data|bss|rodata)$/.test(name)) assert.deepEqual(again, bytes, `${name} value round trip`);
          else assert.deepEqual(btfCodec(btf, info.btfValueTypeId).decode(again, 0), decoded, `${name} value round trip (decoded)`);
        }
        if (info.btfKeyTypeId) {
          const keyCodec = btfCodec(btf, info.btfKeyTypeId);
          const again = new Uint8Array(info.keySize);
          keyCodec.encode(keyCodec.decode(key, 0), again, 0);
          assert.deepEqual(again, key, `${name} key round trip`);
        }
      }
    } finally {
      map.close();
    }
  }
  assert.ok(compared >= 30, `compared ${compared} entries`);
});
