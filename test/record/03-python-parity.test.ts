/**
 * Parity with Python's `struct`: the same format strings and values pack to the same bytes.
 * Runs python3 once for all cases; skips when python3 is missing (not on CI).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { BpfRecord, type ByteOrder } from '../../src/index.js';
import { toolUnavailable } from '../helpers.js';

type Value = number | bigint | boolean | Uint8Array | string;

const cases: Array<[string, Value[]]> = [
  ['<bBhHiIlLqQ', [-128, 255, -32768, 65535, -(2 ** 31), 2 ** 32 - 1, -7, 7, -(2n ** 63n), 2n ** 64n - 1n]],
  ['>bBhHiIlLqQ', [1, 2, 3, 4, 5, 6, 7, 8, 9n, 10n]],
  ['<efd', [1.5, -0.1, 1e300]],
  ['>efd', [0.333, 3.4e38, -2.5e-310]],
  ['<e', [6.1e-5]],
  ['=?c5s3p', [true, new Uint8Array([0x41]), new Uint8Array([1, 2, 3]), new Uint8Array([9, 9])]],
  ['@bhiq', [-1, -2, -3, -4n]],
  ['@BQ', [1, 2n]],
  ['@QB', [1n, 2]],
  ['@lLnNP', [-1n, 1n, -2n, 2n, 0xdeadbeefn]],
  ['@c2xHe', [new Uint8Array([7]), 300, 0.5]],
  ['!H3xI', [80, 0x0a000001]],
  ['<4Q', [1n, 2n, 3n, 4n]],
  ['>B0I', [5]],
];

function toJson(value: Value): unknown {
  if (typeof value === 'bigint') return { int: value.toString() };
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') };
  return value;
}

const python = `
import json, struct, sys
out = []
for fmt, values in json.load(sys.stdin):
    args = []
    for v in values:
        if isinstance(v, dict) and 'int' in v: args.append(int(v['int']))
        elif isinstance(v, dict): args.append(bytes.fromhex(v['bytes']))
        else: args.append(v)
    out.append(struct.pack(fmt, *args).hex())
print(json.dumps(out))
`;

const skip = toolUnavailable('python3');

test('packing matches Python struct byte for byte', skip === undefined ? {} : { skip }, () => {
  const run = spawnSync('python3', ['-c', python], { input: JSON.stringify(cases.map(([format, values]) => [format, values.map(toJson)])), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const expected = JSON.parse(run.stdout) as string[];
  cases.forEach(([format, values], index) => {
    const byteOrder = format[0] as ByteOrder;
    const record = new BpfRecord(format.slice(1), { byteOrder });
    const single = values.length === 1 && !/\d/.test(format);
    const packed = Buffer.from(record.pack((single ? values[0] : values) as never)).toString('hex');
    const pythonBytes = expected[index] as string;
    // Python's '@' leaves off the trailing padding that C's sizeof (and so a map value) includes.
    assert.equal(packed.slice(0, pythonBytes.length), pythonBytes, format);
    assert.ok(packed.slice(pythonBytes.length).replaceAll('0', '') === '', `${format}: only zero padding after Python's bytes`);
  });
});
