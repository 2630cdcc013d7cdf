/**
 * The `bpfmap` command line (main.ts is the executable entry point): bpftool's `map` grammar with exact, typed, fast output.
 *
 * Picks the command (any prefix of its name, first match in bpftool's order), runs it, and turns
 * failures into one line and an exit status: 2 for usage errors, 1 for failed operations. With
 * `-j`, a failure prints bpftool's `{"error":"..."}` on stdout instead of the line on stderr.
 */
import { readFileSync } from 'node:fs';
import { BpfError } from '../sys/errors.js';
import type { Command } from './command.js';
import { createCommand } from './commands/create.js';
import { deleteCommand } from './commands/delete.js';
import { demoCommand } from './commands/demo.js';
import { dumpCommand } from './commands/dump.js';
import { freezeCommand } from './commands/freeze.js';
import { getnextCommand } from './commands/getnext.js';
import { helpCommand, usageText } from './commands/help.js';
import { lookupCommand } from './commands/lookup.js';
import { pinCommand } from './commands/pin.js';
import { dequeueCommand, enqueueCommand, peekCommand, popCommand, pushCommand } from './commands/queue.js';
import { listCommand, showCommand } from './commands/show.js';
import { updateCommand } from './commands/update.js';
import { Args, OperationError, UsageError, isPrefix, parseCommandLine } from './grammar.js';
import { Output, toJson } from './output.js';

/** The commands in bpftool's order, then bpfmap's own. */
export const commands: readonly Command[] = [
  showCommand,
  listCommand,
  helpCommand(() => commands),
  dumpCommand,
  updateCommand,
  lookupCommand,
  getnextCommand,
  deleteCommand,
  pinCommand,
  createCommand,
  peekCommand,
  pushCommand,
  enqueueCommand,
  popCommand,
  dequeueCommand,
  freezeCommand,
  demoCommand,
];

/** Exit statuses. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

function version(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
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
    if (commandLine.global.help || name === undefined) {
      process.stdout.write(`${usageText(commands)}\n`);
      return name === undefined && !commandLine.global.help ? ExitCode.usage : ExitCode.ok;
    }
    const command = commands.find((candidate) => isPrefix(name, candidate.name));
    if (command === undefined) throw new UsageError(`unknown command '${name}' (see 'bpfmap help')`);
    await command.run({ args: new Args(rest), options: commandLine.options, global: commandLine.global, out, stderr: process.stderr });
    return ExitCode.ok;
  } catch (error) {
    if (process.env.BPFMAP_DEBUG && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
    if (out.json) {
      const document = error instanceof OperationError && error.jsonDocument !== undefined ? error.jsonDocument : { error: messageOf(error) };
      out.line(toJson(document));
    }
    else process.stderr.write(`Error: ${messageOf(error)}\n`);
    return exitCodeOf(error);
  } finally {
    out.flush();
  }
}

