/**
 * Histogram text as the tools print it, column for column, so `hist` output reads like (and
 * diffs against) the tool it sits beside:
 * - libbpf-tools' `print_log2_hist` (trace_helpers.c): from slot 0, `count    distribution`,
 *   integer star arithmetic;
 * - bcc's `print_log2_hist` / `print_linear_hist` (table.py): log2 from slot 1,
 *   `count     distribution`;
 * - bpftrace's map printing: `@name[key]: ` then `[4, 8)        2 |@@@@...|`, 52-wide bars of `@`
 *   computed in single-precision floats, first to last non-empty bucket.
 * 40 stars, and wider columns with half the stars past slot 32, as in bcc.
 */
import { histogramBucket, type Histogram, type HistogramLayout } from '../map/histogram.js';
import { toJson } from './output.js';

/** bcc's bar width. */
const STARS_MAX = 40;
/** bpftrace's bar width. */
const BPFTRACE_BAR = 52;

/** bcc's Python `_stars`: a bar proportional to `value / max`, compared in floats. */
function pythonStars(value: bigint, max: bigint, width: number): string {
  if (max === 0n) return '';
  let text = '';
  const limit = (width * Number(value)) / Number(max) - 1;
  for (let i = 0; !(i > limit || i > width - 1); i++) text += '*';
  if (value > max) text = `${text.slice(0, -1)}+`;
  return text;
}

/** libbpf-tools' `print_stars`: integer arithmetic, padded to the width. */
function cStars(value: bigint, max: bigint, width: number): string {
  if (max === 0n) return ' '.repeat(width);
  const stars = Number(((value < max ? value : max) * BigInt(width)) / max);
  return '*'.repeat(stars) + ' '.repeat(width - stars) + (value > max ? '+' : '');
}

function lastNonZero(counts: readonly bigint[]): number {
  let last = -1;
  counts.forEach((count, i) => {
    if (count > 0n) last = i;
  });
  return last;
}

function maxOf(counts: readonly bigint[]): bigint {
  return counts.reduce((max, count) => (count > max ? count : max), 0n);
}

/** `%-Nd` / `%Nd` of printf. */
function left(value: bigint | string, width: number): string {
  return String(value).padEnd(width);
}
function right(value: bigint | string, width: number): string {
  return String(value).padStart(width);
}

/** libbpf-tools' `print_log2_hist` text (lines without trailing newline), `unit` naming the values. */
export function libbpfLog2Text(counts: readonly bigint[], unit = 'value'): string[] {
  const last = lastNonZero(counts);
  if (last < 0) return [];
  const max = maxOf(counts);
  const narrow = last <= 32;
  const stars = narrow ? STARS_MAX : STARS_MAX / 2;
  const width = narrow ? 10 : 20;
  const lines = [`${' '.repeat(narrow ? 5 : 15)}${left(unit, narrow ? 19 : 29)} : count    distribution`];
  for (let slot = 0; slot <= last; slot++) {
    const { low, high } = histogramBucket(slot, 0n, 'libbpf-log2');
    const count = counts[slot] ?? 0n;
    lines.push(`${right(low ?? 0n, width)} -> ${left(high ?? 0n, width)} : ${left(count, 8)} |${cStars(count, max, stars)}|`);
  }
  return lines;
}

/** bcc's `print_log2_hist` text (slot 1 is `0 -> 1`; bcc never prints slot 0). */
export function log2HistText(counts: readonly bigint[], unit = 'value'): string[] {
  const last = lastNonZero(counts);
  const max = maxOf(counts);
  const wide = last > 32;
  const width = wide ? STARS_MAX / 2 : STARS_MAX;
  const lines: string[] = [];
  if (last > 0) lines.push(wide ? `               ${left(unit, 29)} : count     distribution` : `     ${left(unit, 19)} : count     distribution`);
  for (let slot = 1; slot <= last; slot++) {
    const { low, high } = histogramBucket(slot, 0n, 'bcc-log2');
    const count = counts[slot] ?? 0n;
    const range = wide ? `${right(low ?? 0n, 20)} -> ${left(high ?? 0n, 20)}` : `${right(low ?? 0n, 10)} -> ${left(high ?? 0n, 10)}`;
    lines.push(`${range} : ${left(count, 8)} |${left(pythonStars(count, max, width), width)}|`);
  }
  return lines;
}

/** bcc's `print_linear_hist` text. */
export function linearHistText(counts: readonly bigint[], unit = 'value'): string[] {
  const last = lastNonZero(counts);
  const max = maxOf(counts);
  const lines: string[] = [];
  if (last >= 0) lines.push(`     ${left(unit, 13)} : count     distribution`);
  for (let slot = 0; slot <= last; slot++) {
    const count = counts[slot] ?? 0n;
    lines.push(`        ${left(String(slot), 10)} : ${left(count, 8)} |${left(pythonStars(count, max, STARS_MAX), STARS_MAX)}|`);
  }
  return lines;
}

/** bpftrace's rows of one `hist()`/`lhist()` (first to last non-empty bucket). */
export function bpftraceHistText(histogram: Histogram): string[] {
  const max = maxOf(histogram.buckets.map((bucket) => bucket.count));
  // bpftrace: int bar_width = values.at(i) / (float)max_value * max_width.
  const maxFloat = Math.fround(Number(max));
  return histogram.buckets.map(({ label, count }) => {
    const bar = max === 0n ? 0 : Math.trunc(Math.fround(Math.fround(Math.fround(Number(count)) / maxFloat) * BPFTRACE_BAR));
    return `${label.padEnd(16)}${String(count).padStart(8)} |${'@'.repeat(bar).padEnd(BPFTRACE_BAR)}|`;
  });
}

/** A key field's value in a section header: scalars as they are, anything else as compact JSON. */
export function fieldText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return toJson(value);
}

/**
 * The header line of one histogram among several: bcc's `section = value` (libbpf-tools'
 * `pid = 42 comm`: a `comm` member of the value follows the key).
 */
export function sectionHeader(histogram: Histogram): string {
  const key = histogram.key ?? {};
  const text = Object.entries(key).map(([name, value]) => `${name} = ${fieldText(value)}`).join(', ');
  const comm = histogram.fields.comm;
  return typeof comm === 'string' ? `${text} ${comm}` : text;
}

/** bpftrace's map element header: `@name[key]: ` (`@name: ` without keys). */
export function bpftraceHeader(mapName: string, histogram: Histogram): string {
  const name = `@${mapName.replace(/^AT_/, '')}`;
  const key = histogram.key?.key;
  return key === undefined ? `${name}: ` : `${name}[${fieldText(key)}]: `;
}

/** The lines `hist` prints for a histogram in `layout` (without its section header). */
export function histogramLines(histogram: Histogram, layout: HistogramLayout, unit: string | undefined): string[] {
  if (typeof layout === 'object' || layout === 'bpftrace-hist') return bpftraceHistText(histogram);
  switch (layout) {
    case 'libbpf-log2': return libbpfLog2Text(histogram.counts, unit);
    case 'bcc-log2': return log2HistText(histogram.counts, unit);
    case 'linear': return linearHistText(histogram.counts, unit);
  }
}
