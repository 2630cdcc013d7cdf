/**
 * BpfProgram handles on programs loaded by bpftool: opened by pin and by id, info as the kernel
 * reports it (checked against bpftool's), pinning and unpinning, and refusal of pins that are not programs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { BpfProgram, BpfError } from '../../src/index.js';
import { buildBpfObject, bpftoolJson, loadBpfObject, needs, pinDir } from '../helpers.js';

interface BpftoolProg {
  id: number;
  type: string;
  name: string;
  tag: string;
  gpl_compatible: boolean;
  map_ids?: number[];
  btf_id?: number;
}

test('a pinned program opens with the info bpftool shows', needs('clang', 'bpftool'), (t) => {
  const dir = pinDir(t, 'loader-prog');
  const { progs, maps } = loadBpfObject(buildBpfObject('obj_basic'), dir);
  using prog = BpfProgram.fromPinned(path.join(progs, 'xdp_verdict'));
  const shown = bpftoolJson<BpftoolProg>('prog', 'show', 'pinned', path.join(progs, 'xdp_verdict'));
  assert.equal(prog.id, shown.id);
  assert.equal(prog.typeName, 'xdp');
  assert.equal(prog.typeName, shown.type);
  assert.equal(prog.name, shown.name);
  assert.equal(prog.tag, shown.tag);
  const info = prog.info();
  assert.equal(info.gplCompatible, shown.gpl_compatible);
  assert.deepEqual([...info.mapIds].sort(), [...(shown.map_ids ?? [])].sort());
  assert.equal(info.btfId, shown.btf_id);
  assert.equal(prog.sectionName, undefined, 'a pinned program does not know its section');

  using byId = BpfProgram.fromId(prog.id);
  assert.equal(byId.name, 'xdp_verdict');
  const tp = BpfProgram.fromPinned(path.join(progs, 'count_getpid'));
  assert.equal(tp.typeName, 'tracepoint');
  tp.close();
  tp.close();
  assert.equal(tp.closed, true);
  assert.throws(() => tp.fd, { code: 'EBADF' });

  const again = path.join(dir, 'again');
  prog.pin(again);
  assert.ok(existsSync(again));
  assert.throws(() => prog.pin(again), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST');
  // Pins as links keep them (the shared KernelObject base): the path this object pinned, unpin removes it.
  assert.equal(prog.pinnedPath, again);
  prog.unpin();
  assert.equal(existsSync(again), false);
  assert.equal(prog.pinnedPath, undefined);
  assert.equal(prog.info().id, prog.id, 'the program stays loaded while this handle holds it');
  assert.equal(tp.pinnedPath, path.join(progs, 'count_getpid'), 'opened from a pin');
  assert.throws(() => tp.pin(path.join(dir, 'closed')), { code: 'EBADF', message: /program 'count_getpid' \(id \d+\) is closed/ });

  assert.throws(() => BpfProgram.fromPinned(path.join(maps, 'counts')), { code: 'ERR_BPFMAP_NOT_A_PROGRAM' });
  assert.throws(() => BpfProgram.fromPinned(path.join(dir, 'nothing')), { code: 'ENOENT' });
  assert.ok(BpfProgram.list().some((p) => p.id === prog.id && p.name === 'xdp_verdict'));
});
