/**
 * Data maps without BPF_F_MMAPABLE: every `.data`/`.bss`/`.rodata` map is created mmapable by
 * default (as the libbpf of this machine's bpftool does), and clearing the flag on a spec's map
 * before load creates it without (as `bpf_map__set_map_flags` does in libbpf): the kernel shows
 * the map without the flag, the programs still read and write it, `object.globals` reads and writes
 * it through map lookups and updates instead of a mapping, and `.rodata` is still frozen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, MapFlags } from '../../src/index.js';
import { bpftoolJson, buildBpfObject, needs } from '../helpers.js';

const XDP_DROP = 1;

test('a data map whose spec drops BPF_F_MMAPABLE is created without it, and globals and programs still share it', needs('clang', 'bpftool'), () => {
  const spec = BpfObject.open(buildBpfObject('obj_basic'));
  for (const key of ['.data', '.bss', '.rodata']) {
    const map = spec.map(key);
    assert.ok((map.flags & MapFlags.MMAPABLE) !== 0, `${key} is mmapable by default`);
    map.flags &= ~MapFlags.MMAPABLE;
  }
  spec.setConstant('verdict', XDP_DROP);
  using object = spec.load();
  for (const key of ['.data', '.bss', '.rodata']) {
    const map = object.map(key);
    const shown = bpftoolJson<{ flags: number; frozen: number }>('map', 'show', 'id', String(map.id));
    assert.equal(shown.flags & MapFlags.MMAPABLE, 0, `the kernel's ${key} map is not mmapable`);
    assert.equal(shown.frozen, key === '.rodata' ? 1 : 0, `${key} frozen as libbpf freezes it`);
    assert.throws(() => map.mmap(), (error: unknown) => error instanceof Error && 'code' in error, `${key} cannot be mapped`);
  }
  assert.equal(bpftoolJson<{ flags: number }>('map', 'show', 'id', String(object.map('.rodata').id)).flags, MapFlags.RDONLY_PROG);

  // .data: written from here through a map update, read by the program (runs++ then returns the verdict).
  object.globals.set('runs', 40n);
  const result = object.program('xdp_verdict').run({ data: new Uint8Array(64), repeat: 2 });
  assert.equal(result.returnValue, XDP_DROP, 'the program read the .rodata constant set before load');
  assert.equal(object.globals.get('runs'), 42n, 'the program incremented the value written through the map, and the read sees it');
  // .bss: written by the program, read here through a map lookup.
  object.program('xdp_loop').run({ data: new Uint8Array(64) });
  assert.equal(object.globals.get('last_sum'), 30n);
  assert.deepEqual(object.globals.get('scratch'), [0, 42, 0, 0]);
  assert.equal(object.globals.get('verdict'), XDP_DROP);
  assert.throws(() => object.globals.set('verdict', 2), { code: 'ERR_BPFMAP_OBJECT_STATE' });
});
