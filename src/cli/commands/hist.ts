/**
 * `hist MAP [--layout L] [--section FIELD] [--unit NAME]`: the histograms a map holds, drawn as
 * the tool that made it draws them (libbpf-tools, bcc, bpftrace), or as data with `-j`. Where
 * the counts sit and what a slot holds come from the library (`readHistograms`): libbpf-tools'
 * `struct hist { slots[] }` values, bcc's slot keys, bpftrace's (keys, slot) keys.
 */
import type { HistogramLayout, MapHistograms } from '../../map/histogram.js';
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

function parseLayout(options: CommandContext['options']): HistogramLayout | undefined {
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
  const lhist = { kind: 'bpftrace-lhist', min: parseInteger(min, '--min'), max: parseInteger(max, '--max'), step: parseInteger(step, '--step') } as const;
  if (lhist.step <= 0 || lhist.max <= lhist.min) throw new UsageError(`--layout lhist needs --min < --max and --step > 0 (got ${lhist.min}, ${lhist.max}, ${lhist.step})`);
  return lhist;
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  args.end();
  const layout = parseLayout(options);
  const section = options.value('section');
  const unit = options.value('unit');
  options.end();
  const { readHistograms } = await import('../../map/histogram.js');
  using map = openMap(ref, { readOnly: true });
  let read: MapHistograms;
  try {
    read = readHistograms(map, { ...(layout !== undefined ? { layout } : {}), ...(section !== undefined ? { section } : {}) });
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
      histograms: read.histograms.map(({ key, fields, buckets, total }) => ({
        key: key ?? null,
        ...(Object.keys(fields).length > 0 ? { fields } : {}),
        buckets,
        total,
      })),
    });
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

/** `hist MAP [--layout L [--min N --max N --step N]] [--linear] [--section FIELD] [--unit NAME]`. */
export const histCommand: Command = { run };
