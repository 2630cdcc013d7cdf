/**
 * The `bpfmap` command line (main.ts is the executable entry point): bpftool's `map` grammar with exact, typed, fast output.
 *
 * Picks the command (any prefix of its name, first match in bpftool's order), runs it, and turns
 * failures into one line and an exit status: 2 for usage errors, 1 for failed operations. With
 * `-j`, a failure prints bpftool's `{"error":"..."}` on stdout instead of the line on stderr.
 */
import { readFileSync } from 'node:fs';
import { packageFile } from '../package-root.js';
import { BpfError } from '../sys/errors.js';
import type { CommandEntry } from './command.js';
import { Args, OperationError, UsageError, isPrefix, parseCommandLine } from './grammar.js';
import { Output, toJson } from './output.js';

/**
 * The commands in bpftool's order (which decides what a prefix selects), then bpfmap's own.
 * Each loads on use, so a command starts without loading the others (BTF, watch, ...).
 */
export const commands: readonly CommandEntry[] = [
  { name: 'show', usage: 'show   [MAP]', load: async () => (await import('./commands/show.js')).showCommand },
  { name: 'list', usage: 'list   [MAP]', load: async () => (await import('./commands/show.js')).listCommand },
  {
    name: 'help',
    usage: 'help   [COMMAND]',
    load: async () => {
      const { commandHelpText, usageText } = await helpTexts();
      return {
        run({ args, options, out }) {
          options.end();
          const topic = args.done ? undefined : commandNamed(args.next('command'));
          args.end();
          out.line(topic === undefined ? usageText(commands) : commandHelpText(topic));
        },
      };
    },
  },
  { name: 'dump', usage: 'dump   MAP [--format FIELD=FORMAT[,...]] [--net]', load: async () => (await import('./commands/dump.js')).dumpCommand },
  { name: 'update', usage: 'update MAP key DATA value VALUE [any|exist|noexist]', load: async () => (await import('./commands/update.js')).updateCommand },
  { name: 'lookup', usage: 'lookup MAP key DATA [--format FIELD=FORMAT[,...]] [--net]', load: async () => (await import('./commands/lookup.js')).lookupCommand },
  { name: 'getnext', usage: 'getnext MAP [key DATA]', load: async () => (await import('./commands/getnext.js')).getnextCommand },
  { name: 'delete', usage: 'delete MAP key DATA', load: async () => (await import('./commands/delete.js')).deleteCommand },
  { name: 'pin', usage: 'pin    MAP PATH', load: async () => (await import('./commands/pin.js')).pinCommand },
  { name: 'event_pipe', usage: 'event_pipe MAP [cpu N index M]', load: async () => (await import('./commands/event-pipe.js')).eventPipeCommand },
  {
    name: 'create',
    usage: 'create PATH type TYPE key KEY_SIZE value VALUE_SIZE entries MAX_ENTRIES name NAME [flags FLAGS] [inner_map MAP] [map_extra N]',
    load: async () => (await import('./commands/create.js')).createCommand,
  },
  { name: 'peek', usage: 'peek   MAP', load: async () => (await import('./commands/queue.js')).peekCommand },
  { name: 'push', usage: 'push   MAP value DATA', load: async () => (await import('./commands/queue.js')).pushCommand },
  { name: 'enqueue', usage: 'enqueue MAP value DATA', load: async () => (await import('./commands/queue.js')).enqueueCommand },
  { name: 'pop', usage: 'pop    MAP', load: async () => (await import('./commands/queue.js')).popCommand },
  { name: 'dequeue', usage: 'dequeue MAP', load: async () => (await import('./commands/queue.js')).dequeueCommand },
  { name: 'freeze', usage: 'freeze MAP', load: async () => (await import('./commands/freeze.js')).freezeCommand },
  { name: 'btf', usage: 'btf    MAP', load: async () => (await import('./commands/btf.js')).btfCommand },
  { name: 'events', usage: 'events MAP [--count N] [--timeout SECONDS] [--force] [--type NAME [--btf FILE] [--format FIELD=FORMAT[,...]] [--net]]', load: async () => (await import('./commands/events.js')).eventsCommand },
  { name: 'watch', usage: 'watch  MAP [--interval SECONDS] [--per-cpu] [--format FIELD=FORMAT[,...]] [--net]', load: async () => (await import('./commands/watch.js')).watchCommand },
  { name: 'hist', usage: 'hist   MAP [--layout libbpf|bcc|bpftrace|linear|lhist [--min N --max N --step N]] [--section FIELD[,FIELD]] [--unit NAME]', load: async () => (await import('./commands/hist.js')).histCommand },
  {
    name: 'serve',
    usage: 'serve  [--listen HOST:PORT] [--config FILE] [--web-config FILE] [--allow-write] [--force] [--per-cpu] [--series-limit N] [MAP ... | --all]',
    load: async () => (await import('./commands/serve.js')).serveCommand,
  },
  { name: 'demo', usage: 'demo', load: async () => (await import('./commands/demo.js')).demoCommand },
  { name: 'gen', usage: 'gen    OBJECT [name NAME] [import MODULE] [path]', load: async () => (await import('./commands/gen.js')).genCommand },
  { name: 'load', usage: 'load   OBJECT PATH [pinmaps MAP_DIR] [autoattach]', load: async () => (await import('./commands/load.js')).loadCommand },
  { name: 'prog', usage: 'prog show [PROG]', load: async () => (await import('./commands/prog.js')).progCommand },
];

/** The help and usage texts, loaded only when shown: a command that runs never needs them. */
const helpTexts = async (): Promise<typeof import('./commands/help.js')> => import('./commands/help.js');

/** The command a word selects (any prefix, first match in table order). */
function commandNamed(word: string): CommandEntry {
  const entry = commands.find((candidate) => isPrefix(word, candidate.name));
  if (entry === undefined) throw new UsageError(`unknown command '${word}' (see 'bpfmap help')`);
  return entry;
}

/** Exit statuses. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

function version(): string {
  try {
    const manifest = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version?: string };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** True for the library's argument errors (TypeError/RangeError with an ERR_BPFMAP_* code). */
function isArgumentError(error: unknown): error is Error & { code: string } {
  return (error instanceof TypeError || error instanceof RangeError) && typeof (error as { code?: unknown }).code === 'string';
}

/** The exit status for an error: usage mistakes 2, everything else 1. */
function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.usage;
  // A map spec the library rejects before any syscall is a mistake in the command line.
  if (isArgumentError(error) && error.code === 'ERR_BPFMAP_SPEC') return ExitCode.usage;
  return ExitCode.failed;
}

/** One line saying what went wrong. */
function messageOf(error: unknown): string {
  if (error instanceof BpfError || error instanceof Error) return error.message.replace(/\s*\n\s*/g, ' ');
  return String(error);
}

/**
 * Runs `bpfmap` with the given arguments (without `node` and the script) and returns the exit
 * status. Output goes to process.stdout / process.stderr.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let out = new Output(argv.some((word) => /^-[A-Za-z]*[jp]|^--(json|pretty)$/.test(word)), false);
  try {
    const commandLine = parseCommandLine(argv);
    out = new Output(commandLine.global.json, commandLine.global.pretty);
    if (commandLine.global.version) {
      out.line(out.json ? toJson({ version: version() }) : `bpfmap v${version()}`);
      return ExitCode.ok;
    }
    const [name, ...rest] = commandLine.words;
    if (name === undefined) {
      const { shortUsage, usageText } = await helpTexts();
      if (!commandLine.global.help) throw new UsageError(shortUsage(commands));
      out.line(usageText(commands));
      return ExitCode.ok;
    }
    const entry = commandNamed(name);
    // `bpfmap COMMAND help`, as `bpftool map help`: the word alone after a command asks for its help.
    if (commandLine.global.help || (rest.length === 1 && rest[0] === 'help')) {
      out.line((await helpTexts()).commandHelpText(entry));
      return ExitCode.ok;
    }
    const command = await entry.load();
    await command.run({
      args: new Args(rest),
      options: commandLine.options,
      global: commandLine.global,
      out,
      // Read on use: process.stderr loads Node's stream modules, which most commands never need.
      get stderr() {
        return process.stderr;
      },
    });
    return ExitCode.ok;
  } catch (error) {
    // A closed pipe (`bpfmap dump ... | head`) ends the output; it is not a failure.
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return ExitCode.ok;
    if (process.env.BPFMAP_DEBUG && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
    if (out.json) {
      const document = error instanceof OperationError && error.jsonDocument !== undefined ? error.jsonDocument : { error: messageOf(error) };
      out.line(toJson(document));
    }
    else process.stderr.write(`Error: ${messageOf(error)}\n`);
    return exitCodeOf(error);
  } finally {
    try {
      out.flush();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
    }
  }
}

