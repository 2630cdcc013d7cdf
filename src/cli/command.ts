/**
 * What a command is, and the helpers several commands share: the entry printer of a map and
 * the parsing of keys and values.
 */
import type { BpfMap } from '../map/bpf-map.js';
import { possibleCpus } from '../sys/cpus.js';
import { MapType, type UpdateFlag } from '../sys/constants.js';
import { EntryPrinter, type EntryFormatter, type EntryShape } from './entries.js';
import type { Codec } from '../codec/codec.js';
import { type Args, type CommandOptions, type GlobalOptions, UsageError, parseBytes } from './grammar.js';
import type { MapTypes } from './formatter.js';
import { DecodedTable } from './table.js';
import { looksLikeJsonDocument, looksLikeJsonNumber, parseJsonInput } from './json-input.js';
import type { Output } from './output.js';

/** Everything a command runs with. */
export interface CommandContext {
  /** The words after the command name. */
  readonly args: Args;
  /** Long options (`--interval 2`); the command takes the ones it knows. */
  readonly options: CommandOptions;
  /** Global options (`-j`, `-p`, `-f`). */
  readonly global: GlobalOptions;
  /** Where results go (stdout). */
  readonly out: Output;
  /** Where progress and diagnostics go. */
  readonly stderr: NodeJS.WriteStream;
}

/** One `bpfmap` command: what its module exports. */
export interface Command {
  /** Runs the command. Throws `UsageError` (exit 2) or any operation error (exit 1). */
  run(context: CommandContext): void | Promise<void>;
}

/** A command in the table: its word, its usage, and how to load it (only the one that runs loads). */
export interface CommandEntry {
  /** The command word (any prefix selects it, in table order, as in bpftool). */
  readonly name: string;
  /** The usage line for `help`. */
  readonly usage: string;
  /** Loads the command's module. */
  readonly load: () => Promise<Command>;
}

/** How a map's entries sit in lookup and batch buffers. */
export function entryShapeOf(map: BpfMap): EntryShape {
  const cpus = map.perCpu ? possibleCpus() : 1;
  return {
    keySize: map.keySize,
    valueSize: map.valueSize,
    perCpu: map.perCpu,
    cpus,
    cpuStride: map.perCpu ? map.valueBufferSize / cpus : map.valueSize,
  };
}

/** The entry printer for a map, with `formatted` output when a formatter decodes its types. */
export function entryPrinterOf(map: BpfMap, out: Output, formatter?: EntryFormatter): EntryPrinter {
  return new EntryPrinter(entryShapeOf(map), formatter, out.indent);
}

/**
 * Parses `DATA` of `size` bytes, or a JSON key/value when the map's BTF has a type for it: a word
 * starting with `{`, `[` or `"`, or a lone number (one not followed by more bytes). The JSON is
 * encoded through the type's codec; bigints beyond 2^53 stay exact.
 */
export function parseData(args: Args, what: 'key' | 'value', size: number, codec: Codec<unknown> | undefined): Uint8Array {
  const word = args.peek();
  const following = args.peekAhead(1);
  const loneNumber = word !== undefined && looksLikeJsonNumber(word) && codec !== undefined && (following === undefined || !looksLikeJsonNumber(following));
  if (word === undefined || !(looksLikeJsonDocument(word) || loneNumber)) return parseBytes(args, what, size);
  if (codec === undefined) throw new UsageError(`${what} given as JSON, but the map has no BTF type for its ${what}s: give bytes`);
  const value = parseJsonInput(args.next(what), what);
  const bytes = new Uint8Array(size);
  try {
    codec.encode(value, bytes, 0);
  } catch (error) {
    throw new UsageError(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return bytes;
}

/** Parses `key DATA` for a map (the `key` keyword included). */
export function parseKey(args: Args, map: BpfMap, types?: MapTypes): Uint8Array {
  args.expect('key');
  return parseData(args, 'key', map.keySize, types?.keyCodec);
}

/** Parses `value DATA` for a map (the `value` keyword included): one CPU's value. */
export function parseValue(args: Args, map: BpfMap, types?: MapTypes): Uint8Array {
  args.expect('value');
  return parseData(args, 'value', map.valueSize, types?.valueCodec);
}

/**
 * One value as `map.set`/`map.push` take it: per-CPU maps get the same value on every possible
 * CPU, as bpftool's update does. (With raw codecs a per-CPU map's value is an array of buffers,
 * which its `Uint8Array` type parameter does not say: hence the cast.)
 */
export function storedValue(map: BpfMap, value: Uint8Array): Uint8Array {
  if (!map.perCpu) return value;
  return Array.from({ length: possibleCpus() }, () => value) as unknown as Uint8Array;
}

/**
 * Pushes a value onto a queue or stack, or adds it to a bloom filter (bpftool's `push`, and
 * `update` without a key). The kernel takes no flag but `any` for a bloom filter.
 */
export function pushValue(map: BpfMap, value: Uint8Array, flag: UpdateFlag = 'any'): void {
  if (map.type === MapType.bloom_filter) {
    if (flag !== 'any') throw new UsageError(`a bloom_filter update takes no flag but 'any', got '${flag}'`);
    map.add(value);
    return;
  }
  map.push(storedValue(map, value), flag);
}

/** Prints one entry (lookup, peek, pop): bpftool's JSON, a decoded table row, or bpftool's hex text. */
export function printEntry(out: Output, printer: EntryPrinter, keys: Uint8Array, values: Uint8Array): void {
  if (out.json) {
    out.document(printer.object(keys, 0, values, 0));
    return;
  }
  const formatted = printer.formatted(keys, 0, values, 0);
  if (formatted === undefined) {
    out.line(printer.text(keys, 0, values, 0));
    return;
  }
  const table = new DecodedTable(out);
  table.add(formatted);
  table.finish();
}
