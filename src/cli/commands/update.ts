/**
 * `update MAP key DATA value VALUE [any|exist|noexist]`. Everything is parsed before the one
 * write, so a mistake changes nothing. Per-CPU maps get the value on every CPU; maps of maps
 * take `value MAP` (the inner map); prog_array takes `value PROG` (a program by id, pin, tag or
 * name); queues, stacks and bloom filters take `value DATA` alone (a push, or a bloom add), as
 * in bpftool.
 */
import { isKeylessType, MapType, type UpdateFlag } from '../../sys/constants.js';
import { parseKey, parseValue, pushValue, storedValue, type Command, type CommandContext } from '../command.js';
import { type Args, UsageError, isPrefix, parseMapRef } from '../grammar.js';
import { openMap } from '../map-ref.js';
import { openProgram, parseProgRef } from '../prog-ref.js';
import { mapTypesOf } from '../formatter.js';

const UPDATE_FLAGS: readonly UpdateFlag[] = ['any', 'exist', 'noexist'];

/** Parses the optional `any|exist|noexist` (bpftool's order decides a prefix like `e`). */
function parseUpdateFlag(args: Args): UpdateFlag {
  const word = args.peek();
  if (word === undefined) return 'any';
  const flag = UPDATE_FLAGS.find((candidate) => isPrefix(word, candidate));
  if (flag === undefined) throw new UsageError(`expected an update flag (any, exist or noexist), got '${word}'`);
  args.next('update flag');
  return flag;
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  options.end();
  using map = openMap(ref);
  const types = await mapTypesOf(map);
  if (isKeylessType(map.type)) {
    // bpftool's `update MAP value DATA` without a key: a push, or a bloom filter's add.
    const value = parseValue(args, map, types);
    const flag = parseUpdateFlag(args);
    args.end();
    pushValue(map, value, flag);
    out.done();
    return;
  }
  const key = parseKey(args, map, types);
  if (map.type === MapType.array_of_maps || map.type === MapType.hash_of_maps) {
    args.expect('value');
    const innerRef = parseMapRef(args);
    const flag = parseUpdateFlag(args);
    args.end();
    using inner = openMap(innerRef, { readOnly: true });
    map.setInnerMap(key, inner, flag);
    out.done();
    return;
  }
  if (map.type === MapType.prog_array) {
    args.expect('value');
    const progRef = parseProgRef(args);
    const flag = parseUpdateFlag(args);
    args.end();
    using program = openProgram(progRef);
    map.setFd(key, program, flag);
    out.done();
    return;
  }
  const value = parseValue(args, map, types);
  const flag = parseUpdateFlag(args);
  args.end();
  map.set(key, storedValue(map, value), flag);
  out.done();
}

/** `update MAP key DATA value VALUE [UPDATE_FLAGS]`. */
export const updateCommand: Command = { run };
