/**
 * Maps dropped without `close()`: the garbage collector's finalizer releases the private fd and
 * the public `map.fd` duplicate, and closes the public number only while it still refers to the
 * map (the application may have closed it, and the number may since mean another file). Checked
 * in a child with --expose-gc over many cycles: no fd leaks, and no reused number is closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { repoRoot, needs } from '../helpers.js';

const script = `
  import { BpfMap } from ${JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))};
  import { closeSync, openSync, readdirSync, readlinkSync, fstatSync } from 'node:fs';
  const fds = () => readdirSync('/proc/self/fd').map(Number).filter((fd) => fd > 2);
  const collected = { count: 0 };
  const registry = new FinalizationRegistry(() => { collected.count++; });
  const settle = async () => {
    for (let i = 0; i < 6; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
  };
  await settle();
  const before = fds();
  const cycles = Number(process.argv.at(-1));
  let made = 0;
  const kept = [];      // files opened on numbers a dropped map's public fd had: must stay open
  for (let cycle = 0; cycle < cycles; cycle++) {
    // (1) dropped with its public fd open: both fds must be released.
    (() => {
      const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      registry.register(map, 0); made++;
      if (map.fd < 3) throw new Error('public fd below 3');
    })();
    // (2) the application closed the public fd and the number now means a file of its own.
    (() => {
      const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      registry.register(map, 0); made++;
      const number = map.fd;
      closeSync(number);
      const file = openSync('/dev/null', 'r');
      if (file !== number) throw new Error('the number was not reused: ' + file + ' != ' + number);
      kept.push(file);
    })();
    // (3) the number now means another bpfmap map's public fd, which must keep working.
    (() => {
      const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      registry.register(map, 0); made++;
      const number = map.fd;
      closeSync(number);
      const other = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      globalThis.survivors ??= [];
      globalThis.survivors.push(other);
      // The number went to the other map's private fd or its public one: open either way.
      kept.push({ map: other, number });
    })();
    if (cycle % 25 === 24) await settle();
  }
  await settle();
  // Every kept number still means what its owner opened.
  let filesIntact = 0;
  let mapsIntact = 0;
  for (const entry of kept) {
    if (typeof entry === 'number') {
      if (readlinkSync('/proc/self/fd/' + entry) === '/dev/null' && fstatSync(entry).isCharacterDevice()) filesIntact++;
      closeSync(entry);
    } else {
      const key = new Uint8Array(4);
      const value = new Uint8Array(8).fill(7);
      entry.map.set(key, value);
      if (readlinkSync('/proc/self/fd/' + entry.number) === 'anon_inode:bpf-map' && entry.map.get(key)[0] === 7) mapsIntact++;
      entry.map.close();
    }
  }
  globalThis.survivors = undefined;
  await settle();
  const after = fds();
  console.log(JSON.stringify({ before: before.length, after: after.length, leaked: after.filter((fd) => !before.includes(fd)), made, collected: collected.count, filesIntact, mapsIntact, cycles }));
`;

test('maps collected without close(): no fd leak, and a reused public fd number is never closed', needs(), () => {
  const cycles = 150;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, String(cycles)], { encoding: 'utf8', timeout: 120_000 });
  const result = JSON.parse(out) as {
    before: number; after: number; leaked: number[]; made: number; collected: number;
    filesIntact: number; mapsIntact: number; cycles: number;
  };
  assert.equal(result.made, 3 * cycles);
  assert.ok(result.collected >= result.made * 0.9, `the maps were collected (${result.collected} of ${result.made})`);
  assert.deepEqual(result.leaked, [], `fds left open after collection (before ${result.before}, after ${result.after})`);
  assert.equal(result.filesIntact, cycles, 'no finalizer closed a file that reused a dropped map\'s public fd number');
  assert.equal(result.mapsIntact, cycles, 'no finalizer closed the fd of another map that took the number');
});
