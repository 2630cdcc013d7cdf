/**
 * What `watch` shows each interval: one table row per key, its value (per-CPU values summed, or a
 * column per CPU), and for each numeric field its rate of change per second since the previous
 * sample. Pure data: reading the map and drawing the screen happen elsewhere.
 */
import { toJson } from './output.js';

type Scalar = null | boolean | number | bigint | string;

/** One entry as read: its decoded key and one decoded value per CPU (one for shared maps). */
export interface WatchSample {
  readonly key: unknown;
  readonly values: readonly unknown[];
}

/** A table row for `DecodedTable`: the key and a flat value object with rate columns. */
export interface WatchRow {
  readonly key: unknown;
  readonly value: Record<string, Scalar> | Scalar;
}

function isNumeric(value: unknown): value is number | bigint {
  return typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Adds two numeric cells, exactly for bigints and integers past 2^53. */
function add(a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'number' && typeof b === 'number' && Number.isInteger(a) && Number.isInteger(b)) {
    const sum = a + b;
    return Number.isSafeInteger(sum) ? sum : BigInt(a) + BigInt(b);
  }
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b;
  if (Number.isInteger(Number(a)) && Number.isInteger(Number(b))) return BigInt(a) + BigInt(b);
  return Number(a) + Number(b);
}

/**
 * The fields of one value as named scalar cells: a scalar is the field `value`; a struct's
 * top-level scalar members are fields of their own; nested members are shown as compact JSON.
 */
function fieldsOf(value: unknown): Array<[string, Scalar]> {
  if (!isPlainObject(value)) return [['value', isScalarLike(value) ? value : toJson(value)]];
  return Object.entries(value).map(([name, member]) => [name, isScalarLike(member) ? member : toJson(member)]);
}

function isScalarLike(value: unknown): value is Scalar {
  return value === null || ['boolean', 'number', 'bigint', 'string'].includes(typeof value);
}

/** Field-wise sum over CPUs: numeric fields add up, others show CPU 0's. */
function sumFields(perCpu: ReadonlyArray<Array<[string, Scalar]>>): Array<[string, Scalar]> {
  const [first = []] = perCpu;
  return first.map(([name, cell], index) => {
    if (!isNumeric(cell)) return [name, cell];
    let sum: number | bigint = cell;
    for (const fields of perCpu.slice(1)) {
      const other = fields[index]?.[1];
      if (isNumeric(other)) sum = add(sum, other);
    }
    return [name, sum];
  });
}

/** A stable order for rows: numeric keys by value, others by their JSON text. */
function compareKeys(a: unknown, b: unknown): number {
  if (isNumeric(a) && isNumeric(b)) return a < b ? -1 : a > b ? 1 : 0;
  const textA = toJson(a);
  const textB = toJson(b);
  return textA < textB ? -1 : textA > textB ? 1 : 0;
}

/** Rates round to 0.1/s: enough for counters, steady to read. */
function roundRate(rate: number): number {
  return Math.round(rate * 10) / 10;
}

/**
 * Field names that hold a time or an identity rather than a count: a rate of a timestamp is 1e9/s
 * of nothing, and a rate of a pid is noise. Matched on the whole name or one of its `_` parts:
 * `ts`, `time`, `timestamp`, `stamp`, `tstamp`, `start`, `last`, `*_ns`/`*_us`/`*_ms`, `id`, `*_id`, `pid`,
 * `tid`, `tgid`, `ppid`, `uid`, `gid`, `cpu`, `state`, `type`, `kind`, `flags`, `mode`.
 */
const RATELESS_NAME = /(^|_)(ts|time|timestamp|stamp|tstamp|start|last|id|pid|tid|tgid|ppid|uid|gid|cpu|state|type|kind|flags|mode)(_|$)|_(ns|us|ms)$|(time|stamp|_id|id_)$/i;

/** True when a field named `name` gets no rate column by its name (see RATELESS_NAME). */
export function ratelessByName(name: string): boolean {
  return RATELESS_NAME.test(name);
}

/** Turns successive samples of a map into table rows with rates. */
export class WatchRates {
  /** The previous sample's numeric cells, by key text and column. */
  #previous = new Map<string, Map<string, number | bigint>>();
  #previousTime: number | undefined;

  constructor(
    /** True to show a column per CPU (and the sum) instead of the sum alone. */
    readonly perCpuColumns: boolean,
    /**
     * Fields that get no rate whatever their name: from the map's BTF, members that are enums
     * or pointers (`value` for a value that is one). Names that say time or identity never do.
     */
    readonly ratelessFields: ReadonlySet<string> = new Set(),
  ) {}

  #hasRate(name: string): boolean {
    return !this.ratelessFields.has(name) && !ratelessByName(name);
  }

  /** The rows of one sample taken at `timeMs` (a monotonic clock), sorted by key. */
  rows(samples: readonly WatchSample[], timeMs: number): WatchRow[] {
    const seconds = this.#previousTime === undefined ? 0 : (timeMs - this.#previousTime) / 1000;
    const current = new Map<string, Map<string, number | bigint>>();
    const rows: WatchRow[] = [];
    for (const { key, values } of [...samples].sort((a, b) => compareKeys(a.key, b.key))) {
      const keyText = toJson(key);
      const perCpu = values.map(fieldsOf);
      const cells: Array<[string, Scalar]> = [];
      const summed = perCpu.length === 1 ? (perCpu[0] ?? []) : sumFields(perCpu);
      const scalarValue = summed.length === 1 && summed[0]?.[0] === 'value' && !isPlainObject(values[0]);
      const previous = this.#previous.get(keyText);
      const numbers = new Map<string, number | bigint>();
      for (const [index, [name, cell]] of summed.entries()) {
        if (this.perCpuColumns && perCpu.length > 1) {
          perCpu.forEach((fields, cpu) => cells.push([scalarValue ? `cpu${cpu}` : `${name}.cpu${cpu}`, fields[index]?.[1] ?? null]));
          cells.push([scalarValue ? 'sum' : name, cell]);
        } else {
          cells.push([name, cell]);
        }
        if (!isNumeric(cell) || !this.#hasRate(name)) continue;
        numbers.set(name, cell);
        const before = previous?.get(name);
        const column = `${scalarValue && this.perCpuColumns && perCpu.length > 1 ? 'sum' : name}/s`;
        cells.push([column, before === undefined || seconds <= 0 ? null : roundRate(Number(typeof cell === 'bigint' || typeof before === 'bigint' ? BigInt(cell) - BigInt(before) : cell - before) / seconds)]);
      }
      current.set(keyText, numbers);
      rows.push({ key, value: Object.fromEntries(cells) as Record<string, Scalar> });
    }
    this.#previous = current;
    this.#previousTime = timeMs;
    return rows;
  }
}
