/**
 * Layout parity with C: a C program compiled here prints sizeof/offsetof of a set of structs and
 * writes their bytes; `@` records must give the same sizes and offsets, decode those bytes to the
 * same values, and encode the values back to the same bytes (padding included).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BpfRecord, arrayOf, type Template } from '../../src/index.js';
import { tempDir, toolUnavailable } from '../helpers.js';

const program = String.raw`
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct mixed { uint8_t a; uint64_t b; uint16_t c; int32_t d; uint8_t e; };
struct inner { uint16_t x; uint8_t y; };
struct nested { uint8_t tag; struct inner in; uint32_t list[3]; struct inner pairs[2]; double f; char name[5]; int64_t last; };
struct tail_pad { uint64_t big; uint8_t small; };
struct chars { char c; _Bool flag; int16_t s; float f; uint8_t bytes[3]; };
struct longs { long l; unsigned long ul; size_t n; void *p; uint8_t t; };
struct deep { uint8_t a; struct { uint8_t b; struct { uint32_t c; uint8_t d; } inner2[2]; } inner1; uint16_t e; };

#define FIELD(type, member) printf("\"%s\":%zu,", #member, offsetof(struct type, member))
#define OPEN(type) printf("\"%s\":{\"size\":%zu,", #type, sizeof(struct type))
#define CLOSE() printf("\"_\":0},")
#define DUMP(value) do { fwrite(&value, sizeof value, 1, out); } while (0)

int main(int argc, char **argv) {
  printf("{");
  OPEN(mixed); FIELD(mixed, a); FIELD(mixed, b); FIELD(mixed, c); FIELD(mixed, d); FIELD(mixed, e); CLOSE();
  OPEN(inner); FIELD(inner, x); FIELD(inner, y); CLOSE();
  OPEN(nested); FIELD(nested, tag); FIELD(nested, in.x); FIELD(nested, in.y); FIELD(nested, list[2]);
  FIELD(nested, pairs[1].y); FIELD(nested, f); FIELD(nested, name); FIELD(nested, last); CLOSE();
  OPEN(tail_pad); FIELD(tail_pad, big); FIELD(tail_pad, small); CLOSE();
  OPEN(chars); FIELD(chars, c); FIELD(chars, flag); FIELD(chars, s); FIELD(chars, f); FIELD(chars, bytes[2]); CLOSE();
  OPEN(longs); FIELD(longs, l); FIELD(longs, ul); FIELD(longs, n); FIELD(longs, p); FIELD(longs, t); CLOSE();
  OPEN(deep); FIELD(deep, a); FIELD(deep, inner1.b); FIELD(deep, inner1.inner2[1].c); FIELD(deep, inner1.inner2[1].d); FIELD(deep, e); CLOSE();
  printf("\"_\":0}\n");

  FILE *out = fopen(argv[1], "wb");
  struct mixed m; memset(&m, 0, sizeof m);
  m.a = 1; m.b = 0x1122334455667788ULL; m.c = 0xbeef; m.d = -5; m.e = 9; DUMP(m);
  struct nested n; memset(&n, 0, sizeof n);
  n.tag = 7; n.in.x = 513; n.in.y = 3; n.list[0] = 10; n.list[1] = 20; n.list[2] = 30;
  n.pairs[0].x = 1; n.pairs[0].y = 2; n.pairs[1].x = 3; n.pairs[1].y = 4; n.f = 2.5; memcpy(n.name, "abcd", 5); n.last = -1234567890123LL; DUMP(n);
  struct tail_pad t; memset(&t, 0, sizeof t); t.big = ~0ULL; t.small = 1; DUMP(t);
  struct chars c; memset(&c, 0, sizeof c); c.c = 'Z'; c.flag = 1; c.s = -2; c.f = 0.75f; c.bytes[0] = 1; c.bytes[1] = 2; c.bytes[2] = 3; DUMP(c);
  struct longs l; memset(&l, 0, sizeof l); l.l = -1; l.ul = 2; l.n = 3; l.p = (void *)0x1000; l.t = 4; DUMP(l);
  struct deep d; memset(&d, 0, sizeof d); d.a = 1; d.inner1.b = 2; d.inner1.inner2[0].c = 3; d.inner1.inner2[0].d = 4;
  d.inner1.inner2[1].c = 5; d.inner1.inner2[1].d = 6; d.e = 7; DUMP(d);
  fclose(out);
  return 0;
}
`;

const inner: Template = [['x', 'H'], ['y', 'B']];

/** Each struct: its record template, the field paths the C program printed, and the values it wrote. */
const structs: Array<{ name: string; template: Template; value: unknown }> = [
  { name: 'mixed', template: [['a', 'B'], ['b', 'Q'], ['c', 'H'], ['d', 'i'], ['e', 'B']], value: { a: 1, b: 0x1122334455667788n, c: 0xbeef, d: -5, e: 9 } },
  { name: 'inner', template: inner, value: undefined },
  {
    name: 'nested',
    template: [['tag', 'B'], ['in', inner], ['list', '3I'], ['pairs', arrayOf(inner, 2)], ['f', 'd'], ['name', '5s'], ['last', 'q']],
    value: { tag: 7, in: { x: 513, y: 3 }, list: [10, 20, 30], pairs: [{ x: 1, y: 2 }, { x: 3, y: 4 }], f: 2.5, name: 'abcd', last: -1234567890123n },
  },
  { name: 'tail_pad', template: [['big', 'Q'], ['small', 'B']], value: { big: 2n ** 64n - 1n, small: 1 } },
  { name: 'chars', template: [['c', 'c'], ['flag', '?'], ['s', 'h'], ['f', 'f'], ['bytes', '3B']], value: { c: 'Z', flag: true, s: -2, f: 0.75, bytes: [1, 2, 3] } },
  { name: 'longs', template: [['l', 'l'], ['ul', 'L'], ['n', 'N'], ['p', 'P'], ['t', 'B']], value: { l: -1n, ul: 2n, n: 3n, p: 0x1000n, t: 4 } },
  {
    name: 'deep',
    template: [['a', 'B'], ['inner1', [['b', 'B'], ['inner2', arrayOf([['c', 'I'], ['d', 'B']], 2)]]], ['e', 'H']],
    value: { a: 1, inner1: { b: 2, inner2: [{ c: 3, d: 4 }, { c: 5, d: 6 }] }, e: 7 },
  },
];

const skip = toolUnavailable('cc');
if (skip !== undefined && process.env.CI === 'true') throw new Error(`CI must run every test, but: ${skip}`);

test("'@' records match the C compiler's sizeof, offsetof and bytes", skip === undefined ? {} : { skip }, (t) => {
  const dir = tempDir(t, 'bpfmap-layout');
  const source = path.join(dir, 'layout.c');
  const binary = path.join(dir, 'layout');
  const dump = path.join(dir, 'structs.bin');
  writeFileSync(source, program);
  execFileSync('cc', ['-O0', '-o', binary, source]);
  const report = JSON.parse(execFileSync(binary, [dump], { encoding: 'utf8' })) as Record<string, Record<string, number>>;
  const bytes = new Uint8Array(readFileSync(dump));

  let position = 0;
  for (const { name, template, value } of structs) {
    const record = new BpfRecord(template, { byteOrder: '@', strings: 'text' });
    const c = report[name];
    assert.ok(c, name);
    assert.equal(record.size, c.size, `sizeof(struct ${name})`);
    for (const [field, offset] of Object.entries(c)) {
      if (field === 'size' || field === '_') continue;
      assert.equal(record.offsetOf(field), offset, `offsetof(struct ${name}, ${field})`);
    }
    if (value === undefined) continue;
    const written = bytes.subarray(position, position + record.size);
    position += record.size;
    assert.deepEqual(record.unpack(written), value, `decode struct ${name}`);
    assert.deepEqual(record.pack(value as never), written, `encode struct ${name}`);
  }
  assert.equal(position, bytes.length);
});
