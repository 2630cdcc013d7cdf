/**
 * Dynamic perf PMUs (`kprobe`, `uprobe`): their `type` for `perf_event_attr.type` and the config
 * bit that makes a probe a return probe, both published under
 * `/sys/bus/event_source/devices/NAME/` (`type`, `format/retprobe` = `config:0`).
 */
import { readFileSync } from 'node:fs';

/** What perf_event_open needs to create a probe of one PMU. */
export interface ProbePmu {
  /** `perf_event_attr.type`. */
  readonly type: number;
  /** The `config` bit that asks for a return probe. */
  readonly retprobeBit: number;
}

/** The `kprobe` or `uprobe` PMU, or undefined when the kernel has none (CONFIG_KPROBE_EVENTS / CONFIG_UPROBE_EVENTS off). */
export function probePmu(name: 'kprobe' | 'uprobe'): ProbePmu | undefined {
  const base = `/sys/bus/event_source/devices/${name}`;
  let type: number;
  try {
    type = Number.parseInt(readFileSync(`${base}/type`, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(type) || type < 0) return undefined;
  let retprobeBit = 0;
  try {
    const format = /^config:(\d+)/.exec(readFileSync(`${base}/format/retprobe`, 'utf8').trim());
    if (format) retprobeBit = Number.parseInt(format[1]!, 10);
  } catch {
    // Kernels that publish the PMU but not the format use bit 0 (what libbpf assumes too).
  }
  return { type, retprobeBit };
}
