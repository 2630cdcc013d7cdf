/**
 * Load on loopback, bounded: 40 concurrent scrapes of a 100k-entry map all complete with the whole
 * exposition, share collections (far fewer collections than scrapes), and the process's memory
 * stays bounded (well under what 40 separate collections of ~10 MB each would hold).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { BpfRecord } from '../../src/codec/record/record.js';
import { BpfMap } from '../../src/map/bpf-map.js';
import { createWithRecords } from '../../src/map/btf-map.js';
import { BpfmapServer } from '../../src/serve/http/server.js';
import { needs } from '../helpers.js';
import { freePort } from './helpers.js';

const ENTRIES = 100_000;
const SCRAPES = 40;

/** Streams a response, keeping only its length and last bytes. */
function scrape(url: string): Promise<{ status: number; length: number; tail: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let length = 0;
      let tail = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        length += chunk.length;
        tail = (tail + chunk).slice(-4096);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length, tail }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('40 concurrent scrapes of a 100k-entry map complete, share collections, and memory stays bounded', needs(), async (t) => {
  const key = BpfRecord.define([['pid', 'I'], ['tid', 'I']], { name: 'load_key' });
  const value = BpfRecord.define([['packets', 'Q'], ['bytes', 'Q']], { name: 'load_value' });
  const typed = createWithRecords({ type: 'hash', maxEntries: ENTRIES, name: `load_${process.pid % 10000}` }, { key, value });
  const map = BpfMap.fromFd(typed.fd);
  typed.close();
  t.after(() => map.close());
  for (let start = 0; start < ENTRIES; start += 10_000) {
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    for (let i = start; i < start + 10_000; i++) {
      const k = new Uint8Array(8);
      new DataView(k.buffer).setUint32(0, i >>> 3, true);
      new DataView(k.buffer).setUint32(4, i, true);
      const v = new Uint8Array(16);
      new DataView(v.buffer).setUint32(0, i, true);
      entries.push([k, v]);
    }
    map.setBatch(entries);
  }

  const server = new BpfmapServer({ maps: [{ kind: 'id', id: map.id }], programStats: false, port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());

  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const results = await Promise.all(Array.from({ length: SCRAPES }, () => scrape(`http://127.0.0.1:${port}/metrics`)));
  clearInterval(sampler);

  const single = await scrape(`http://127.0.0.1:${port}/metrics`);
  for (const result of results) {
    assert.equal(result.status, 200);
    assert.match(result.tail, /bpfmap_scrape_duration_seconds [0-9.e-]+\n$/, 'every scrape got the whole exposition');
    // Entry lines are the same in every scrape; only the self-metrics at the end differ a little.
    assert.ok(Math.abs(result.length - single.length) < 2000, `length ${result.length} vs ${single.length}`);
  }
  assert.ok(single.length > ENTRIES * 2 * 30, `the exposition holds 2 x ${ENTRIES} series`);
  const { requests, collections } = server.exporter.stats;
  assert.equal(requests, SCRAPES + 1);
  assert.ok(collections <= SCRAPES / 4, `${SCRAPES} scrapes shared ${collections} collections`);
  const grownMiB = (peak - before) / 1048576;
  const unsharedMiB = (SCRAPES * single.length) / 1048576;
  assert.ok(grownMiB < Math.min(400, unsharedMiB / 2), `RSS grew ${grownMiB.toFixed(0)} MiB during the scrapes (unshared copies would be ${unsharedMiB.toFixed(0)} MiB)`);
});
