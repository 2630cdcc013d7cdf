/**
 * Which libbpf-tools tool keeps a histogram map, and how that tool heads each histogram it
 * prints, with the names it resolves: softirqs' vector names (the kernel's, from
 * /proc/softirqs), biolatency's disk names (from the device number, through
 * /sys/dev/block/MAJ:MIN/uevent) and request flags (-F: `flags = Sync-Write`), runqlat's and
 * cpudist's `pid = N comm` / `tid = N comm` / `pidns = N comm`, hardirqs' `hardirq = NAME`. The tool and its options come from the
 * `.rodata` of the programs that use the map: libbpf names it after the object (`runqlat_.rodata`,
 * `biolaten.rodata`) and it holds the tool's settings (`targ_per_thread`, `targ_ms`, ...).
 */
import { readFileSync } from 'node:fs';
import { formatBtfValue } from '../codec/btf/format.js';
import { MapType } from '../sys/constants.js';
import { BpfMap } from './bpf-map.js';
import { loadMapBtf } from './btf-map.js';
import type { Histogram } from './histogram.js';
import { mapsOfProgram, programsUsingMap } from './map-users.js';

/** How a libbpf-tools tool prints the histograms of one of its maps. */
export interface HistogramTool {
  /** The tool: `runqlat`, `cpudist`, `biolatency`, `softirqs`, `hardirqs`. */
  readonly tool: string;
  /** The `section` to read the map with (`readHistograms`) for the tool's split, if any. */
  readonly section: string | undefined;
  /** The unit the tool labels values with: `usecs`, `msecs` or `nsecs`. */
  readonly unit: string;
  /** True when the tool leaves out histograms with no counts (softirqs). */
  readonly skipEmpty: boolean;
  /**
   * The text the tool prints before a histogram: its header, with the tool's own blank lines
   * and trailing tab (runqlat -P: `"\npid = 42 sh"`; softirqs: `"softirq = timer"`); empty
   * when it prints none.
   */
  header(histogram: Histogram): string;
  /** The text the tool prints after a histogram (softirqs: a blank line). */
  readonly trailer: string;
  /** The header as one line without blank lines or tabs (for JSON): `disk = vda`. */
  title(histogram: Histogram): string | undefined;
}

/** The `.rodata` variables of the programs using `map`, and the object name libbpf gave it. */
function toolSettings(map: BpfMap): { object: string; settings: Record<string, unknown> } | undefined {
  const [programId] = programsUsingMap(map);
  if (programId === undefined) return undefined;
  for (const mapId of mapsOfProgram(programId)) {
    let info;
    try {
      info = BpfMap.infoById(mapId);
    } catch {
      continue;
    }
    if (!info.name.endsWith('.rodata') || info.btfValueTypeId === 0 || info.type !== MapType.array) continue;
    const btf = loadMapBtf(info);
    if (btf === undefined) continue;
    using rodata = BpfMap.fromId(mapId, { readOnly: true });
    const value = rodata.get(new Uint8Array(4));
    if (value === undefined) continue;
    const section = formatBtfValue(btf, info.btfValueTypeId, value) as Record<string, Array<Record<string, unknown>>>;
    const settings: Record<string, unknown> = {};
    for (const variables of Object.values(section)) for (const variable of variables) Object.assign(settings, variable);
    return { object: info.name.slice(0, -'.rodata'.length).replace(/_+$/, ''), settings };
  }
  return undefined;
}

/** The kernel's softirq names in vector order, lowercased as softirqs prints them (`net_rx`). */
export function softirqNames(): string[] {
  try {
    return readFileSync('/proc/softirqs', 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/)[0] ?? '').filter((name) => name.endsWith(':')).map((name) => name.slice(0, -1).toLowerCase());
  } catch {
    return [];
  }
}

/**
 * The name of the block device with kernel device number `dev` (MKDEV(major, minor) with 20
 * minor bits, as biolatency keeps it), from /sys/dev/block/MAJ:MIN/uevent; `Unknown` (what
 * biolatency prints) when there is none.
 */
export function diskName(dev: number | bigint): string {
  const value = BigInt(dev);
  const major = value >> 20n;
  const minor = value & 0xfffffn;
  try {
    const uevent = readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8');
    return /^DEVNAME=(.*)$/m.exec(uevent)?.[1] ?? 'Unknown';
  } catch {
    return 'Unknown';
  }
}

/**
 * biolatency's request flag bits, in the order it prints them, at the positions its own copy of
 * the kernel's blk_types.h gives them (libbpf-tools/blk_types.h: an 8-bit operation, then the
 * flags from bit 8). biolatency prints these names whatever the running kernel's layout is, and
 * so does this: it names what the tool names.
 */
const BIOLATENCY_FLAGS: ReadonlyArray<readonly [bit: number, name: string]> = [
  [21, 'NoWait-'], [20, 'Background-'], [19, 'ReadAhead-'], [18, 'PreFlush-'], [17, 'FUA-'], [16, 'Integrity-'],
  [15, 'Idle-'], [14, 'NoMerge-'], [13, 'Priority-'], [12, 'Metadata-'], [11, 'Sync-'],
];

/** biolatency's operation names by REQ_OP_* number; the gaps are holes in its table. */
const BIOLATENCY_OPS: ReadonlyMap<number, string> = new Map([
  [0, 'Read'], [1, 'Write'], [2, 'Flush'], [3, 'Discard'], [5, 'SecureErase'], [6, 'ZoneReset'], [7, 'WriteSame'],
  [8, 'ZoneResetAll'], [9, 'WriteZeroes'], [10, 'ZoneOpen'], [11, 'ZoneClose'], [12, 'ZoneFinish'],
  [32, 'SCSIIn'], [33, 'SCSIOut'], [34, 'DrvIn'], [35, 'DrvOut'],
]);

/**
 * What biolatency -F prints for a request's `cmd_flags` (`Sync-Write`, `NoWait-Read`): its flag
 * names, then the operation's. An operation past its table is `Unknown`; a hole inside the table
 * is a null string in the tool, which glibc's printf prints as `(null)`.
 */
export function requestFlagsName(cmdFlags: number): string {
  let name = '';
  for (const [bit, flag] of BIOLATENCY_FLAGS) if ((cmdFlags >>> bit) & 1) name += flag;
  const op = cmdFlags & 0xff;
  return name + (op > 35 ? 'Unknown' : BIOLATENCY_OPS.get(op) ?? '(null)');
}

function unitOf(settings: Record<string, unknown>): string {
  if (settings.targ_ms === true) return 'msecs';
  if (settings.targ_ns === true) return 'nsecs';
  return 'usecs';
}

function commOf(histogram: Histogram): string {
  const comm = histogram.fields.comm;
  return typeof comm === 'string' ? comm : '';
}

/**
 * The libbpf-tools tool that keeps `map` and how it prints it, or undefined when the map is not
 * a histogram map of a tool this knows (or no program uses it any more). Needs CAP_SYS_ADMIN
 * (it walks the loaded programs).
 *
 * @example
 * const tool = histogramTool(map);
 * const { histograms } = readHistograms(map, tool?.section !== undefined ? { section: tool.section } : {});
 * for (const h of histograms) console.log(tool?.header(h) ?? '', ...);
 */
export function histogramTool(map: BpfMap): HistogramTool | undefined {
  const found = toolSettings(map);
  if (found === undefined) return undefined;
  const { object, settings } = found;
  const unit = unitOf(settings);
  const plain = { unit, skipEmpty: false, trailer: '' };
  switch (object) {
    case 'runqlat':
    case 'cpudist': {
      if (map.name !== 'hists') return undefined;
      const section = settings.targ_per_process === true ? 'pid' : settings.targ_per_thread === true ? 'tid' : settings.targ_per_pidns === true ? 'pidns' : undefined;
      const title = (histogram: Histogram): string | undefined => (section === undefined ? undefined : `${section} = ${String(histogram.key?.[section])} ${commOf(histogram)}`);
      return { tool: object, section, ...plain, title, header: (histogram) => (section === undefined ? '' : `\n${title(histogram)}`) };
    }
    case 'softirqs': {
      if (!map.name.endsWith('.bss')) return undefined;
      const names = softirqNames();
      const title = (histogram: Histogram): string => {
        const vector = Number(histogram.key?.softirq);
        return `softirq = ${names[vector] ?? vector}`;
      };
      return { tool: object, section: 'softirq', unit, skipEmpty: true, trailer: '\n', title, header: title };
    }
    case 'hardirqs': {
      if (map.name !== 'infos') return undefined;
      const title = (histogram: Histogram): string => `${histogram.key?.cpu !== undefined ? `cpu = ${String(histogram.key.cpu)} ` : ''}hardirq = ${String(histogram.key?.name)}`;
      return { tool: object, section: undefined, ...plain, title, header: title };
    }
    case 'biolaten': {
      if (map.name !== 'hists') return undefined;
      const perDisk = settings.targ_per_disk === true;
      const perFlag = settings.targ_per_flag === true;
      // -D alone splits by device; -F alone by request flags; both: one histogram per key.
      const section = perDisk && !perFlag ? 'dev' : perFlag && !perDisk ? 'cmd_flags' : undefined;
      const disk = (histogram: Histogram): string => {
        const dev = histogram.key?.dev;
        return `disk = ${typeof dev === 'number' || typeof dev === 'bigint' ? diskName(dev) : 'Unknown'}`;
      };
      const flags = (histogram: Histogram): string => {
        const cmdFlags = histogram.key?.cmd_flags;
        return `flags = ${typeof cmdFlags === 'number' || typeof cmdFlags === 'bigint' ? requestFlagsName(Number(cmdFlags)) : 'Unknown'}`;
      };
      const title = (histogram: Histogram): string | undefined => {
        const parts = [...(perDisk ? [disk(histogram)] : []), ...(perFlag ? [flags(histogram)] : [])];
        return parts.length === 0 ? undefined : parts.join(' ');
      };
      // biolatency prints `\ndisk = NAME\t` with -D, then `flags = NAMES` with -F, then a newline.
      const header = (histogram: Histogram): string => {
        if (!perDisk && !perFlag) return '\n';
        return `${perDisk ? `\n${disk(histogram)}\t` : ''}${perFlag ? flags(histogram) : ''}`;
      };
      return { tool: 'biolatency', section, ...plain, title, header };
    }
    default:
      return undefined;
  }
}
