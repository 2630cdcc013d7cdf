/**
 * `events --type --format` on libbpf-tools' tcpstates: connections the test makes over loopback
 * in a network namespace of its own (IPv4 and IPv6 addresses it adds there, ports 19310-19339)
 * print with the addresses and ports the test connected, as strings equal to those tcpstates
 * itself prints for the same addresses. tcpstates keeps both addresses in `unsigned __int128`
 * slots beside a `family` field; `ip` picks IPv4 or IPv6 from it.
 *
 * A reader of a perf event array takes the tool's records (it puts its own buffers in the map),
 * so the test runs in two phases: first tcpstates prints its lines, then bpfmap reads the map.
 * tcpstates' BTF does not declare its record type (the program fills a local), so the type
 * comes from tcpstates.h compiled into test/fixtures/tcpstates_event.bpf.c (`--btf`).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { buildBpfObject, needs } from '../helpers.js';
import { startTool } from '../real-tools.js';
import { startCli } from './run-cli.js';

const SERVER4 = '10.93.1.2';
const CLIENT4 = '10.93.7.8';
const SERVER6 = 'fd93::1:2';
const CLIENT6 = 'fd93::7:8';
/** Ports: phase 1 (tcpstates prints), phase 2 (bpfmap reads), probes until bpfmap reads. */
const PHASE1 = { v4: 19310, v6: 19311, client4: 19320, client6: 19321 };
const PHASE2 = { v4: 19312, v6: 19313, client4: 19322, client6: 19323 };
const PROBES = Array.from({ length: 10 }, (_, i) => 19330 + i);
/** TCP_ESTABLISHED in the kernel's enum. */
const TCP_ESTABLISHED = 1;

/** A network namespace of the test's own with the addresses on its loopback; deleted at the end. */
function netns(t: TestContext): string {
  const name = `bpfmap-netfmt-${process.pid}-tcpstates`;
  execFileSync('ip', ['netns', 'add', name]);
  t.after(() => {
    spawnSync('ip', ['netns', 'del', name]);
  });
  const inside = (...args: string[]): void => void execFileSync('ip', ['netns', 'exec', name, 'ip', ...args]);
  inside('link', 'set', 'lo', 'up');
  inside('addr', 'add', `${SERVER4}/32`, 'dev', 'lo');
  inside('addr', 'add', `${CLIENT4}/32`, 'dev', 'lo');
  inside('-6', 'addr', 'add', `${SERVER6}/128`, 'dev', 'lo', 'nodad');
  inside('-6', 'addr', 'add', `${CLIENT6}/128`, 'dev', 'lo', 'nodad');
  return name;
}

/** A server that closes each connection first, and one client connection to it from a set address. */
const CONNECT = `
const net = require('node:net');
const [host, port, localAddress, localPort] = process.argv.slice(1);
const server = net.createServer((socket) => { socket.on('error', () => {}); socket.end(); });
server.listen(Number(port), host, () => {
  const client = net.connect({ host, port: Number(port), localAddress, ...(Number(localPort) ? { localPort: Number(localPort) } : {}) });
  client.on('error', (error) => { console.error(error.message); process.exit(1); });
  client.on('end', () => client.end());
  client.on('close', () => server.close());
});`;

/** Connects from `client`:`clientPort` (0: any) to `server`:`port` inside namespace `ns`. */
function connect(ns: string, server: string, port: number, client: string, clientPort: number): void {
  const result = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', CONNECT, server, String(port), client, String(clientPort)], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(result.status, 0, `connect ${client}:${clientPort} -> ${server}:${port}: ${result.stderr}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One line of tcpstates -w: `SKADDR PID COMM IP LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS`. */
interface ToolLine { ip: string; laddr: string; lport: number; raddr: string; rport: number; newstate: string }

function toolLines(stdout: string): ToolLine[] {
  return stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter((words) => words.length === 12 && words[9] === '->').map((words) => ({
    ip: words[3]!, laddr: words[4]!, lport: Number(words[5]), raddr: words[6]!, rport: Number(words[7]), newstate: words[10]!,
  }));
}

interface Record { formatted: { saddr: string; daddr: string; sport: number; dport: number; family: number; newstate: number; task: string } }

test('events --type --format shows tcpstates\' addresses and ports as tcpstates prints them', needs('tcpstates', 'unshare', 'ip', 'clang'), async (t) => {
  const ns = netns(t);
  const ports = [PHASE1.v4, PHASE1.v6, PHASE2.v4, PHASE2.v6, ...PROBES];
  const tool = await startTool(t, ['tcpstates', '-w', '-L', ports.join(',')], /SKADDR/);
  const events = tool.map((info) => info.typeName === 'perf_event_array', 'perf event arrays');

  // Phase 1: tcpstates prints the connections.
  connect(ns, SERVER4, PHASE1.v4, CLIENT4, PHASE1.client4);
  connect(ns, SERVER6, PHASE1.v6, CLIENT6, PHASE1.client6);
  const established = (lines: ToolLine[], port: number): ToolLine | undefined => lines.find((line) => line.lport === port && line.newstate === 'ESTABLISHED');
  for (let i = 0; i < 100 && (established(toolLines(tool.stdout()), PHASE1.v4) === undefined || established(toolLines(tool.stdout()), PHASE1.v6) === undefined); i++) await sleep(50);
  const lines = toolLines(tool.stdout());
  const tool4 = established(lines, PHASE1.v4);
  const tool6 = established(lines, PHASE1.v6);
  assert.deepEqual(tool4, { ip: '4', laddr: SERVER4, lport: PHASE1.v4, raddr: CLIENT4, rport: PHASE1.client4, newstate: 'ESTABLISHED' }, tool.stdout());
  assert.deepEqual(tool6, { ip: '6', laddr: SERVER6, lport: PHASE1.v6, raddr: CLIENT6, rport: PHASE1.client6, newstate: 'ESTABLISHED' }, tool.stdout());

  // Phase 2: bpfmap reads the tool's perf event array, decoding the addresses.
  const btf = buildBpfObject('tcpstates_event');
  const cli = startCli('-j', 'events', 'id', String(events.id), '--type', 'struct event', '--btf', btf, '--format', 'saddr=ip,daddr=ip', '--timeout', '30');
  t.after(() => {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  });
  const records = (): Record[] => cli.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record);
  // Probe (fresh ports each time) until bpfmap's buffers are in place and a record arrives.
  for (const port of PROBES) {
    connect(ns, SERVER4, port, CLIENT4, 0);
    await sleep(200);
    if (records().length > 0) break;
  }
  assert.ok(records().length > 0, `bpfmap printed no record: ${cli.stdout()}`);
  connect(ns, SERVER4, PHASE2.v4, CLIENT4, PHASE2.client4);
  connect(ns, SERVER6, PHASE2.v6, CLIENT6, PHASE2.client6);
  const ours = (port: number): Record['formatted'] | undefined => records().find((record) => record.formatted.sport === port && record.formatted.newstate === TCP_ESTABLISHED)?.formatted;
  for (let i = 0; i < 100 && (ours(PHASE2.v4) === undefined || ours(PHASE2.v6) === undefined); i++) await sleep(50);
  cli.child.kill('SIGINT');
  const result = await cli.exited;
  assert.equal(result.status, 0, result.stderr);
  const ours4 = ours(PHASE2.v4);
  const ours6 = ours(PHASE2.v6);
  assert.ok(ours4 !== undefined && ours6 !== undefined, result.stdout);
  // What the test connected, and the same text tcpstates printed for these addresses.
  assert.deepEqual({ saddr: ours4.saddr, daddr: ours4.daddr, sport: ours4.sport, dport: ours4.dport, family: ours4.family }, { saddr: SERVER4, daddr: CLIENT4, sport: PHASE2.v4, dport: PHASE2.client4, family: 2 });
  assert.deepEqual({ saddr: ours6.saddr, daddr: ours6.daddr, sport: ours6.sport, dport: ours6.dport, family: ours6.family }, { saddr: SERVER6, daddr: CLIENT6, sport: PHASE2.v6, dport: PHASE2.client6, family: 10 });
  assert.deepEqual([ours4.saddr, ours4.daddr, ours6.saddr, ours6.daddr], [tool4!.laddr, tool4!.raddr, tool6!.laddr, tool6!.raddr]);
});
