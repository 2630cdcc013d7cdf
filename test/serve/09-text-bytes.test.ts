/**
 * The byte writers of the scrape against JavaScript's own formatting: decimal integers (two digits
 * per division) at every digit count and edge, and `copyWords` (8-byte words through doubles)
 * copying text exactly, including the bytes that come closest to forming a NaN word; and the
 * generated scrape loop's buffers at every length of label set that maps without BTF give (the
 * words copied past the end must stay inside them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyWords, wordSpan, writeInteger, writeSampleValue, writeUnsigned } from '../../src/serve/metrics/text-bytes.js';
import { sampleValue } from '../../src/serve/metrics/names.js';
import { BpfMap } from '../../src/map/bpf-map.js';
import { MapExporter } from '../../src/serve/metrics/exporter.js';

test('integers are written as String() writes them, at every digit count and edge', () => {
  const out = Buffer.alloc(64, 0x2e);
  const values = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 4294967295, 4294967296, 4294967297, Number.MAX_SAFE_INTEGER];
  for (let p = 1; p <= 1e15; p *= 10) values.push(p - 1, p, p + 1, 7 * p, 12 * p + 34);
  for (const value of values.filter(Number.isSafeInteger)) {
    const end = writeUnsigned(out, 3, value);
    assert.equal(out.toString('latin1', 3, end), String(value), `writeUnsigned(${value})`);
    assert.equal(out[2], 0x2e, 'nothing written before the position');
    const negative = writeInteger(out, 3, -value);
    assert.equal(out.toString('latin1', 3, negative), String(-value === 0 ? 0 : -value), `writeInteger(${-value})`);
  }
  for (const value of [0.5, -1.25, 2 ** 53, 2 ** 64, -(2 ** 60), 1e21, Infinity, -Infinity, NaN, 1.7976931348623157e308]) {
    const end = writeSampleValue(out, 0, value);
    assert.equal(out.toString('latin1', 0, end), sampleValue(value), `writeSampleValue(${value})`);
  }
});

test('copyWords copies text exactly, whatever words it is made of', () => {
  // Every pair of a byte below 0x80 with a byte at and above it, as UTF-8 text puts them next to
  // each other (0x7f after the highest lead bytes is what a NaN word would need: never valid).
  const pieces = ['\x7f', '\x7f\x7f', 'é\x7f', '€\x7f', '😀\x7f', '"\\\n', 'bpfmap_flows_packets{pid="', '\u{10ffff}\x7f\x7f', ''];
  const to = Buffer.alloc(256);
  const toView = new DataView(to.buffer, to.byteOffset, to.byteLength);
  for (const text of pieces) {
    for (let shift = 0; shift < 8; shift++) {
      const span = wordSpan(text);
      assert.equal(span.length, Buffer.byteLength(text));
      assert.equal(span.bytes.length % 8, 0);
      to.fill(0);
      const end = copyWords(toView, shift, span.view, 0, span.length);
      assert.equal(end, shift + span.length);
      assert.equal(to.toString('utf8', shift, end), text, `copy of ${JSON.stringify(text)} at ${shift}`);
    }
  }
  // A label set copied from the middle of a buffer of earlier text, as the scrape does.
  const source = Buffer.alloc(64);
  source.write('{comm="😀\x7fé",pid="12"} trailing text from before');
  const sourceView = new DataView(source.buffer, source.byteOffset, source.byteLength);
  const end = copyWords(toView, 5, sourceView, 1, 20);
  assert.deepEqual(to.subarray(5, end), source.subarray(1, 21));
});

test('the generated loop writes every length of label set: maps without BTF, keys of 1 to 24 bytes', async () => {
  const maps: BpfMap[] = [];
  try {
    for (let keySize = 1; keySize <= 24; keySize++) {
      const map = BpfMap.create({ type: 'hash', keySize, valueSize: 8, maxEntries: 2, name: `tb_raw_k${keySize}` });
      maps.push(map);
      const key = Uint8Array.from({ length: keySize }, (_, i) => 0xf0 + (i % 16));
      const value = new Uint8Array(8);
      new DataView(value.buffer).setBigUint64(0, BigInt(keySize) * 1_000_000_007n, true);
      map.set(key, value);
    }
    const exporter = new MapExporter({ maps: maps.map((map) => ({ kind: 'id' as const, id: map.id })), programStats: false });
    const text = await exporter.text('text');
    for (const map of maps) {
      const keySize = map.keySize;
      const hex = Buffer.from(Uint8Array.from({ length: keySize }, (_, i) => 0xf0 + (i % 16))).toString('hex');
      assert.ok(text.includes(`\nbpfmap_tb_raw_k${keySize}{key="${hex}"} ${keySize * 1_000_000_007}\n`), `key of ${keySize} bytes`);
    }
    assert.match(text, /^bpfmap_read_errors_total\{source="id \d+"\} 0$/m);
    assert.doesNotMatch(text, /^bpfmap_read_errors_total\{.*\} [1-9]/m);
  } finally {
    for (const map of maps) map.close();
  }
});
