/**
 * uprobe_multi: one link on several functions of the cc-built child, by pattern or by names,
 * counting exactly their calls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachUprobeMulti, BpfAttachError, BpfMap, BpfObject, sectionTarget } from '../../../src/index.js';
import { buildBpfObject, needs } from '../../helpers.js';
import { childProgram, linksOfProgram, startChild } from './helpers.js';

test('uprobe.multi by pattern and by names counts the calls of each probed function', needs('clang', 'cc'), async (t) => {
  using object = BpfObject.load(buildBpfObject('attach_umulti'));
  const program = object.program('umulti_calls');
  const pid = object.map('umulti_pid') as BpfMap<number, number>;
  const count = object.map('umulti_count') as BpfMap<number, bigint>;
  const child = await startChild(t);
  pid.set(0, child.pid);
  {
    // bpfmap_probe_target and bpfmap_other_function: each called once per "call".
    using link = attachUprobeMulti(program, { binary: childProgram(), pattern: 'bpfmap_*' });
    await child.run('call 5');
    const info = link.info();
    assert.equal(info.typeName, 'uprobe_multi');
    assert.equal(info.count, 2);
    assert.equal(info.name, childProgram());
  }
  assert.equal(count.get(0), 10n);
  assert.deepEqual(linksOfProgram(program.id), []);
  {
    using link = attachUprobeMulti(program, { binary: childProgram(), symbols: ['bpfmap_other_function'], retprobe: true, pid: child.pid });
    await child.run('call 3');
    assert.equal(link.info().flags, 1, 'return probes');
  }
  assert.equal(count.get(0), 13n);
  assert.throws(
    () => attachUprobeMulti(program, { binary: childProgram(), symbols: ['bpfmap_nope'] }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL' && /bpfmap_nope/.test(e.message),
  );
  assert.throws(() => attachUprobeMulti(program, { binary: childProgram(), pattern: 'zz_*' }), (e: unknown) => e instanceof BpfAttachError && e.code === 'ERR_BPFMAP_ATTACH_SYMBOL');
  assert.deepEqual(sectionTarget('uretprobe.multi//usr/bin/app:work_*'), { kind: 'uprobe_multi', retprobe: true, binary: '/usr/bin/app', pattern: 'work_*' });
});
