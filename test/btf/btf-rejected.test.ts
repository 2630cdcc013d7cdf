/**
 * Creating maps with BTF when the kernel says no: map types that take no BTF fall back to a map
 * without it and warn (BPFMAP_BTF_REJECTED); BTF that is wrong fails with an error that says why.
 *
 * On 6.18, devmap/sockmap/cpumap/perf_event_array/... answer ENOTSUPP (their map_check_btf is
 * map_check_no_btf), and queue/stack/ringbuf answer EINVAL (no BTF check at all, so no keyless BTF).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countOpenFds, needs } from '../helpers.js';
import { Btf } from '../../src/codec/btf/btf.js';
import { BtfBuilder } from '../../src/codec/btf/writer.js';
import { BtfError } from '../../src/codec/btf/errors.js';
import { BpfRecord } from '../../src/codec/record/record.js';
import { BpfError } from '../../src/sys/errors.js';
import { createWithBtf, createWithRecords } from '../../src/map/btf-map.js';

/** A BTF with `u32` (id 1) and `u64` (id 2). */
function scalarBtf(): Btf {
  const builder = new BtfBuilder();
  builder.add({ kind: 'int', name: 'u32', size: 4, bits: 32, bitOffset: 0, signed: false, char: false, bool: false });
  builder.add({ kind: 'int', name: 'u64', size: 8, bits: 64, bitOffset: 0, signed: false, char: false, bool: false });
  return Btf.parse(builder.build());
}

/** Runs `create` and returns what it made with every warning it emitted. */
async function withWarnings<T>(create: () => T): Promise<{ made: T; warnings: Error[] }> {
  const warnings: Error[] = [];
  const listener = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', listener);
  try {
    const made = create();
    // process.emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    return { made, warnings };
  } finally {
    process.off('warning', listener);
  }
}

function btfWarnings(warnings: Error[]): (Error & { code?: string })[] {
  return warnings.filter((warning) => (warning as { code?: string }).code === 'BPFMAP_BTF_REJECTED');
}

test('a map type that refuses BTF with ENOTSUPP (devmap) is created without it, with a warning', needs(), async (t) => {
  const before = await countOpenFds();
  const { made: map, warnings } = await withWarnings(() => createWithBtf({ type: 'devmap', maxEntries: 4, name: 'btf_devmap' }, { btf: scalarBtf(), key: 'u32', value: 'u32' }));
  t.after(() => map.close());
  const [warning, ...more] = btfWarnings(warnings);
  assert.ok(warning, 'a BPFMAP_BTF_REJECTED warning');
  assert.equal(more.length, 0);
  assert.match(warning.message, /map type devmap rejected BTF key\/value types \(MAP_CREATE failed with ENOTSUPP/);
  assert.match(warning.message, /created map 'btf_devmap' without BTF/);
  assert.equal(map.info.typeName, 'devmap');
  assert.equal(map.info.btfId, 0);
  assert.equal(map.info.keySize, 4);
  // The map and nothing else stays open: the BTF fd was closed on the fallback path too.
  assert.equal(await countOpenFds(), before + 1);
});

test('keyless types without a BTF check (queue) refuse with EINVAL and fall back; so do records', needs(), async (t) => {
  const { made: queue, warnings } = await withWarnings(() => createWithBtf({ type: 'queue', maxEntries: 4, name: 'btf_queue' }, { btf: scalarBtf(), value: 'u64' }));
  t.after(() => queue.close());
  const [warning] = btfWarnings(warnings);
  assert.ok(warning);
  assert.match(warning.message, /map type queue rejected BTF .*EINVAL/);
  assert.equal(queue.info.btfId, 0);
  assert.equal(queue.info.valueSize, 8);

  const value = new BpfRecord<{ seq: bigint; len: number }>([['seq', 'Q'], ['len', 'I']], { byteOrder: '@' });
  const { made: stack, warnings: more } = await withWarnings(() => createWithRecords({ type: 'stack', maxEntries: 4 }, { value }));
  t.after(() => stack.close());
  assert.equal(btfWarnings(more).length, 1);
  assert.match(btfWarnings(more)[0]?.message ?? '', /map type stack rejected BTF/);
  assert.equal(stack.info.valueSize, 16);

  // bloom_filter is the keyless type that does take a value type.
  const { made: bloom, warnings: none } = await withWarnings(() => createWithRecords({ type: 'bloom_filter', maxEntries: 4 }, { value }));
  t.after(() => bloom.close());
  assert.equal(btfWarnings(none).length, 0);
  assert.ok(bloom.info.btfId > 0);
});

test('a value type of the wrong size is a BtfError naming both sizes, before the kernel', needs(), async () => {
  const { warnings } = await withWarnings(() => {
    assert.throws(
      () => createWithBtf({ type: 'hash', maxEntries: 4, valueSize: 16 }, { btf: scalarBtf(), key: 'u32', value: 'u64' }),
      (error: unknown) =>
        error instanceof BtfError && error.code === 'ERR_BTF_SIZE_MISMATCH' && /value type 'u64' \(id 2\) is 8 bytes but valueSize is 16/.test(error.message),
    );
    assert.throws(
      () => createWithBtf({ type: 'hash', maxEntries: 4, keySize: 8 }, { btf: scalarBtf(), key: 'u32', value: 'u64' }),
      (error: unknown) => error instanceof BtfError && /key type 'u32' \(id 1\) is 4 bytes but keySize is 8/.test(error.message),
    );
  });
  assert.equal(btfWarnings(warnings).length, 0, 'a wrong size never falls back');
});

test('BTF the kernel refuses to load fails with its verifier log', needs(), () => {
  const builder = new BtfBuilder();
  const u32 = builder.add({ kind: 'int', name: 'u32', size: 4, bits: 32, bitOffset: 0, signed: false, char: false, bool: false });
  // Members out of order: bpfmap's parser and codecs take it, the kernel's BTF verifier does not.
  builder.add({ kind: 'struct', name: 'broken', size: 8, members: [{ name: 'b', type: u32, bitOffset: 32, bitfieldSize: 0 }, { name: 'a', type: u32, bitOffset: 0, bitfieldSize: 0 }] });
  const btf = Btf.parse(builder.build());
  assert.throws(
    () => createWithBtf({ type: 'hash', maxEntries: 4 }, { btf, key: 'u32', value: 'broken' }),
    (error: unknown) => error instanceof BtfError && error.code === 'ERR_BTF_LOAD' && /BTF_LOAD failed with EINVAL/.test(error.message) && /Invalid member bits_offset/.test(error.message),
  );
});

test('an EINVAL that is the spec\'s own fault is thrown, not warned about', needs(), async () => {
  const { warnings } = await withWarnings(() => {
    assert.throws(
      () => createWithBtf({ type: 'hash', maxEntries: 0 }, { btf: scalarBtf(), key: 'u32', value: 'u64' }),
      (error: unknown) => error instanceof BpfError && error.code === 'EINVAL',
    );
  });
  assert.equal(btfWarnings(warnings).length, 0);
});
