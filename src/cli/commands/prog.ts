/**
 * `prog show [PROG]`: loaded programs, in bpftool's `prog show` shapes (`-j`: the same fields in
 * the same order; text: bpftool's three lines per program).
 */
import { readFileSync } from 'node:fs';
import type { Command, CommandContext } from '../command.js';
import { OperationError, UsageError } from '../grammar.js';
import { openProgram, parseProgRef } from '../prog-ref.js';
import { BpfProgram } from '../../objects/program.js';
import { readProgramInfo, type ProgramInfo } from '../../objects/program-info.js';

/** Seconds since boot now (`CLOCK_BOOTTIME`, which is what /proc/uptime counts). */
function uptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** bpftool's `loaded_at`: the wall-clock second the program was loaded. */
function loadedAt(info: ProgramInfo, bootEpoch: number): number {
  return Math.floor(bootEpoch + Number(info.loadTime) / 1e9);
}

/** One program as `bpftool -j prog show` prints it. */
export function programJson(info: ProgramInfo, bootEpoch: number): Record<string, unknown> {
  return {
    id: info.id,
    type: info.typeName,
    name: info.name,
    tag: info.tag,
    gpl_compatible: info.gplCompatible,
    ...(info.runTimeNs > 0n || info.runCount > 0n ? { run_time_ns: info.runTimeNs, run_cnt: info.runCount } : {}),
    loaded_at: loadedAt(info, bootEpoch),
    uid: info.createdByUid,
    bytes_xlated: info.xlatedSize,
    jited: info.jitedSize > 0,
    ...(info.jitedSize > 0 ? { bytes_jited: info.jitedSize } : {}),
    ...(info.memlock !== undefined ? { bytes_memlock: info.memlock } : {}),
    ...(info.mapIds.length > 0 ? { map_ids: info.mapIds } : {}),
    ...(info.btfId ? { btf_id: info.btfId } : {}),
  };
}

function isoSecond(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19)}+0000`;
}

/** bpftool's text lines for one program. */
export function programText(info: ProgramInfo, bootEpoch: number): string[] {
  const lines = [`${info.id}: ${info.typeName}  name ${info.name}  tag ${info.tag}${info.gplCompatible ? '  gpl' : ''}${info.runTimeNs > 0n || info.runCount > 0n ? ` run_time_ns ${info.runTimeNs} run_cnt ${info.runCount}` : ''}`];
  lines.push(`\tloaded_at ${isoSecond(loadedAt(info, bootEpoch))}  uid ${info.createdByUid}`);
  let sizes = `\txlated ${info.xlatedSize}B  ${info.jitedSize > 0 ? `jited ${info.jitedSize}B` : 'not jited'}`;
  if (info.memlock !== undefined) sizes += `  memlock ${info.memlock}B`;
  if (info.mapIds.length > 0) sizes += `  map_ids ${info.mapIds.join(',')}`;
  lines.push(sizes);
  if (info.btfId) lines.push(`\tbtf_id ${info.btfId}`);
  return lines;
}

function infosFor(context: CommandContext): ProgramInfo[] {
  const { args } = context;
  if (args.done) return BpfProgram.list();
  const ref = parseProgRef(args);
  args.end();
  if (ref.kind === 'tag' || ref.kind === 'name') {
    // bpftool shows every program with that tag or name.
    const matches = BpfProgram.list().filter((info) => (ref.kind === 'tag' ? info.tag === ref.tag : info.name === ref.name));
    if (matches.length === 0) throw new OperationError(`no program with ${ref.kind} ${ref.kind === 'tag' ? ref.tag : ref.name}`);
    return matches;
  }
  using program = openProgram(ref);
  return [readProgramInfo(program.handle)];
}

function run(context: CommandContext): void {
  const { args, options, out } = context;
  const sub = args.next("'show'");
  if (sub !== 'show' && sub !== 'list') throw new UsageError(`prog: unknown subcommand '${sub}' (expected 'show')`);
  const infos = infosFor(context);
  options.end();
  const bootEpoch = Date.now() / 1000 - uptimeSeconds();
  if (out.json) {
    // As bpftool: one program named by PROG prints as an object, anything else as an array.
    const named = args.words.length > 1;
    out.document(named && infos.length === 1 ? programJson(infos[0] as ProgramInfo, bootEpoch) : infos.map((info) => programJson(info, bootEpoch)));
    return;
  }
  for (const info of infos) for (const line of programText(info, bootEpoch)) out.line(line);
}

/** `prog show [PROG]`. */
export const progCommand: Command = { run };
