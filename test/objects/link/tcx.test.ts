/**
 * tcx: a sched_cls program on the ingress of a veth end, counting the datagrams another
 * namespace sends to it; closing the link detaches it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachTcx, BpfAttachError } from '../../../src/index.js';
import { needs } from '../../helpers.js';
import { counter, linksOfProgram, loadFixture, setU32, settledCounter, startChild, vethPair } from './helpers.js';

test('tcx ingress counts the datagrams a veth end receives, and detaches on close', needs('clang', 'bpftool', 'cc', 'ip'), async (t) => {
  const fixture = loadFixture(t, 'attach_xdp');
  const program = fixture.program('tcx_count_udp');
  const counts = fixture.map('xdp_counts');
  const pair = vethPair(t);
  const port = 40000 + ((process.pid + 7) % 20000);
  setU32(fixture.map('xdp_port'), port);
  const child = await startChild(t, { netns: pair.netns });
  {
    using link = attachTcx(program, { interface: pair.outer, direction: 'ingress' });
    await child.run(`udp ${pair.target} ${port} 4`);
    assert.equal(await settledCounter(counts, 2, 4n), 4n);
    const info = link.info();
    assert.equal(info.typeName, 'tcx');
    assert.equal(info.attachTypeName, 'tcx_ingress');
    assert.equal(link.target, `${pair.outer} ingress`);
  }
  assert.deepEqual(linksOfProgram(program.id), []);
  await child.run(`udp ${pair.target} ${port} 2`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(counter(counts, 2), 4n, 'nothing counted after close');
});

test('tcx refuses programs of other types, naming them', needs('clang', 'bpftool', 'ip'), (t) => {
  const fixture = loadFixture(t, 'attach_xdp');
  const pair = vethPair(t);
  const xdp = fixture.program('count_udp');
  assert.throws(
    () => attachTcx(xdp, { interface: pair.outer }),
    (e: unknown) => e instanceof BpfAttachError && e.code === 'EINVAL' && /sched_cls/.test(e.message) && /count_udp/.test(e.message),
  );
  assert.throws(() => attachTcx(xdp, { interface: pair.outer, direction: 'sideways' as never }), { code: 'ERR_BPFMAP_TCX_DIRECTION' });
});
