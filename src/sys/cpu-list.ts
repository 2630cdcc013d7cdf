/**
 * Kernel CPU range lists (`0-3`, `0,2-5`), parsed without the addon: the in-memory map reads
 * the possible-CPU count through this where bpf(2) is not available.
 */
import { readFileSync } from 'node:fs';

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

/** The possible-CPU count as sysfs lists it (what per-CPU values are sized by), without asking the kernel through bpf(2). */
export function possibleCpusFromSysfs(): number {
  return parseCpuRangeList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
}
