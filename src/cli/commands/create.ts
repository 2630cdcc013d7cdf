/**
 * `create PATH type TYPE key N value N entries N name NAME [flags F] [inner_map MAP] [dev NAME]`:
 * bpftool's keywords, in any order, each at most once. The map lives as long as its pin.
 */
import { BpfMap } from '../../map/bpf-map.js';
import type { MapSpec } from '../../map/spec.js';
import { MapType, mapTypeNames } from '../../sys/constants.js';
import type { Command, CommandContext } from '../command.js';
import { type Args, type MapRef, OperationError, UsageError, isPrefix, parseMapRef, parseU32, parseUnsigned } from '../grammar.js';
import { openMap } from '../map-ref.js';

/** The keywords of `create`, in bpftool's order (which decides what a prefix selects). */
const CREATE_KEYWORDS = ['type', 'key', 'value', 'entries', 'name', 'flags', 'inner_map', 'dev', 'offload_dev', 'map_extra'] as const;
type CreateKeyword = (typeof CREATE_KEYWORDS)[number];

/** A map type name or number, as bpftool's `type` keyword takes it. */
function parseMapType(word: string): number {
  const byName = Object.hasOwn(MapType, word) ? (MapType as unknown as Record<string, number | undefined>)[word] : undefined;
  if (typeof byName === 'number') return byName;
  if (/^[0-9]/.test(word)) {
    const type = parseU32(word, 'map type');
    if (type === 0) throw new UsageError(`map type: 0 is not a map type (unspec); expected one of ${mapTypeNames().join(', ')} or a number`);
    return type;
  }
  throw new UsageError(`invalid map type '${word}': expected one of ${mapTypeNames().join(', ')} or a number`);
}

interface CreateRequest {
  type?: number;
  keySize?: number;
  valueSize?: number;
  maxEntries?: number;
  name?: string;
  flags?: number;
  innerMap?: MapRef;
  mapExtra?: bigint;
}

function parseCreate(args: Args): CreateRequest {
  const request: CreateRequest = {};
  const seen = new Set<CreateKeyword>();
  while (!args.done) {
    const word = args.next('keyword');
    const keyword = CREATE_KEYWORDS.find((candidate) => isPrefix(word, candidate));
    if (keyword === undefined) throw new UsageError(`unknown create keyword '${word}'`);
    if (seen.has(keyword)) throw new UsageError(`${keyword} specified multiple times`);
    seen.add(keyword);
    switch (keyword) {
      case 'type':
        request.type = parseMapType(args.next('map type'));
        break;
      case 'key':
        request.keySize = parseU32(args.next('key size'), 'key size');
        break;
      case 'value':
        request.valueSize = parseU32(args.next('value size'), 'value size');
        break;
      case 'entries':
        request.maxEntries = parseU32(args.next('max entries'), 'max entries');
        break;
      case 'name':
        request.name = args.next('map name');
        break;
      case 'flags':
        request.flags = parseU32(args.next('flags'), 'flags');
        break;
      case 'inner_map':
        request.innerMap = parseMapRef(args);
        break;
      case 'map_extra':
        request.mapExtra = parseUnsigned(args.next('map_extra'), 'map_extra', 0xffffffffffffffffn);
        break;
      case 'dev':
      case 'offload_dev':
        args.next('device name');
        throw new OperationError('offloaded maps (dev NAME) are not supported by bpfmap');
    }
  }
  if (request.type === undefined) throw new UsageError('map type not specified');
  if (request.name === undefined) throw new UsageError('map name not specified');
  return request;
}

function run({ args, options, out }: CommandContext): void {
  const path = args.next('pin path');
  const request = parseCreate(args);
  options.end();
  using inner = request.innerMap === undefined ? undefined : openMap(request.innerMap, { readOnly: true });
  const spec: MapSpec = {
    type: request.type as number,
    keySize: request.keySize ?? 0,
    valueSize: request.valueSize ?? 0,
    maxEntries: request.maxEntries ?? 0,
    name: request.name as string,
    flags: request.flags ?? 0,
    ...(inner !== undefined ? { innerMap: inner } : {}),
    ...(request.mapExtra !== undefined ? { mapExtra: request.mapExtra } : {}),
  };
  using map = BpfMap.create(spec);
  // The map exists only while something holds it: if the pin fails, closing it destroys it.
  map.pin(path);
  out.done();
}

/** `create PATH type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]`. */
export const createCommand: Command = { run };
