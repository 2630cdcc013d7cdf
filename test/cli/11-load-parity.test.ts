/**
 * `bpfmap load` against `bpftool prog loadall` on the same objects — the test's fixtures, a CO-RE
 * object, and the BPF objects embedded in Debian's libbpf-tools binaries (runqlat, biolatency,
 * opensnoop, execsnoop: CO-RE, .rodata, .bss, .kconfig, perf event arrays) — must give the same
 * program pins (names, types, tags, sizes) and map pins (names, types, flags, sizes, max entries,
 * frozen, BTF). And `prog show` prints what `bpftool prog show` prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildBpfObject, bpftoolJson, linkReleased, needs, pinDir, tempDir } from '../helpers.js';
import { buildCoreObject } from '../objects/core-fixture.js';
import { runCli, cliJson } from './run-cli.js';

interface ProgShown { id: number; type: string; name: string; tag: string; gpl_compatible: boolean; bytes_xlated: number; map_ids?: number[]; btf_id?: number; loaded_at: number; uid: number }
interface MapShown { type: string; name: string; flags: number; bytes_key: number; bytes_value: number; max_entries: number; frozen?: number; btf_id?: number }

/** The BPF ELF objects a libbpf skeleton binary embeds (found by magic and e_machine BPF). */
function embeddedObjects(binary: string, outDir: string): string[] {
  const bytes = readFileSync(binary);
  const found: string[] = [];
  const magic = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
  for (let at = bytes.indexOf(magic); at >= 0; at = bytes.indexOf(magic, at + 1)) {
    if (bytes.readUInt16LE(at + 18) !== 247) continue;
    const size = Number(bytes.readBigUInt64LE(at + 0x28)) + bytes.readUInt16LE(at + 0x3c) * 64;
    const out = path.join(outDir, `${path.basename(binary)}.${found.length}.bpf.o`);
    writeFileSync(out, bytes.subarray(at, at + size));
    found.push(out);
  }
  return found;
}

function showPinnedProgram(pin: string): ProgShown {
  return bpftoolJson<ProgShown>('prog', 'show', 'pinned', pin);
}

function showPinnedMap(pin: string): MapShown {
  return bpftoolJson<MapShown>('map', 'show', 'pinned', pin);
}

function compareLoads(objectPath: string, dir: string): void {
  const theirs = path.join(dir, 'bpftool');
  const ours = path.join(dir, 'bpfmap');
  mkdirSync(theirs);
  mkdirSync(ours);
  execFileSync('bpftool', ['prog', 'loadall', objectPath, path.join(theirs, 'progs'), 'pinmaps', path.join(theirs, 'maps')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const result = runCli('load', objectPath, path.join(ours, 'progs'), 'pinmaps', path.join(ours, 'maps'));
  assert.equal(result.status, 0, `bpfmap load ${objectPath}: ${result.stderr}`);
  const name = path.basename(objectPath);
  const progs = readdirSync(path.join(theirs, 'progs')).sort();
  assert.deepEqual(readdirSync(path.join(ours, 'progs')).sort(), progs, `${name}: program pins`);
  for (const prog of progs) {
    const a = showPinnedProgram(path.join(theirs, 'progs', prog));
    const b = showPinnedProgram(path.join(ours, 'progs', prog));
    assert.deepEqual(
      { type: b.type, name: b.name, tag: b.tag, gpl: b.gpl_compatible, xlated: b.bytes_xlated, maps: b.map_ids?.length ?? 0, btf: (b.btf_id ?? 0) > 0 },
      { type: a.type, name: a.name, tag: a.tag, gpl: a.gpl_compatible, xlated: a.bytes_xlated, maps: a.map_ids?.length ?? 0, btf: (a.btf_id ?? 0) > 0 },
      `${name}: program ${prog}`,
    );
  }
  const maps = readdirSync(path.join(theirs, 'maps')).sort();
  assert.deepEqual(readdirSync(path.join(ours, 'maps')).sort(), maps, `${name}: map pins`);
  for (const map of maps) {
    const a = showPinnedMap(path.join(theirs, 'maps', map));
    const b = showPinnedMap(path.join(ours, 'maps', map));
    const shape = (m: MapShown): unknown => ({ type: m.type, name: m.name, flags: m.flags, key: m.bytes_key, value: m.bytes_value, max: m.max_entries, frozen: m.frozen ?? 0, btf: (m.btf_id ?? 0) > 0 });
    assert.deepEqual(shape(b), shape(a), `${name}: map ${map}`);
  }
}

test('bpfmap load pins the same programs and maps as bpftool prog loadall: fixtures and a CO-RE object', needs('clang', 'bpftool'), (t) => {
  for (const objectPath of [buildBpfObject('obj_basic'), buildBpfObject('obj_sections'), buildBpfObject('events_ringbuf'), buildCoreObject('core_reloc')]) {
    compareLoads(objectPath, pinDir(t, 'loader-parity'));
  }
});

test('bpfmap load matches bpftool on the objects embedded in libbpf-tools', needs('bpftool'), (t) => {
  const tools = ['runqlat', 'biolatency', 'opensnoop', 'execsnoop'].map((tool) => `/usr/sbin/${tool}`).filter((binary) => existsSync(binary));
  if (tools.length === 0) {
    if (process.env.CI === 'true') assert.fail('libbpf-tools is not installed');
    t.skip('libbpf-tools is not installed (apt-get install libbpf-tools)');
    return;
  }
  const out = tempDir(t, 'loader-tools');
  let compared = 0;
  for (const binary of tools) {
    for (const objectPath of embeddedObjects(binary, out)) {
      compareLoads(objectPath, pinDir(t, 'loader-tools'));
      compared++;
    }
  }
  assert.ok(compared >= tools.length, 'each tool embeds at least one object');
});

test('prog show prints what bpftool prog show prints, as JSON and as text', needs('clang', 'bpftool'), (t) => {
  const dir = pinDir(t, 'loader-show');
  assert.equal(runCli('load', buildBpfObject('obj_basic'), path.join(dir, 'progs')).status, 0);
  const pin = path.join(dir, 'progs', 'xdp_loop');
  const theirs = showPinnedProgram(pin);
  const ours = cliJson<ProgShown>('prog', 'show', 'pinned', pin);
  assert.ok(Math.abs(ours.loaded_at - theirs.loaded_at) <= 1, 'loaded_at within a second (both derive it from the boot time)');
  assert.deepEqual({ ...ours, loaded_at: 0 }, { ...theirs, loaded_at: 0 });
  assert.deepEqual(Object.keys(ours), Object.keys(theirs), 'same fields in the same order');
  const byId = cliJson<ProgShown>('prog', 'show', 'id', String(theirs.id));
  assert.equal(byId.tag, theirs.tag);
  const text = runCli('prog', 'show', 'id', String(theirs.id));
  const bpftoolText = execFileSync('bpftool', ['prog', 'show', 'id', String(theirs.id)], { encoding: 'utf8' });
  const withoutTime = (s: string): string => s.replace(/loaded_at \S+/, 'loaded_at T');
  assert.equal(withoutTime(text.stdout), withoutTime(bpftoolText));
  const all = cliJson<ProgShown[]>('prog', 'show');
  assert.ok(all.some((p) => p.id === theirs.id));
  assert.notEqual(runCli('prog', 'show', 'id', '4294967295').status, 0);
});

test('load autoattach pins links for programs whose section names a target, and removing the pins detaches', needs('clang', 'bpftool'), async (t) => {
  const dir = pinDir(t, 'loader-autoattach');
  const progs = path.join(dir, 'progs');
  const result = runCli('load', buildBpfObject('obj_autoattach'), progs, 'pinmaps', path.join(dir, 'maps'), 'autoattach');
  assert.equal(result.status, 0, result.stderr);
  interface LinkShown { id: number; type: string; prog_id: number }
  const link = bpftoolJson<LinkShown>('link', 'show', 'pinned', path.join(progs, 'count_syscalls'));
  assert.equal(link.type, 'raw_tracepoint', 'the raw tracepoint program is attached and its link pinned');
  // An XDP section names no interface: that program is pinned itself, as bpftool does.
  assert.equal(bpftoolJson<{ type: string }>('prog', 'show', 'pinned', path.join(progs, 'pass_all')).type, 'xdp');
  const seen = (): number => {
    const dump = bpftoolJson<Array<{ formatted: { value: { '.bss': Array<{ syscalls_seen: number }> } } }>>('map', 'dump', 'pinned', path.join(dir, 'maps', 'obj_auto_bss'));
    return dump[0]?.formatted.value['.bss'][0]?.syscalls_seen ?? -1;
  };
  // The attachment outlived the CLI process: every syscall since (bpftool's own) ran the program.
  const before = seen();
  assert.ok(seen() > before, 'the pinned link kept counting syscalls after the CLI exited');
  rmSync(path.join(progs, 'count_syscalls'));
  assert.ok(await linkReleased(link.id), 'removing the pin detached the program');
});
