/**
 * `demo`: the README's end-to-end demo. Creates a map, writes, reads, iterates, pins it under a
 * unique folder of /sys/fs/bpf, opens the pin, prints, and removes everything it made, saying
 * what it does at each step.
 */
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../../map/bpf-map.js';
import type { Command, CommandContext } from '../command.js';
import { hexText } from '../entries.js';
import { showText } from './show.js';

/** The filesystem magic of bpffs (BPF_FS_MAGIC). */
const BPF_FS_MAGIC = 0xcafe4a11;
const BPFFS = '/sys/fs/bpf';

function isBpffs(dir: string): boolean {
  try {
    return statfsSync(dir).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** A u32 key in host order. */
function u32Key(value: number): Uint8Array {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, value, true);
  return key;
}

/** A u64 value in host order. */
function u64Value(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  return bytes;
}

function readU64(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
}

function run({ args, options, out }: CommandContext): void {
  args.end();
  options.end();
  const say = (text: string): void => {
    out.line(text);
    out.flush();
  };
  say('bpfmap demo: a BPF hash map from Node.js, end to end');
  say('');
  say("1. create a hash map: type hash, 4-byte keys (u32), 8-byte values (u64), 16 entries, name 'demo_counts'");
  using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'demo_counts' });
  say(`   created map id ${map.id}`);

  say('2. write three entries (the last one beyond 2^53, which stays exact as a bigint)');
  const writes: Array<[number, bigint]> = [[1, 10n], [2, 20n], [3, 2n ** 63n + 1n]];
  for (const [key, value] of writes) {
    map.set(u32Key(key), u64Value(value));
    say(`   set ${key} -> ${value}`);
  }

  say('3. read key 3 back');
  const read = map.get(u32Key(3));
  say(`   get 3 -> ${read === undefined ? 'missing' : readU64(read)}  (bytes ${read === undefined ? '-' : hexText(read)})`);

  say('4. iterate over every entry');
  for (const [key, value] of map) say(`   ${new DataView(key.buffer, key.byteOffset).getUint32(0, true)} -> ${readU64(value)}`);

  if (!isBpffs(BPFFS)) {
    say(`5. skipped pinning: no bpf filesystem at ${BPFFS} (mount it with: mount -t bpf bpf ${BPFFS})`);
    say('done: the map goes away when this process exits');
    return;
  }
  const folder = mkdtempSync(path.join(BPFFS, 'bpfmap-demo-'));
  try {
    const pinPath = path.join(folder, 'demo_counts');
    say(`5. pin the map at ${pinPath}`);
    map.pin(pinPath);

    say('6. open the pin as a new handle, read-only, and print it as `bpfmap show` and `bpfmap dump` would');
    using pinned = BpfMap.openPinned(pinPath, { readOnly: true });
    say(`   same map: ${pinned.id === map.id ? 'yes' : 'no'} (id ${pinned.id})`);
    for (const line of showText(pinned.info, [pinPath]).split('\n')) say(`   ${line}`);
    let count = 0;
    for (const [key, value] of pinned) {
      say(`   key: ${hexText(key)}  value: ${hexText(value)}`);
      count++;
    }
    say(`   Found ${count} elements`);
  } finally {
    say(`7. clean up: remove ${folder} (the map is freed once no pin or handle holds it)`);
    rmSync(folder, { recursive: true, force: true });
  }
  say('done');
}

/** `demo`. */
export const demoCommand: Command = { run };
