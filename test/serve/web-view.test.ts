/**
 * The web view in a real browser: Debian's chromium, headless, driven by playwright-core (no
 * browser download). The page lists the exported maps, shows a map's decoded entries and sees a
 * value change live, draws a histogram map as bars, and shows a map string that looks like HTML
 * as text without running it.
 *
 * Set BPFMAP_SCREENSHOT=path.png to save screenshots of the live map page there and of the
 * histogram page beside it (path-histogram.png): docs/web-view*.png are these.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BpfRecord } from '../../src/codec/record/record.js';
import { BpfMap } from '../../src/map/bpf-map.js';
import { createWithRecords } from '../../src/map/btf-map.js';
import { BpfmapServer } from '../../src/serve/http/server.js';
import { loadFixture, runProgram } from '../events/fixtures.js';
import { needs } from '../helpers.js';

const browserPath = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((candidate) => existsSync(candidate));
const XSS = '<img src=x onerror=alert(1)>';

/**
 * The little of the DOM that functions run in the page use: this file is compiled without the
 * DOM's types, and the page's policy forbids evaluating strings, so they are typed through this.
 */
interface PageDocument {
  querySelectorAll(selector: string): ArrayLike<{ readonly textContent: string | null }>;
}

function launch(): Promise<Browser> {
  // As root, chromium refuses to start without --no-sandbox.
  return chromium.launch({ executablePath: browserPath ?? 'chromium', headless: true, args: ['--no-sandbox'] });
}

/** Texts of the cells of each row of the page's entry table, keyed by the first cell. */
async function rows(page: Page): Promise<Map<string, string[]>> {
  const cells = await page.$$eval('main table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
  return new Map(cells.filter((row) => row.length > 1).map((row) => [row[0] as string, row.slice(1)]));
}

test('the web view lists maps, shows entries live, draws histograms and never runs map strings', needs('chromium'), async (t) => {
  const procKey = BpfRecord.define([['pid', 'I']], { byteOrder: '@' });
  const procValue = BpfRecord.define([['comm', '32s'], ['count', 'Q']], { byteOrder: '@', strings: 'text' });
  const procs = createWithRecords({ type: 'hash', maxEntries: 16, name: 'web_procs' }, { key: procKey, value: procValue });
  t.after(() => procs.close());
  procs.set({ pid: 1 }, { comm: XSS, count: 5n });
  procs.set({ pid: 2 }, { comm: 'bash', count: 7n });
  procs.set({ pid: 3 }, { comm: 'big', count: 18446744073709551615n });

  const histKey = BpfRecord.define([['cpu', 'I']], { byteOrder: '@' });
  const histValue = BpfRecord.define([['slots', '26I']], { byteOrder: '@' });
  const hist = createWithRecords({ type: 'hash', maxEntries: 4, name: 'web_hist' }, { key: histKey, value: histValue });
  t.after(() => hist.close());
  const slots = Array.from({ length: 26 }, (_, i) => (i >= 2 && i <= 9 ? (i * 37) % 50 + 1 : 0));
  hist.set({ cpu: 0xffffffff }, { slots });

  const server = new BpfmapServer({ maps: [{ kind: 'id', id: procs.id }, { kind: 'id', id: hist.id }], port: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const base = `http://127.0.0.1:${port}`;

  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  const imageRequests: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(base)) imageRequests.push(request.url());
    else if (/\/x$/.test(request.url())) imageRequests.push(request.url());
  });

  // The page is served with a strict policy and no outside resources.
  const response = await page.goto(`${base}/`);
  assert.equal(response?.status(), 200);
  const csp = response?.headers()['content-security-policy'] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);

  // The list: exactly the two exported maps, by name, with their ids.
  await page.waitForSelector('main table tbody tr[data-key]');
  const listed = await page.$$eval('main table tbody tr[data-key]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(listed.map((row) => row[1]).sort(), ['web_hist', 'web_procs']);
  assert.deepEqual(listed.map((row) => Number(row[0])).sort((a, b) => a - b), [procs.id, hist.id].sort((a, b) => a - b));

  // Filtering the list.
  await page.fill('input[type=search]', 'hist');
  assert.equal(await page.locator('main table tbody tr[data-key]').count(), 1);
  await page.fill('input[type=search]', '');

  // A map's page: decoded keys and values equal what the map holds, 64-bit values exact.
  await page.click(`main table tbody tr[data-key="${procs.id}"]`);
  await page.waitForFunction(() => (globalThis as unknown as { document: PageDocument }).document.querySelectorAll('main table tbody tr[data-key]').length === 3);
  let table = await rows(page);
  const expected = new Map<number, { comm: string; count: bigint }>();
  for (const [key, value] of procs.entries()) expected.set(key.pid, { comm: value.comm as string, count: value.count as bigint });
  assert.equal(table.size, expected.size);
  for (const [pid, value] of expected) {
    const row = table.get(`{pid: ${pid}}`);
    assert.ok(row, `row for pid ${pid} in ${[...table.keys()].join(' | ')}`);
    assert.equal(row[0], `{comm: ${JSON.stringify(value.comm)}, count: ${value.count}}`);
  }

  // The HTML-looking string is text: no element was made from it and nothing ran.
  assert.equal(await page.locator('main img').count(), 0);
  assert.ok((await page.textContent('main'))?.includes(XSS));

  // A change in the map shows up live, with a per-second rate.
  procs.set({ pid: 2 }, { comm: 'bash', count: 100_007n });
  await page.waitForFunction(
    () => Array.from((globalThis as unknown as { document: PageDocument }).document.querySelectorAll('main table tbody tr')).some((tr) => /count: 100007}.*count \d[\d.]*\/s/.test(tr.textContent ?? '')),
    undefined,
    { timeout: 10_000 },
  );
  table = await rows(page);
  const rate = /count (\d[\d.]*)\/s/.exec(table.get('{pid: 2}')?.[1] ?? '');
  assert.ok(rate, `rate cell: ${table.get('{pid: 2}')?.[1]}`);
  // 100,000 more in about one interval (1 s, stretched by a busy machine).
  assert.ok(Number(rate[1]) > 10_000 && Number(rate[1]) <= 200_000, `rate ${rate[1]}`);

  // Sorting by value, then reversed.
  await page.click('main table thead th:nth-child(2)');
  const ascending = [...(await rows(page)).keys()];
  await page.click('main table thead th:nth-child(2)');
  const descending = [...(await rows(page)).keys()];
  assert.deepEqual(descending, [...ascending].reverse());

  if (process.env.BPFMAP_SCREENSHOT) await page.screenshot({ path: process.env.BPFMAP_SCREENSHOT, fullPage: false });

  // A histogram map draws as bars, one per slot from the first to the last non-empty one.
  await page.click('nav a[href="#/"]');
  await page.click(`main table tbody tr[data-key="${hist.id}"]`);
  await page.waitForSelector('#histograms .hist svg rect');
  const drawn = await page.$$eval('#histograms .hist', (charts) => charts.map((chart) => ({ total: chart.getAttribute('data-total'), bars: chart.querySelectorAll('rect').length })));
  if (process.env.BPFMAP_SCREENSHOT) await page.screenshot({ path: process.env.BPFMAP_SCREENSHOT.replace(/(\.png)?$/, '-histogram.png'), fullPage: false });
  assert.deepEqual(drawn, [{ total: String(slots.reduce((a, b) => a + b, 0)), bars: 8 }]);
  const labels = await page.$$eval('#histograms .hist text', (texts) => texts.map((text) => text.textContent));
  assert.ok(labels.includes('4 -> 7') && labels.includes('512 -> 1023'), labels.join(' | '));

  assert.deepEqual(dialogs, []);
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(imageRequests, []);
});

test('the web view tails a ring buffer, records decoded through the program BTF, as text', needs('chromium', 'clang', 'bpftool'), async (t) => {
  const fixture = loadFixture(t, 'events_typed');
  const ring = BpfMap.openPinned(path.join(fixture.maps, 'events'));
  t.after(() => ring.close());

  const server = new BpfmapServer({ maps: [{ kind: 'id', id: ring.id }], port: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());

  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`http://127.0.0.1:${port}/#/maps/${ring.id}`);
  await page.waitForSelector('input[aria-label="record type"]');
  await page.fill('input[aria-label="record type"]', 'struct typed_event');
  await page.click('button');
  // Records produced before the stream opens wait in the ring for its consumer.
  let seen = 0;
  for (let attempt = 0; attempt < 50 && seen < 3; attempt++) {
    await runProgram(fixture, 'produce', 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = await page.locator('main tbody tr').count();
  }
  const records = await page.$$eval('main tbody tr td:nth-child(3)', (cells) => cells.map((cell) => cell.textContent ?? ''));
  assert.ok(records.length >= 3, `${records.length} records`);
  // Newest first; each decoded through the BTF type: seq, its complement, the tag as text.
  const decoded = records.map((text) => /^\{seq: (\d+), check: (\d+), tag: "evt", flags: 2147483649\}$/.exec(text));
  assert.ok(decoded.every((match) => match !== null), records.join(' | '));
  const seqs = decoded.map((match) => BigInt(match![1]!));
  for (const [i, match] of decoded.entries()) assert.equal(BigInt(match![2]!), ~seqs[i]! & 0xffff_ffff_ffff_ffffn);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
  assert.deepEqual(pageErrors, []);
});
