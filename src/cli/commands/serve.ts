/**
 * `serve [--listen HOST:PORT] [--config FILE] [--web-config FILE] [--allow-write] [--force] [--per-cpu]
 * [--series-limit N] [MAP ... | --all]`: Prometheus metrics, the JSON API and the web view of the
 * maps, over HTTP (HTTPS and basic auth with a web configuration file). Listens on 127.0.0.1:19655
 * unless told otherwise; runs until interrupted.
 */
import type { ExportSelector } from '../../serve/metrics/selectors.js';
import type { Command, CommandContext } from '../command.js';
import { UsageError, parseMapRef, parseU32 } from '../grammar.js';
import { Interrupt } from '../interrupt.js';

/** Parses `HOST:PORT`, `[V6]:PORT`, `:PORT` or `HOST`. */
export function parseListen(text: string): { host: string; port: number | undefined } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*))(?::(\d{1,5}))?$/.exec(text);
  if (match === null) throw new UsageError(`--listen: '${text}' is not HOST:PORT`);
  const [, v6, host, port] = match;
  const portNumber = port === undefined ? undefined : Number(port);
  if (portNumber !== undefined && portNumber > 65535) throw new UsageError(`--listen: port ${port} is over 65535`);
  const chosenHost = v6 ?? (host === '' || host === undefined ? '127.0.0.1' : host);
  return { host: chosenHost, port: portNumber };
}

async function run({ args, options, stderr }: CommandContext): Promise<void> {
  const listen = parseListen(options.value('listen') ?? '127.0.0.1');
  const config = options.value('config');
  const webConfig = options.value('web-config');
  const allowWrite = options.flag('allow-write');
  const force = options.flag('force');
  const all = options.flag('all');
  const perCpuLabel = options.flag('per-cpu');
  const limitText = options.value('series-limit');
  const seriesLimit = limitText === undefined ? undefined : parseU32(limitText, '--series-limit');
  options.end();
  const maps: ExportSelector[] = [];
  while (!args.done) maps.push(parseMapRef(args));
  if (all && maps.length > 0) throw new UsageError('give MAP arguments or --all, not both');
  if (all) maps.push({ kind: 'all' });
  if (maps.length === 0 && config === undefined) throw new UsageError("serve: name maps to export ('id N', 'pinned PATH', 'name NAME'), --all, or --config FILE");

  const { BpfmapServer } = await import('../../serve/http/server.js');
  const server = new BpfmapServer({
    maps,
    allowWrite,
    ignoreOtherProcesses: force,
    perCpuLabel,
    host: listen.host,
    ...(listen.port !== undefined ? { port: listen.port } : {}),
    ...(config !== undefined ? { config } : {}),
    ...(webConfig !== undefined ? { webConfig } : {}),
    ...(seriesLimit !== undefined ? { seriesLimit } : {}),
  });
  const address = await server.listen();
  const scheme = server.webConfig.tls ? 'https' : 'http';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  stderr.write(`bpfmap serve: listening on ${scheme}://${host}:${address.port}/ (metrics at /metrics)\n`);
  using interrupt = new Interrupt();
  await new Promise<void>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(), { once: true }));
  await server.close();
}

/** `serve`. */
export const serveCommand: Command = { run };
