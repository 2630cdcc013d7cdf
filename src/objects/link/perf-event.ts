/**
 * perf_event programs (`SEC("perf_event")`): run on every Nth occurrence of a hardware or
 * software event (or N times a second), on one CPU or for one process.
 */
import { argumentError } from '../../sys/errors.js';
import type { BpfProgram } from '../program.js';
import type { Link } from './link.js';
import { subjectOf } from './link.js';
import { createPerfLink } from './perf-link.js';

/** perf_event_attr types by name (PERF_TYPE_*). */
const perfTypes = { hardware: 0, software: 1, tracepoint: 2, hw_cache: 3, raw: 4, breakpoint: 5 } as const;

/** Which event, how often, and where. */
export interface PerfEventOptions {
  /** `'software'` (PERF_TYPE_SOFTWARE), `'hardware'`, ... or a PMU type number. */
  readonly type: keyof typeof perfTypes | number;
  /** The event within the type (e.g. PERF_COUNT_SW_CPU_CLOCK = 0). */
  readonly config: number | bigint;
  /** Run every this many events... */
  readonly samplePeriod?: number | bigint;
  /** ...or this many times a second (give one of the two). */
  readonly frequency?: number | bigint;
  /** The CPU to sample on (-1 with a pid: that process on any CPU). */
  readonly cpu: number;
  /** Only this process (default: every process on `cpu`). */
  readonly pid?: number;
  readonly cookie?: bigint;
}

/**
 * Attaches a perf_event program to one perf event.
 *
 * @example
 * // 99 times a second on CPU 0
 * using link = attachPerfEvent(program, { type: 'software', config: 0, frequency: 99, cpu: 0 });
 */
export function attachPerfEvent(program: BpfProgram, options: PerfEventOptions): Link {
  if (options === null || typeof options !== 'object') throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachPerfEvent: options must be { type, config, samplePeriod | frequency, cpu, pid? }');
  const type = typeof options.type === 'number' ? options.type : perfTypes[options.type];
  if (type === undefined || !Number.isInteger(type) || type < 0) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', `unknown perf event type ${JSON.stringify(options.type)}`);
  if ((options.samplePeriod === undefined) === (options.frequency === undefined)) throw argumentError(TypeError, 'ERR_BPFMAP_OPTIONS', 'attachPerfEvent: give exactly one of samplePeriod or frequency');
  const sample = BigInt(options.samplePeriod ?? options.frequency ?? 0);
  if (sample <= 0n) throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', 'samplePeriod / frequency must be positive');
  const pid = options.pid ?? -1;
  if (!Number.isInteger(options.cpu) || options.cpu < -1 || (options.cpu === -1 && pid === -1)) {
    throw argumentError(RangeError, 'ERR_BPFMAP_OPTIONS', `cpu must be a CPU number (or -1 with a pid), got ${options.cpu}`);
  }
  const subject = subjectOf(program, 'perf_event', `type ${type} config ${options.config} on ${options.cpu === -1 ? `pid ${pid}` : `cpu ${options.cpu}`}`);
  return createPerfLink(program, subject, {
    type,
    config: BigInt(options.config),
    name: null,
    config2: 0n,
    pid,
    cpu: options.cpu,
    samplePeriod: sample,
    frequency: options.frequency !== undefined,
    cookie: options.cookie ?? 0n,
  });
}
