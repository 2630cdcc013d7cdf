/**
 * Histograms in bcc's layout: `print_log2_hist` and `print_linear_hist` from bcc's table.py,
 * reproduced column for column (header, `low -> high : count |stars|`, 40 stars, wider columns
 * past slot 32), so output reads like the bcc tools it sits beside.
 */

/** bcc's bar width. */
const STARS_MAX = 40;

/** One bucket of a histogram, as `-j` prints it. */
export interface Bucket {
  readonly low: bigint;
  readonly high: bigint;
  readonly count: bigint;
}

/** bcc's `_stars`: a bar proportional to `value / max`. */
function stars(value: bigint, max: bigint, width: number): string {
  if (max === 0n) return '';
  let text = '';
  // bcc compares in floats: i > width * val / val_max - 1.
  const limit = (width * Number(value)) / Number(max) - 1;
  for (let i = 0; !(i > limit || i > width - 1); i++) text += '*';
  if (value > max) text = `${text.slice(0, -1)}+`;
  return text;
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

/** The buckets of a log2 histogram (slot i counts values whose log2 is i; slot 0 is unused). */
export function log2Buckets(counts: readonly bigint[]): Bucket[] {
  const buckets: Bucket[] = [];
  for (let i = 1; i <= lastNonZero(counts); i++) {
    let low = (1n << BigInt(i)) >> 1n;
    const high = (1n << BigInt(i)) - 1n;
    if (low === high) low -= 1n;
    buckets.push({ low, high, count: counts[i] ?? 0n });
  }
  return buckets;
}

/** The buckets of a linear histogram (slot i counts value i). */
export function linearBuckets(counts: readonly bigint[]): Bucket[] {
  return counts.slice(0, lastNonZero(counts) + 1).map((count, i) => ({ low: BigInt(i), high: BigInt(i), count }));
}

/** `%-Nd` / `%Nd` of printf. */
function left(value: bigint | string, width: number): string {
  return String(value).padEnd(width);
}
function right(value: bigint | string, width: number): string {
  return String(value).padStart(width);
}

/** bcc's `print_log2_hist` text (lines without trailing newline), `valueType` naming the unit. */
export function log2HistText(counts: readonly bigint[], valueType = 'value'): string[] {
  const last = lastNonZero(counts);
  const max = maxOf(counts);
  const wide = last > 32;
  const width = wide ? STARS_MAX / 2 : STARS_MAX;
  const lines: string[] = [];
  if (last > 0) lines.push(wide ? `               ${left(valueType, 29)} : count     distribution` : `     ${left(valueType, 19)} : count     distribution`);
  for (const { low, high, count } of log2Buckets(counts)) {
    const range = wide ? `${right(low, 20)} -> ${left(high, 20)}` : `${right(low, 10)} -> ${left(high, 10)}`;
    lines.push(`${range} : ${left(count, 8)} |${left(stars(count, max, width), width)}|`);
  }
  return lines;
}

/** bcc's `print_linear_hist` text. */
export function linearHistText(counts: readonly bigint[], valueType = 'value'): string[] {
  const last = lastNonZero(counts);
  const max = maxOf(counts);
  const lines: string[] = [];
  if (last >= 0) lines.push(`     ${left(valueType, 13)} : count     distribution`);
  for (const { low, count } of linearBuckets(counts)) {
    lines.push(`        ${left(low, 10)} : ${left(count, 8)} |${left(stars(count, max, STARS_MAX), STARS_MAX)}|`);
  }
  return lines;
}
