/**
 * `.BTF.ext` parsing on clang's own output (test/fixtures/ext_info.bpf.c, little- and big-endian
 * builds), checked against the object's symbol table (llvm-readelf) and against what libbpf hands
 * the kernel (bpftool prog loadall, then the func and line info bpftool reads back per
 * instruction); malformed blobs, hand-made and fuzzed, only ever throw BtfError with a code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildBpfObject, bpftoolJson, fixturesDir, loadBpfObject, needs, pinDir, tempDir } from '../helpers.js';
import { Btf } from '../../src/codec/btf/btf.js';
import { elfSection, elfSections } from '../../src/codec/btf/elf.js';
import { BtfError } from '../../src/codec/btf/errors.js';
import {
  encodeFuncInfo,
  encodeLineInfo,
  parseBtfExt,
  programExtInfo,
  type BtfExt,
  type BtfExtSection,
  type PlacedRange,
} from '../../src/objects/btf-ext.js';
import { fuzz } from '../btf/fuzz.js';

interface Fixture {
  readonly object: Uint8Array;
  readonly btf: Btf;
  readonly extBytes: Uint8Array;
  readonly ext: BtfExt;
}

function openFixture(objectPath: string): Fixture {
  const object = new Uint8Array(readFileSync(objectPath));
  const btfBytes = elfSection(object, '.BTF');
  const extBytes = elfSection(object, '.BTF.ext');
  assert.ok(btfBytes && extBytes, 'the fixture has .BTF and .BTF.ext');
  const btf = Btf.parse(btfBytes);
  const counts = new Map(elfSections(object).map((s) => [s.name, s.size / 8]));
  return { object, btf, extBytes: extBytes.slice(), ext: parseBtfExt(extBytes, btf, { sectionInstructions: (name) => counts.get(name) }) };
}

function section(ext: BtfExt, name: string): BtfExtSection {
  const found = ext.sections.get(name);
  assert.ok(found, `.BTF.ext has records for section ${name}`);
  return found;
}

/** Each .text function's [start, count) from its func_info record up to the next one (or the section's end). */
function textFunctions(fixture: Fixture): Map<string, { start: number; count: number }> {
  const text = section(fixture.ext, '.text');
  const size = (elfSections(fixture.object).find((s) => s.name === '.text')?.size ?? 0) / 8;
  const functions = new Map<string, { start: number; count: number }>();
  text.funcInfo.forEach((record, i) => {
    const end = text.funcInfo[i + 1]?.insn ?? size;
    functions.set(fixture.btf.type(record.typeId).name, { start: record.insn, count: end - record.insn });
  });
  return functions;
}

test('func_info names and places every function as the symbol table does', needs('clang'), () => {
  const fixture = openFixture(buildBpfObject('ext_info'));
  assert.deepEqual([...fixture.ext.sections.keys()].sort(), ['.text', 'socket', 'xdp']);
  const symbols = execFileSync('llvm-readelf', ['-s', '-S', buildBpfObject('ext_info')], { encoding: 'utf8' });
  const sectionNames = new Map<number, string>();
  for (const match of symbols.matchAll(/^\s*\[\s*(\d+)\]\s+(\S+)/gm)) sectionNames.set(Number(match[1]), match[2] as string);
  let functions = 0;
  for (const match of symbols.matchAll(/^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+FUNC\s+\S+\s+\S+\s+(\d+)\s+(\S+)$/gm)) {
    const [, value, index, name] = match as unknown as [string, string, string, string];
    const records = section(fixture.ext, sectionNames.get(Number(index)) ?? '?').funcInfo;
    const record = records.find((r) => fixture.btf.type(r.typeId).name === name);
    assert.ok(record, `func_info for ${name}`);
    assert.equal(record.insn, parseInt(value, 16) / 8, `${name} starts at its symbol's value`);
    assert.equal(fixture.btf.type(record.typeId).kind, 'func');
    functions++;
  }
  assert.equal(functions, 4);
  for (const s of fixture.ext.sections.values()) {
    assert.ok(s.lineInfo.length > 0, `${s.name} has line info`);
    assert.ok(s.lineInfo.every((l) => l.fileName.endsWith('ext_info.bpf.c') && l.line > 0));
    assert.deepEqual(s.coreRelocations, []);
  }
});

test('rebased func_info and line_info equal what libbpf gave the kernel, instruction for instruction', needs('clang', 'bpftool'), (t) => {
  const objectPath = buildBpfObject('ext_info');
  const fixture = openFixture(objectPath);
  const { progs } = loadBpfObject(objectPath, pinDir(t, 'core-ext'));
  const text = section(fixture.ext, '.text');
  const functions = textFunctions(fixture);
  const place = (name: string, at: number): PlacedRange => {
    const range = functions.get(name);
    assert.ok(range, `.text function ${name}`);
    return { section: text, ...range, at };
  };
  // libbpf appends subprograms in the order it meets their calls: ext_first calls add_twice;
  // ext_second calls scale, then add_twice.
  const layouts: Record<string, PlacedRange[]> = {
    ext_first: [{ section: section(fixture.ext, 'xdp'), start: 0, count: 11, at: 0 }, place('add_twice', 11)],
    ext_second: [{ section: section(fixture.ext, 'socket'), start: 0, count: 6, at: 0 }, place('scale', 6), place('add_twice', 12)],
  };
  for (const [program, layout] of Object.entries(layouts)) {
    const info = programExtInfo(layout);
    const xlated = bpftoolJson<{ proto?: string; src?: string; disasm: string }[]>('prog', 'dump', 'xlated', 'pinned', path.join(progs, program));
    assert.equal(xlated.length, layout.reduce((n, r) => n + r.count, 0), `${program}: the kernel kept the instruction count`);
    assert.equal(info.funcInfo[0]?.insn, 0, 'func_info starts at instruction 0');
    xlated.forEach((insn, i) => {
      const func = info.funcInfo.find((f) => f.insn === i);
      assert.equal(insn.proto !== undefined, func !== undefined, `${program} insn ${i}: func_info presence`);
      if (func && insn.proto) assert.match(insn.proto, new RegExp(`\\b${fixture.btf.type(func.typeId).name}\\(`));
      const lines = info.lineInfo.filter((l) => l.insn === i).map((l) => l.source.trim());
      if (insn.src === undefined) assert.deepEqual(lines, [], `${program} insn ${i}: no line info`);
      else assert.ok(lines.includes(insn.src.trim()), `${program} insn ${i}: '${insn.src}' in ${JSON.stringify(lines)}`);
    });
  }
});

test('the kernel wire records hold instruction indexes and line << 10 | column', needs('clang'), () => {
  const fixture = openFixture(buildBpfObject('ext_info'));
  const xdp = section(fixture.ext, 'xdp');
  const funcBytes = new DataView(encodeFuncInfo(xdp.funcInfo).buffer);
  assert.equal(funcBytes.byteLength, xdp.funcInfo.length * 8);
  assert.equal(funcBytes.getUint32(4, true), xdp.funcInfo[0]?.typeId);
  const lineBytes = encodeLineInfo(xdp.lineInfo);
  const lines = new DataView(lineBytes.buffer);
  xdp.lineInfo.forEach((record, i) => {
    assert.equal(lines.getUint32(i * 16, true), record.insn);
    assert.equal(fixture.btf.string(lines.getUint32(i * 16 + 8, true)), record.source);
    assert.equal(lines.getUint32(i * 16 + 12, true), record.line * 1024 + record.column);
  });
});

test('a big-endian build parses to the same records', needs('clang'), (t) => {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const include = existsSync(`/usr/include/${triplet}`) ? [`-I/usr/include/${triplet}`] : [];
  const output = path.join(tempDir(t), 'ext_info.bpfeb.o');
  execFileSync('clang', ['-O2', '-g', '-target', 'bpfeb', ...include, '-c', path.join(fixturesDir, 'ext_info.bpf.c'), '-o', output]);
  const big = openFixture(output);
  const little = openFixture(buildBpfObject('ext_info'));
  assert.equal(big.ext.littleEndian, false);
  assert.equal(little.ext.littleEndian, true);
  const names = (f: Fixture): unknown => [...f.ext.sections.values()].map((s) => ({
    name: s.name,
    funcs: s.funcInfo.map((r) => [r.insn, f.btf.type(r.typeId).name]),
    lines: s.lineInfo.map((r) => [r.insn, r.line, r.column, r.source]),
  }));
  assert.deepEqual(names(big), names(little));
});

/** A little-endian .BTF.ext blob: a header of `headerLength` bytes, then the given parts. */
function blob(parts: { func?: number[]; line?: number[]; core?: number[] }, headerLength = 32): Uint8Array {
  const words = [...(parts.func ?? []), ...(parts.line ?? []), ...(parts.core ?? [])];
  const bytes = new Uint8Array(headerLength + words.length * 4);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0xeb9f, true);
  bytes[2] = 1;
  view.setUint32(4, headerLength, true);
  let offset = 0;
  const fields = [parts.func, parts.line, parts.core];
  fields.forEach((part, i) => {
    if (8 + i * 8 + 8 > headerLength) return;
    view.setUint32(8 + i * 8, offset, true);
    view.setUint32(12 + i * 8, (part?.length ?? 0) * 4, true);
    offset += (part?.length ?? 0) * 4;
  });
  words.forEach((w, i) => view.setUint32(headerLength + i * 4, w >>> 0, true));
  return bytes;
}

test('malformed .BTF.ext blobs throw BtfError with a code and the byte offset', needs('clang'), () => {
  const { btf } = openFixture(buildBpfObject('ext_info'));
  const textName = [...Array(200).keys()].find((o) => { try { return btf.string(o) === '.text'; } catch { return false; } });
  assert.ok(textName !== undefined);
  const good = blob({ func: [8, textName, 2, 0, 1, 16, 2] });
  assert.deepEqual(parseBtfExt(good, btf).sections.get('.text')?.funcInfo, [{ insn: 0, typeId: 1 }, { insn: 2, typeId: 2 }]);
  const cases: [string, Uint8Array, string][] = [
    ['too short', new Uint8Array(4), 'ERR_BTF_EXT_HEADER'],
    ['bad magic', (() => { const b = good.slice(); b[0] = 0; return b; })(), 'ERR_BTF_EXT_HEADER'],
    ['version 2', (() => { const b = good.slice(); b[2] = 2; return b; })(), 'ERR_BTF_EXT_HEADER'],
    ['flags', (() => { const b = good.slice(); b[3] = 1; return b; })(), 'ERR_BTF_EXT_HEADER'],
    ['hdr_len past the end', (() => { const b = good.slice(); new DataView(b.buffer).setUint32(4, 999, true); return b; })(), 'ERR_BTF_EXT_HEADER'],
    ['hdr_len without line_info', blob({}, 16), 'ERR_BTF_EXT_HEADER'],
    ['part past the end', (() => { const b = good.slice(); new DataView(b.buffer).setUint32(12, 4000, true); return b; })(), 'ERR_BTF_EXT_TRUNCATED'],
    ['misaligned part', (() => { const b = good.slice(); new DataView(b.buffer).setUint32(8, 2, true); return b; })(), 'ERR_BTF_EXT_BAD_RECORD'],
    ['record size 4', blob({ func: [4, textName, 1, 0] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['record size 10', blob({ func: [10, textName, 1, 0, 1, 0] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['no records', blob({ func: [8, textName, 0] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['records past the part', blob({ func: [8, textName, 0x40000000, 0, 1] }), 'ERR_BTF_EXT_TRUNCATED'],
    ['section header cut off', blob({ func: [8, textName] }), 'ERR_BTF_EXT_TRUNCATED'],
    ['insn offset not a multiple of 8', blob({ func: [8, textName, 1, 4, 1] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['section name outside the strings', blob({ func: [8, 0x7ffffff0, 1, 0, 1] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['line string outside the strings', blob({ line: [16, textName, 1, 0, 0x7ffffff0, 0, 1 << 10] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['empty CO-RE access string', blob({ core: [16, textName, 1, 0, 1, 0, 0] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['unknown CO-RE kind', blob({ core: [16, textName, 1, 0, 1, 0, 13] }), 'ERR_BTF_EXT_BAD_RECORD'],
    ['CO-RE access string not indexes', blob({ core: [16, textName, 1, 0, 1, textName, 0] }), 'ERR_BTF_EXT_BAD_RECORD'],
  ];
  for (const [what, bytes, code] of cases) {
    assert.throws(() => parseBtfExt(bytes, btf), (error: unknown) => {
      assert.ok(error instanceof BtfError, `${what}: ${String(error)}`);
      assert.equal(error.code, code, `${what}: ${error.message}`);
      assert.ok(error.byteOffset !== undefined, `${what}: names a byte offset`);
      return true;
    }, what);
  }
  assert.throws(() => parseBtfExt(blob({ func: [8, textName, 1, 80, 1] }), btf, { sectionInstructions: () => 10 }), /instruction 10 is past the section's 10 instructions/);
  // A 24-byte header (no CO-RE part) is valid.
  assert.equal(parseBtfExt(blob({ func: [8, textName, 1, 0, 1] }, 24), btf).sections.get('.text')?.funcInfo.length, 1);
});

test('fuzz: the fixture\'s .BTF.ext, mutated, only ever throws BtfError', needs('clang'), () => {
  const { btf, extBytes } = openFixture(buildBpfObject('ext_info'));
  fuzz({
    seeds: [extBytes],
    runs: 60_000,
    seed: 1212,
    exercise: (bytes) => {
      const ext = parseBtfExt(bytes, btf);
      for (const s of ext.sections.values()) {
        const info = programExtInfo([{ section: s, start: 0, count: 1 << 20, at: 0 }]);
        encodeFuncInfo(info.funcInfo);
        encodeLineInfo(info.lineInfo);
      }
    },
  });
});
