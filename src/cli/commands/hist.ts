/**
 * `hist MAP [--layout L] [--section FIELD] [--unit NAME]`: the histograms a map holds, drawn as
 * the tool that made it draws them (libbpf-tools, bcc, bpftrace), or as data with `-j`. Where
 * the counts sit and what a slot holds come from the library (`readHistograms`): libbpf-tools'
 * `struct hist { slots[] }` values, bcc's slot keys, bpftrace's (keys, slot) keys. A map of a
 * libbpf-tools tool (runqlat, cpudist, biolatency, softirqs, hardirqs: known from the `.rodata`
 * of its programs) gets the tool's headers with the names the tool resolves, and its unit.
 */
import type { BpfMap } from '../../map/bpf-map.js';
import type { HistogramLayout, MapHistograms } from '../../map/histogram.js';
import type { HistogramTool } from '../../map/histogram-tool.js';
import { BpfError } from '../../sys/errors.js';
import type { Command, CommandContext } from '../command.js';
import { UsageError, parseMapRef } from '../grammar.js';
import { bpftraceHeader, histogramLines, sectionHeader } from '../histogram.js';
import { openMap } from '../map-ref.js';

/** `--layout` words (and their short forms) to layouts. */
const LAYOUTS: Readonly<Record<string, HistogramLayout | 'lhist'>> = {
  'libbpf-log2': 'libbpf-log2', libbpf: 'libbpf-log2',
  'bcc-log2': 'bcc-log2', bcc: 'bcc-log2', log2: 'bcc-log2',
  'bpftrace-hist': 'bpftrace-hist', bpftrace: 'bpftrace-hist', hist: 'bpftrace-hist',
  'bpftrace-lhist': 'lhist', lhist: 'lhist',
  linear: 'linear',
};

function parseInteger(text: string | undefined, option: string): number {
  if (text === undefined) throw new UsageError(`--layout lhist needs ${option} N (bpftrace's lhist(value, min, max, step))`);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new UsageError(`${option}: expected an integer, got '${text}'`);
  return Number(text);
}

/** `--layout lhist` without `--min`/`--max`/`--step`: the range comes from the programs. */
const LHIST_FROM_PROGRAMS = 'lhist-from-programs';

function parseLayout(options: CommandContext['options']): HistogramLayout | typeof LHIST_FROM_PROGRAMS | undefined {
  const linear = options.flag('linear');
  const word = options.value('layout');
  const min = options.value('min');
  const max = options.value('max');
  const step = options.value('step');
  if (linear && word !== undefined && word !== 'linear') throw new UsageError(`--linear and --layout ${word} contradict each other`);
  const name = linear ? 'linear' : word;
  if (name === undefined) {
    if (min !== undefined || max !== undefined || step !== undefined) throw new UsageError('--min, --max and --step go with --layout lhist');
    return undefined;
  }
  const layout = LAYOUTS[name];
  if (layout === undefined) throw new UsageError(`--layout: unknown layout '${name}' (expected libbpf, bcc, bpftrace, lhist or linear)`);
  if (layout !== 'lhist') {
    if (min !== undefined || max !== undefined || step !== undefined) throw new UsageError('--min, --max and --step go with --layout lhist');
    return layout;
  }
  if (min === undefined && max === undefined && step === undefined) return LHIST_FROM_PROGRAMS;
  const lhist = { kind: 'bpftrace-lhist', min: parseInteger(min, '--min'), max: parseInteger(max, '--max'), step: parseInteger(step, '--step') } as const;
  if (lhist.step <= 0 || lhist.max <= lhist.min) throw new UsageError(`--layout lhist needs --min < --max and --step > 0 (got ${lhist.min}, ${lhist.max}, ${lhist.step})`);
  return lhist;
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  args.end();
  const layoutOption = parseLayout(options);
  const section = options.value('section');
  const unit = options.value('unit');
  options.end();
  const [{ readHistograms }, { histogramTool }] = await Promise.all([import('../../map/histogram.js'), import('../../map/histogram-tool.js')]);
  using map = openMap(ref, { readOnly: true });
  const layout = await bpftraceLayout(map, layoutOption);
  // A libbpf-tools map is drawn as its tool draws it (its headers, names and unit), unless the
  // options ask for another split.
  let tool = map.info.btfId !== 0 ? toolOf(map, histogramTool) : undefined;
  if (tool !== undefined && section !== undefined && section !== tool.section) tool = undefined;
  const split = section ?? tool?.section;
  let read: MapHistograms;
  try {
    read = readHistograms(map, { ...(layout !== undefined ? { layout } : {}), ...(split !== undefined ? { section: split } : {}) });
  } catch (error) {
    // The map is not what the options say: a mistake in the command line, named as such.
    if (error instanceof RangeError && (error as RangeError & { code?: string }).code === 'ERR_BPFMAP_HISTOGRAM') {
      throw new UsageError(error.message.replace(/^section\b/, '--section').replace(/name the field\(s\) that split histograms as the section/, 'name the field(s) that split histograms with --section FIELD'));
    }
    throw error;
  }
  if (out.json) {
    out.document({
      layout: read.layout,
      source: read.source,
      ...(tool !== undefined ? { tool: tool.tool, unit: unit ?? tool.unit } : {}),
      histograms: read.histograms.map((histogram) => {
        const { key, fields, buckets, total } = histogram;
        const title = tool?.title(histogram);
        return {
          key: key ?? null,
          ...(title !== undefined ? { title } : {}),
          ...(Object.keys(fields).length > 0 ? { fields } : {}),
          buckets,
          total,
        };
      }),
    });
    return;
  }
  if (tool !== undefined) {
    for (const histogram of read.histograms) {
      if (tool.skipEmpty && histogram.total === 0n) continue;
      const header = tool.header(histogram);
      if (header !== '') out.line(header);
      for (const line of histogramLines(histogram, read.layout, unit ?? tool.unit)) out.line(line);
      if (tool.trailer !== '') out.writer.write(tool.trailer);
    }
    return;
  }
  if (read.source === 'key-suffix') {
    // bpftrace prints keyed histograms in increasing order of their totals.
    const ordered = [...read.histograms].sort((a, b) => (a.total < b.total ? -1 : a.total > b.total ? 1 : 0));
    for (const histogram of ordered) {
      out.line(bpftraceHeader(map.name, histogram));
      for (const line of histogramLines(histogram, read.layout, unit)) out.line(line);
      out.line();
    }
    return;
  }
  for (const histogram of read.histograms) {
    if (histogram.key !== undefined) out.line(`\n${sectionHeader(histogram)}`);
    for (const line of histogramLines(histogram, read.layout, unit)) out.line(line);
  }
}

/**
 * The layout to read with: the one given, or for a bpftrace map (`AT_name`, no BTF) an
 * `lhist()` range found in the instructions of the programs filling it (an lhist map looks like
 * a hist() map). `--layout lhist` without a range needs that range found, or says which options
 * to give.
 */
async function bpftraceLayout(map: BpfMap, option: ReturnType<typeof parseLayout>): Promise<HistogramLayout | undefined> {
  if (option !== undefined && option !== LHIST_FROM_PROGRAMS) return option;
  if (option === undefined && !(map.name.startsWith('AT_') && map.info.btfId === 0)) return undefined;
  const { bpftraceLayoutOf } = await import('../../map/bpftrace-layout.js');
  let found: Awaited<ReturnType<typeof bpftraceLayoutOf>> | undefined;
  try {
    found = bpftraceLayoutOf(map);
  } catch (error) {
    if (!(error instanceof BpfError)) throw error;
  }
  if (found?.lhist !== undefined) return found.lhist;
  if (option === undefined) return undefined;
  const why = found === undefined ? 'reading the programs that use it needs root (CAP_SYS_ADMIN)'
    : found.programs === 0 ? 'no loaded program uses it any more (the script has exited)'
      : `none of the ${found.programs} program${found.programs === 1 ? '' : 's'} using it computes an lhist() slot this recognizes`;
  throw new UsageError(`--layout lhist: cannot find the range of ${map.name || `map ${map.id}`} (${why}); give it as --min MIN --max MAX --step STEP, the last three arguments of lhist(value, MIN, MAX, STEP) in the script`);
}

/** The tool that keeps the map, when this can tell (it needs to walk the loaded programs). */
function toolOf(map: BpfMap, find: (map: BpfMap) => HistogramTool | undefined): HistogramTool | undefined {
  try {
    return find(map);
  } catch (error) {
    // Without the privilege to walk programs the histograms still print, with generic headers.
    if (error instanceof BpfError) return undefined;
    throw error;
  }
}

/** `hist MAP [--layout L [--min N --max N --step N]] [--linear] [--section FIELD] [--unit NAME]`. */
export const histCommand: Command = { run };
