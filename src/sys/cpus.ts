/** The number of possible CPUs: what per-CPU map values are sized by. */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { native } from './native.js';
import { BpfError } from './errors.js';
import { parseCpuRangeList } from './cpu-list.js';

export { parseCpuRangeList };

const EDOM = constants.errno.EDOM;

let cached: number | undefined;

/**
 * The number of *possible* CPUs, which is what the kernel sizes per-CPU values by (not the online
 * count). The addon learns it from the kernel itself (the size of a per-CPU lookup, see
 * native/maps.c) and checks `/sys/devices/system/cpu/possible` against it; without the
 * privileges for that probe, sysfs alone (the addon still sizes every buffer from the kernel).
 * @throws BpfError `ERR_BPFMAP_POSSIBLE_CPUS` when sysfs disagrees with the kernel (a container
 *   runtime can mount anything there): per-CPU values cannot be sized from it.
 */
export function possibleCpus(): number {
  if (cached !== undefined) return cached;
  const count = native.possibleCpus();
  if (count === -EDOM) {
    let sysfs = 'unreadable';
    try {
      sysfs = JSON.stringify(readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim());
    } catch {
      // keep 'unreadable'
    }
    throw new BpfError(
      `/sys/devices/system/cpu/possible (${sysfs}) disagrees with the kernel's possible-CPU count: per-CPU values cannot be sized from it (is something mounted over it?)`,
      { code: 'ERR_BPFMAP_POSSIBLE_CPUS', errno: -count },
    );
  }
  cached = count > 0 ? count : parseCpuRangeList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return cached;
}
