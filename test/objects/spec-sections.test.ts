/**
 * The parts of a spec the other loader tests do not reach: the `version` section and a dual
 * license, custom `.rodata.*`/`.data.*` sections (rewritten before load, compared with what
 * `bpftool prog loadall` makes of the same object), and maps of the legacy `maps` section
 * (`struct bpf_map_def`), which the program uses through the relocations to them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, MapFlags, MapType } from '../../src/index.js';
import { bpftoolJson, buildBpfObject, needs } from '../helpers.js';

const XDP_PASS = 2;
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);

test('version, license and custom data sections: read into the spec, rewritten, shared with the program', needs('clang', 'bpftool'), () => {
  const spec = BpfObject.open(buildBpfObject('obj_sections'));
  assert.equal(spec.license, 'Dual BSD/GPL');
  assert.equal(spec.kernelVersion, 0x050a00);
  assert.equal(spec.program('use_sections').kernelVersion, 0x050a00, 'programs carry it to BPF_PROG_LOAD (kern_version)');
  assert.deepEqual([...spec.maps.keys()].sort(), ['.data.extra', '.rodata.cfg']);
  assert.equal(spec.map('.rodata.cfg').name, '.rodata.cfg', 'custom sections keep their own name, as libbpf names them');
  assert.equal(spec.constant('cfg_step'), 3);
  spec.setConstant('cfg_step', 7);
  using object = spec.load();
  const program = object.program('use_sections');
  assert.equal(program.run({ data: new Uint8Array(64), repeat: 2 }).returnValue, XDP_PASS);
  assert.equal(object.globals.get('extra_count'), 10n + 2n * 7n, 'the program added the rewritten constant twice');
  assert.equal(program.info().gplCompatible, true, 'Dual BSD/GPL is GPL-compatible');
  interface Shown { name: string; flags: number; frozen?: number; btf_id?: number }
  const cfg = bpftoolJson<Shown>('map', 'show', 'id', String(object.map('.rodata.cfg').id));
  assert.deepEqual([cfg.name, cfg.flags, cfg.frozen], ['.rodata.cfg', MapFlags.RDONLY_PROG | MapFlags.MMAPABLE, 1]);
  const dump = bpftoolJson<Array<{ formatted?: { value: Record<string, unknown> } }>>('map', 'dump', 'id', String(object.map('.rodata.cfg').id));
  assert.deepEqual(dump[0]?.formatted?.value['.rodata.cfg'], [{ cfg_step: 7 }]);
});

test('legacy maps section: struct bpf_map_def maps are created as defined and relocated into the program', needs('clang', 'bpftool'), () => {
  const spec = BpfObject.open(buildBpfObject('obj_legacy'));
  const hash = spec.map('legacy_hash');
  assert.equal(hash.kind, 'legacy');
  assert.deepEqual([hash.type, hash.keySize, hash.valueSize, hash.maxEntries, hash.flags], [MapType.hash, 4, 8, 32, MapFlags.NO_PREALLOC]);
  assert.deepEqual([spec.map('legacy_array').type, spec.map('legacy_array').maxEntries], [MapType.array, 2]);
  spec.map('legacy_hash').maxEntries = 64;
  using object = spec.load();
  interface Shown { type: string; name: string; flags: number; bytes_key: number; bytes_value: number; max_entries: number; btf_id?: number }
  const shown = bpftoolJson<Shown>('map', 'show', 'id', String(object.map('legacy_hash').id));
  assert.deepEqual(
    { type: shown.type, name: shown.name, flags: shown.flags, key: shown.bytes_key, value: shown.bytes_value, max: shown.max_entries, btf: shown.btf_id ?? 0 },
    { type: 'hash', name: 'legacy_hash', flags: MapFlags.NO_PREALLOC, key: 4, value: 8, max: 64, btf: 0 },
  );
  object.map('legacy_array').set(u32(1) as never, u32(XDP_PASS) as never);
  const program = object.program('use_legacy');
  assert.equal(program.run({ data: new Uint8Array(64), repeat: 3 }).returnValue, XDP_PASS, 'the program read legacy_array[1]');
  const counted = object.map('legacy_hash').get(u32(1) as never) as unknown as Uint8Array;
  assert.equal(Buffer.from(counted).readBigUInt64LE(0), 3n, 'and counted its runs in legacy_hash');
  assert.deepEqual([...program.info().mapIds].sort(), [object.map('legacy_array').id, object.map('legacy_hash').id].sort());
});
