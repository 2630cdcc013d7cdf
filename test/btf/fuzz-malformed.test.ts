/**
 * Malformed BTF that once escaped as something other than a BtfError (issue #10): an anonymous
 * struct holding an array of itself (printC overflowed the stack), members placed past their
 * struct's end (formatBtfValue threw a bare DataView RangeError), a union whose only member is
 * anonymous (encode(decode(b)) threw an uncoded TypeError). They are the seeds of a short fuzz run
 * that also exercises the C and TypeScript printers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf } from '../../src/codec/btf/btf.js';
import { BtfError } from '../../src/codec/btf/errors.js';
import { BtfBuilder } from '../../src/codec/btf/writer.js';
import { btfCodec } from '../../src/codec/btf/codec.js';
import { formatBtfValue } from '../../src/codec/btf/format.js';
import { printC } from '../../src/codec/btf/c-printer.js';
import { generateTypeScript } from '../../src/codec/btf/typescript.js';
import { exerciseBtf, fuzz } from './fuzz.js';

const int = { kind: 'int', name: 'int', size: 4, bits: 32, bitOffset: 0, signed: true, char: false, bool: false } as const;

function selfArray(): Uint8Array {
  const b = new BtfBuilder();
  const i = b.add(int);
  const s = b.add({ kind: 'struct', name: '', size: 8, members: [{ name: 'a', type: i + 2, bitOffset: 0, bitfieldSize: 0 }] });
  b.add({ kind: 'array', name: '', type: s, indexType: i, length: 1 });
  return b.build();
}

function memberPastEnd(): Uint8Array {
  const b = new BtfBuilder();
  const i = b.add(int);
  b.add({ kind: 'struct', name: 'odd', size: 4, members: [{ name: 'a', type: i, bitOffset: 3, bitfieldSize: 0 }] });
  b.add({ kind: 'struct', name: 'odd2', size: 8, members: [{ name: 'a', type: i, bitOffset: 35, bitfieldSize: 0 }] });
  return b.build();
}

function anonymousOnlyUnion(): Uint8Array {
  const b = new BtfBuilder();
  const i = b.add(int);
  const inner = b.add({ kind: 'struct', name: '', size: 4, members: [{ name: 'a', type: i, bitOffset: 0, bitfieldSize: 0 }] });
  b.add({ kind: 'union', name: 'u', size: 4, members: [{ name: '', type: inner, bitOffset: 0, bitfieldSize: 0 }] });
  return b.build();
}

/** exerciseBtf plus both printers on every type. */
function exerciseWithPrinters(bytes: Uint8Array): void {
  exerciseBtf(bytes);
  const btf = Btf.parse(bytes);
  for (let id = 1; id <= btf.lastTypeId; id++) {
    for (const action of [() => printC(btf, id), () => generateTypeScript(btf, [id])]) {
      try {
        action();
      } catch (error) {
        if (!(error instanceof BtfError)) throw error;
      }
    }
  }
}

const isBtfError = (code: string) => (e: unknown): boolean => e instanceof BtfError && e.code === code;

test('the malformed blobs give BtfErrors, and the well-formed parts still work', () => {
  const cyclic = Btf.parse(selfArray());
  assert.throws(() => printC(cyclic, 2), isBtfError('ERR_BTF_CYCLE'));
  assert.throws(() => generateTypeScript(cyclic, [2]), isBtfError('ERR_BTF_CYCLE'));
  const odd = Btf.parse(memberPastEnd());
  assert.throws(() => formatBtfValue(odd, 2, new Uint8Array(4)), isBtfError('ERR_BTF_BAD_TYPE'));
  assert.throws(() => formatBtfValue(odd, 3, new Uint8Array(8)), isBtfError('ERR_BTF_BAD_TYPE'));
  const union = Btf.parse(anonymousOnlyUnion());
  const codec = btfCodec<Record<string, unknown>>(union, 3);
  const bytes = Uint8Array.of(1, 2, 3, 4);
  const decoded = codec.decode(bytes, 0);
  const again = new Uint8Array(4);
  codec.encode(decoded, again, 0);
  assert.deepEqual(again, bytes, 'encode(decode(b)) gives b back');
  codec.encode({ a: 7 }, again, 0);
  assert.deepEqual(codec.decode(again, 0), { a: 7 });
  for (const blob of [selfArray(), memberPastEnd(), anonymousOnlyUnion()]) exerciseWithPrinters(blob);
});

test('fuzz: the malformed blobs, mutated, with the printers, only ever throw BtfError', () => {
  fuzz({ seeds: [selfArray(), memberPastEnd(), anonymousOnlyUnion()], runs: 50_000, seed: 1010, exercise: exerciseWithPrinters });
});
