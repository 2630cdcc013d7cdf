/** The number of possible CPUs: what per-CPU map values are sized by. */
import { readFileSync } from 'node:fs';

let cached: number | undefined;

/**
 * Counts the CPUs in a kernel range list such as `0-3` or `0,2-5`.
 * @throws RangeError when the list is malformed.
 */
export function parseCpuRangeList(text: string): number {
  let count = 0;
  const trimmed = text.trim();
  if (trimmed === '') throw new RangeError('empty CPU range list');
  for (const part of trimmed.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) throw new RangeError(`malformed CPU range '${part}' in '${trimmed}'`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new RangeError(`malformed CPU range '${part}' in '${trimmed}'`);
    count += last - first + 1;
  }
  return count;
}

/**
 * The number of *possible* CPUs (from `/sys/devices/system/cpu/possible`), which is what the
 * kernel sizes per-CPU values by; not the online count.
 */
export function possibleCpus(): number {
  cached ??= parseCpuRangeList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return cached;
}
