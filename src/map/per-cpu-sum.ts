/**
 * Sums of per-CPU values: what a per-CPU counter map holds in total. The CLI's `watch` shows the
 * same sums.
 */
import { argumentError } from '../sys/errors.js';

/** A value `sumPerCpu` adds up: numbers, bigints, and records or arrays of them. */
export type Summable = number | bigint | readonly unknown[] | { readonly [field: string]: unknown };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

function addValues(a: unknown, b: unknown, path: string): unknown {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b;
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) throw argumentError(TypeError, 'ERR_BPFMAP_PER_CPU_SUM', `${path}: arrays of ${a.length} and ${b.length} elements`);
    return a.map((element, index) => addValues(element, b[index], `${path}[${index}]`));
  }
  if (isRecord(a) && isRecord(b)) {
    const sum: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(a)) sum[name] = addValues(field, b[name], `${path}.${name}`);
    return sum;
  }
  // Strings, booleans, byte arrays (names, flags, raw bytes): not counts; CPU 0's value stands.
  if (typeof a === typeof b && !(typeof a === 'number' || typeof a === 'bigint')) return a;
  throw argumentError(TypeError, 'ERR_BPFMAP_PER_CPU_SUM', `${path}: cannot add ${typeof a} and ${typeof b}`);
}

/**
 * Adds up the values of one key across CPUs, as a per-CPU map's `get` returns them (one per
 * possible CPU): numbers and bigints add up, records field by field, arrays element by element
 * (histogram slots); other fields (strings, booleans, bytes) keep CPU 0's value. Raw per-CPU byte
 * values have no numbers to add: read the map through a codec (a record or its BTF) first.
 *
 * @throws TypeError (ERR_BPFMAP_PER_CPU_SUM) for an empty list, or values whose shapes differ.
 * @example
 * using counts = BpfMap.openPinned('/sys/fs/bpf/pkt_count', { value: BpfRecord.define([['packets', 'Q'], ['bytes', 'Q']]) });
 * sumPerCpu(counts.get(0)!);   // { packets: 1234n, bytes: 98765n } over every CPU
 */
export function sumPerCpu<V extends Summable>(values: readonly V[]): V {
  if (!Array.isArray(values) || values.length === 0) throw argumentError(TypeError, 'ERR_BPFMAP_PER_CPU_SUM', 'sumPerCpu needs a non-empty array of per-CPU values');
  const [first] = values;
  if (first instanceof Uint8Array) {
    throw argumentError(TypeError, 'ERR_BPFMAP_PER_CPU_SUM', 'sumPerCpu cannot add raw bytes: open the map with a value codec (a BpfRecord, or typed() through its BTF)');
  }
  let sum: unknown = first;
  for (let cpu = 1; cpu < values.length; cpu++) sum = addValues(sum, values[cpu], `cpu${cpu}`);
  return sum as V;
}
