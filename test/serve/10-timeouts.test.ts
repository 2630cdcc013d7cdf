/**
 * The server's time bounds, seen from a raw TCP client: a client that never finishes its request
 * headers gets 408 and is disconnected about 10 s after it connected (headersTimeout, checked
 * every second, not at Node's default 30 s), and an idle keep-alive connection is closed after
 * 5 s. Nothing else is needed from the server: the exported selection is an empty bpffs folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { BpfmapServer } from '../../src/serve/http/server.js';
import { needs, pinDir } from '../helpers.js';
import { freePort } from './helpers.js';

/** Connects, writes `text`, and resolves with what came back and the seconds until the server closed. */
function exchange(port: number, text: string): Promise<{ reply: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let reply = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ reply, seconds: (performance.now() - start) / 1000 }));
    // Far past every bound: a server that never closes fails the test instead of hanging it.
    setTimeout(() => socket.destroy(new Error(`the server kept the connection open for 60 s; got ${JSON.stringify(reply.slice(0, 200))}`)), 60_000).unref();
  });
}

test('unfinished request headers get 408 within the headers timeout; idle keep-alive connections close', needs(), async (t) => {
  const dir = pinDir(t, 'serve-timeouts');
  const server = new BpfmapServer({ maps: [{ kind: 'pinned', path: dir }], port: await freePort() });
  const { port } = await server.listen();
  t.after(() => server.close());

  const [slow, idle] = await Promise.all([
    exchange(port, 'GET /api/maps HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '),
    exchange(port, 'GET /api/maps HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n'),
  ]);
  assert.match(slow.reply, /^HTTP\/1\.1 408 /);
  assert.ok(slow.seconds >= 9 && slow.seconds < 20, `closed after ${slow.seconds.toFixed(1)} s (headers timeout 10 s)`);
  assert.match(idle.reply, /^HTTP\/1\.1 200 /);
  assert.ok(idle.seconds >= 4 && idle.seconds < 15, `idle keep-alive closed after ${idle.seconds.toFixed(1)} s (5 s)`);
});
