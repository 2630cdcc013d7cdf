/**
 * What a command is, and the helpers several commands share: the entry printer of a map and
 * the parsing of keys and values.
 */
import type { BpfMap } from '../map/bpf-map.js';
import { possibleCpus } from '../sys/cpus.js';
import { EntryPrinter, type EntryFormatter, type EntryShape } from './entries.js';
import { type Args, type CommandOptions, type GlobalOptions, parseBytes } from './grammar.js';
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

/** One `bpfmap` command. */
export interface Command {
  /** The command word (any prefix selects it, in table order, as in bpftool). */
  readonly name: string;
  /** The usage lines for `help`. */
  readonly usage: string;
  /** Runs the command. Throws `UsageError` (exit 2) or any operation error (exit 1). */
  run(context: CommandContext): void | Promise<void>;
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

/** Parses `key DATA` for a map (the `key` keyword included). */
export function parseKey(args: Args, map: BpfMap): Uint8Array {
  args.expect('key');
  return parseBytes(args, 'key', map.keySize);
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

/** Parses `value DATA` for a map (the `value` keyword included): one CPU's value. */
export function parseValue(args: Args, map: BpfMap): Uint8Array {
  args.expect('value');
  return parseBytes(args, 'value', map.valueSize);
}
