/**
 * The link functions at the addon boundary: whatever JavaScript passes, they act only on
 * handles of the right kind that are open, and size every buffer themselves. Wrong kinds,
 * closed handles, short buffers and out-of-range numbers throw typed errors before any syscall.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../../../src/sys/native.js';
import { BpfMap } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { loadFixture } from './helpers.js';

type Loose = (...args: unknown[]) => unknown;
const call = (name: string, ...args: unknown[]): unknown => (native as unknown as Record<string, Loose>)[name]!(...args);

test('link functions refuse wrong handles, closed handles and bad arguments with typed errors', needs('clang', 'bpftool'), (t) => {
  const fixture = loadFixture(t, 'attach_trace');
  const program = fixture.program('raw_sys_enter');
  const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  t.after(() => map.close());
  const prog = program.handle;

  // Not a handle, or a handle of another kind.
  for (const notProgram of [3, null, {}, 'x', map]) {
    assert.throws(() => call('linkCreate', notProgram, 37, 1, 0, 0, 0n, null), { code: 'ERR_BPFMAP_HANDLE' });
    assert.throws(() => call('rawTracepointOpen', notProgram, 'sys_enter', 0n), { code: 'ERR_BPFMAP_HANDLE' });
  }
  assert.throws(() => call('linkInfo', prog, new Uint8Array(64)), { code: 'ERR_BPFMAP_HANDLE' });
  assert.throws(() => call('linkDetach', prog), { code: 'ERR_BPFMAP_HANDLE' });
  assert.throws(() => call('iterRead', prog, 100), { code: 'ERR_BPFMAP_HANDLE' });

  // Fields that belong to other kinds, and malformed numbers and strings.
  assert.throws(() => call('linkCreate', prog, 37, 1, 0, 0, 5n, null), { code: 'ERR_BPFMAP_NATIVE' }, 'no cookie on an XDP link');
  assert.throws(() => call('linkCreate', prog, 37, 1, 0, 7, 0n, null), { code: 'ERR_BPFMAP_NATIVE' }, 'no BTF id on an XDP link');
  assert.throws(() => call('linkCreate', prog, 28, 0, 0, 0, -1n, null), { code: 'ERR_BPFMAP_NATIVE' });
  assert.throws(() => call('rawTracepointOpen', prog, 'x'.repeat(600), 0n), { code: 'ERR_BPFMAP_NATIVE' });
  assert.throws(() => call('rawTracepointOpen', prog, 'sys\0enter', 0n), { code: 'ERR_BPFMAP_NATIVE' });
  assert.throws(() => call('perfLinkCreate', prog, 1, 0n, null, 0n, -1, -1, 0n, false, 0n), { code: 'ERR_BPFMAP_NATIVE' }, 'pid and cpu both -1');
  assert.throws(() => call('perfLinkCreate', prog, 1, 0n, 'p'.repeat(5000), 0n, -1, 0, 0n, false, 0n), { code: 'ERR_BPFMAP_NATIVE' });
  assert.throws(() => call('kprobeMultiLinkCreate', prog, [], false, null), { code: 'ERR_BPFMAP_NATIVE' });
  assert.throws(() => call('kprobeMultiLinkCreate', prog, ['a', 5], false, null), { code: 'ERR_BPFMAP_NATIVE' });
  assert.throws(() => call('kprobeMultiLinkCreate', prog, ['a', 'b'], false, new BigUint64Array(1)), { code: 'ERR_BPFMAP_NATIVE' });
  assert.throws(() => call('linkCreateCgroup', prog, '/tmp\0x', 0, 0), { code: 'ERR_BPFMAP_PATH' });

  // A real link: its info needs 64 bytes; once closed, every function refuses it.
  const link = call('rawTracepointOpen', prog, 'sys_enter', 0n);
  assert.equal(typeof link, 'object');
  assert.throws(() => call('linkInfo', link, new Uint8Array(63)), { code: 'ERR_BPFMAP_NATIVE' });
  const info = new Uint8Array(80).fill(0xff);
  assert.equal(call('linkInfo', link, info), 'sys_enter');
  assert.deepEqual([...info.subarray(64)], new Array(16).fill(0), 'bytes past the struct are zeroed, not left to chance');
  assert.deepEqual([...info.subarray(16, 24)], new Array(8).fill(0), 'the name pointer never reaches JavaScript');
  assert.throws(() => call('iterRead', link, 0), { code: 'ERR_BPFMAP_NATIVE' });
  call('objClose', link);
  for (const [name, args] of [['linkInfo', [new Uint8Array(64)]], ['linkDetach', []], ['linkPin', ['/sys/fs/bpf/x']], ['iterRead', [10]], ['linkUpdate', [prog, null]]] as const) {
    assert.throws(() => call(name, link, ...args), { code: 'ERR_BPFMAP_CLOSED' }, name);
  }
});
