import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { BpfMap } from '../../src/index.js';
import { needs, pinDir, repoRoot, u32le } from '../helpers.js';

const openFds = () => readdirSync('/proc/self/fd').length;

test('thousands of open/close cycles leak no fds', needs(), (t) => {
  const dir = pinDir(t, 'fds');
  const pin = path.join(dir, 'm');
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 });
  map.pin(pin);
  const before = openFds();
  for (let i = 0; i < 3000; i++) {
    const opened = BpfMap.openPinned(pin);
    opened.get(u32le(1));
    opened.close();
    using byId = BpfMap.fromId(map.id);
    using typed = map.withCodecs();
    void byId;
    void typed;
  }
  for (let i = 0; i < 500; i++) {
    try {
      BpfMap.openPinned(path.join(dir, 'missing'));
    } catch {
      // failures must not leak either
    }
    try {
      BpfMap.create({ type: 'array', keySize: 8, valueSize: 4, maxEntries: 1 });
    } catch {
      // EINVAL from the kernel
    }
  }
  assert.equal(openFds(), before);
});

test('fds are close-on-exec', needs(), () => {
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 });
  const flags = execFileSync('cat', [`/proc/${process.pid}/fdinfo/${map.fd}`], { encoding: 'utf8' });
  const match = /flags:\s*(\d+)/.exec(flags);
  assert.ok(match);
  assert.ok((parseInt(match[1]!, 8) & 0o2000000) !== 0, 'O_CLOEXEC is set');
});

test('maps dropped without close are closed by the garbage collector', needs(), () => {
  const script = `
    import { BpfMap } from ${JSON.stringify(path.join(repoRoot, 'dist/src/index.js'))};
    import { readdirSync } from 'node:fs';
    const count = () => readdirSync('/proc/self/fd').length;
    const before = count();
    for (let i = 0; i < 200; i++) BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
    const during = count();
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
    console.log(JSON.stringify({ before, during, after: count() }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const { before, during, after } = JSON.parse(out) as { before: number; during: number; after: number };
  assert.ok(during >= before + 100, 'the maps were open');
  assert.ok(after <= before + 5, `finalizers closed the fds (before ${before}, after ${after})`);
});
