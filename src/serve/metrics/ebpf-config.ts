/**
 * ebpf_exporter's `metrics:` configuration (counters and histograms, labels with `size`, `padding`
 * and a chain of `decoders`, histogram bucket types), parsed with the `yaml` package and checked
 * completely when it loads: an unknown decoder, a missing size or an impossible bucket range is a
 * `ConfigError` at start, never a wrong label at scrape time.
 *
 * bpfmap's one addition: `map:` on a metric names the map (`id N`, `pinned PATH`, `name NAME`);
 * without it the map is found by the metric's name, as ebpf_exporter finds its maps.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { DECODERS, UNSUPPORTED_DECODERS, loadKernelSymbols, syscallTable, type DecoderConfig } from './decoders.js';

/** A configuration mistake, with a stable code and the path of the offending field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_BPFMAP_CONFIG';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

/** Which map a configured metric reads. */
export type MapSelector =
  | { readonly kind: 'id'; readonly id: number }
  | { readonly kind: 'pinned'; readonly path: string }
  | { readonly kind: 'name'; readonly name: string };

/** One label of a configured metric. */
export interface LabelConfig {
  readonly name: string;
  readonly size: number;
  readonly padding: number;
  readonly decoders: readonly DecoderConfig[];
}

/** A configured counter. */
export interface CounterConfig {
  readonly kind: 'counter';
  readonly name: string;
  readonly help: string;
  readonly labels: readonly LabelConfig[];
  readonly map: MapSelector;
}

/** Histogram bucket types. */
export type BucketType = 'exp2' | 'exp2zero' | 'linear' | 'fixed';

/** A configured histogram (its last label is the bucket). */
export interface HistogramConfig {
  readonly kind: 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labels: readonly LabelConfig[];
  readonly map: MapSelector;
  readonly bucketType: BucketType;
  readonly bucketMultiplier: number;
  readonly bucketMin: number;
  readonly bucketMax: number;
  readonly bucketKeys: readonly number[];
}

/** A whole configuration. */
export interface MetricsConfig {
  /**
   * The configuration's name in ebpf_exporter's self-metrics (`enabled_configs{name}`, the
   * `config` label): as ebpf_exporter names a config after its file, the file name without
   * `.yaml`/`.yml` when loaded from a file; `config` when not given.
   */
  readonly name?: string;
  readonly counters: readonly CounterConfig[];
  readonly histograms: readonly HistogramConfig[];
}

const requireDependency = createRequire(import.meta.url);

/**
 * YAML parsing, loaded on first use: importing bpfmap must not need the serve dependencies (a
 * consumer who only reads maps, or installed without them, never loads `yaml`).
 */
export function parseYaml(source: string): unknown {
  return (requireDependency('yaml') as typeof import('yaml')).parse(source);
}

/** Kernel object names hold 15 characters: a metric name finds the map of its first 15. */
const BPF_OBJ_NAME_LEN = 16;

type Yaml = unknown;

function isObject(value: Yaml): value is Record<string, Yaml> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listAt(value: Yaml, field: string): Yaml[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(field, 'expected a list');
  return value;
}

function stringAt(object: Record<string, Yaml>, key: string, field: string, required: boolean): string {
  const value = object[key];
  if (value === undefined || value === null) {
    if (required) throw new ConfigError(`${field}.${key}`, 'is required');
    return '';
  }
  if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`${field}.${key}`, `expected text, got ${JSON.stringify(value)}`);
  return String(value);
}

function numberAt(object: Record<string, Yaml>, key: string, field: string, fallback: number, integer: boolean): number {
  const value = object[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new ConfigError(`${field}.${key}`, `expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const KNOWN_METRIC_KEYS = new Set(['name', 'help', 'labels', 'map', 'bucket_type', 'bucket_multiplier', 'bucket_min', 'bucket_max', 'bucket_keys', 'perf_event_array', 'flush_interval']);

function parseDecoder(value: Yaml, field: string): DecoderConfig {
  if (!isObject(value)) throw new ConfigError(field, 'expected a decoder ({ name: ... })');
  const name = stringAt(value, 'name', field, true);
  if (!DECODERS.has(name)) {
    const why = UNSUPPORTED_DECODERS.includes(name) ? `ebpf_exporter's '${name}' decoder is not supported by bpfmap` : `unknown decoder '${name}'`;
    throw new ConfigError(`${field}.name`, `${why}; supported: ${[...DECODERS.keys()].join(', ')}`);
  }
  let staticMap: Map<string, string> | undefined;
  if (value.static_map !== undefined && value.static_map !== null) {
    if (!isObject(value.static_map)) throw new ConfigError(`${field}.static_map`, 'expected a mapping of values to labels');
    staticMap = new Map(Object.entries(value.static_map).map(([key, label]) => [key, String(label)]));
  }
  let regexps: RegExp[] | undefined;
  if (name === 'regexp') {
    const sources = listAt(value.regexps, `${field}.regexps`);
    if (sources.length === 0) throw new ConfigError(`${field}.regexps`, 'the regexp decoder needs at least one expression');
    regexps = sources.map((source, i) => {
      try {
        return new RegExp(String(source));
      } catch (error) {
        throw new ConfigError(`${field}.regexps[${i}]`, `invalid regular expression: ${(error as Error).message}`);
      }
    });
  }
  if (name === 'syscall' && syscallTable() === undefined) throw new ConfigError(`${field}.name`, `no syscall table for architecture ${process.arch}`);
  if (name === 'ksym') {
    try {
      loadKernelSymbols();
    } catch (error) {
      throw new ConfigError(`${field}.name`, `the ksym decoder needs /proc/kallsyms: ${(error as Error).message}`);
    }
  }
  return {
    name,
    ...(staticMap ? { staticMap } : {}),
    ...(regexps ? { regexps } : {}),
    ...(value.allow_unknown === true ? { allowUnknown: true } : {}),
  };
}

function parseLabel(value: Yaml, field: string): LabelConfig {
  if (!isObject(value)) throw new ConfigError(field, 'expected a label ({ name, size, decoders })');
  const name = stringAt(value, 'name', field, true);
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new ConfigError(`${field}.name`, `'${name}' is not a valid label name`);
  const size = numberAt(value, 'size', field, 0, true);
  if (size <= 0) throw new ConfigError(`${field}.size`, 'size is zero or not set');
  const padding = numberAt(value, 'padding', field, 0, true);
  if (padding < 0) throw new ConfigError(`${field}.padding`, 'must not be negative');
  const decoders = listAt(value.decoders, `${field}.decoders`).map((decoder, i) => parseDecoder(decoder, `${field}.decoders[${i}]`));
  if (decoders.length === 0) throw new ConfigError(`${field}.decoders`, 'no decoders set');
  return { name, size, padding, decoders };
}

/** Parses `id N`, `pinned PATH` or `name NAME`. */
export function parseMapSelector(text: string, field: string): MapSelector {
  const match = /^\s*(id|pinned|name)\s+(.+?)\s*$/.exec(text);
  if (match === null) throw new ConfigError(field, `expected 'id N', 'pinned PATH' or 'name NAME', got '${text}'`);
  const [, kind, rest = ''] = match;
  if (kind === 'id') {
    if (!/^\d+$/.test(rest) || Number(rest) === 0 || Number(rest) > 0xffffffff) throw new ConfigError(field, `'${rest}' is not a map id`);
    return { kind: 'id', id: Number(rest) };
  }
  if (kind === 'pinned') return { kind: 'pinned', path: rest };
  return { kind: 'name', name: rest };
}

function parseMetricCommon(value: Yaml, field: string): { object: Record<string, Yaml>; name: string; help: string; labels: LabelConfig[]; map: MapSelector } {
  if (!isObject(value)) throw new ConfigError(field, 'expected a metric');
  for (const key of Object.keys(value)) if (!KNOWN_METRIC_KEYS.has(key)) throw new ConfigError(`${field}.${key}`, 'unknown field');
  if (value.perf_event_array === true) throw new ConfigError(`${field}.perf_event_array`, 'perf event array counters are not supported by bpfmap (use map counters)');
  const name = stringAt(value, 'name', field, true);
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new ConfigError(`${field}.name`, `'${name}' is not a valid metric name`);
  const help = stringAt(value, 'help', field, false);
  const labels = listAt(value.labels, `${field}.labels`).map((label, i) => parseLabel(label, `${field}.labels[${i}]`));
  const seen = new Set<string>();
  for (const label of labels) {
    if (seen.has(label.name)) throw new ConfigError(`${field}.labels`, `label '${label.name}' appears twice`);
    seen.add(label.name);
  }
  const map = value.map === undefined ? { kind: 'name' as const, name: name.slice(0, BPF_OBJ_NAME_LEN - 1) } : parseMapSelector(String(value.map), `${field}.map`);
  return { object: value, name, help, labels, map };
}

/** Parses and checks a configuration document. @throws ConfigError */
export function parseMetricsConfig(source: string, name?: string): MetricsConfig {
  let document: Yaml;
  try {
    document = parseYaml(source);
  } catch (error) {
    throw new ConfigError('config', `not valid YAML: ${(error as Error).message}`);
  }
  if (!isObject(document)) throw new ConfigError('config', 'expected a mapping with a metrics: section');
  const metrics = document.metrics;
  if (!isObject(metrics)) throw new ConfigError('metrics', 'expected counters: and/or histograms:');
  const counters = listAt(metrics.counters, 'metrics.counters').map((value, i): CounterConfig => {
    const common = parseMetricCommon(value, `metrics.counters[${i}]`);
    return { kind: 'counter', name: common.name, help: common.help, labels: common.labels, map: common.map };
  });
  const histograms = listAt(metrics.histograms, 'metrics.histograms').map((value, i): HistogramConfig => {
    const field = `metrics.histograms[${i}]`;
    const common = parseMetricCommon(value, field);
    const { object } = common;
    const bucketType = stringAt(object, 'bucket_type', field, true);
    if (!['exp2', 'exp2zero', 'linear', 'fixed'].includes(bucketType)) throw new ConfigError(`${field}.bucket_type`, `unknown histogram type '${bucketType}': expected exp2, exp2zero, linear or fixed`);
    if (common.labels.length === 0) throw new ConfigError(`${field}.labels`, 'a histogram needs a last label holding the bucket');
    const bucketMin = numberAt(object, 'bucket_min', field, 0, true);
    const bucketMax = numberAt(object, 'bucket_max', field, 0, true);
    const bucketKeys = listAt(object.bucket_keys, `${field}.bucket_keys`).map((key, k) => {
      if (typeof key !== 'number' || !Number.isFinite(key)) throw new ConfigError(`${field}.bucket_keys[${k}]`, 'expected a number');
      return key;
    });
    if (bucketType === 'fixed' && bucketKeys.length === 0) throw new ConfigError(`${field}.bucket_keys`, 'a fixed histogram needs bucket_keys');
    if (bucketType !== 'fixed' && bucketMax - bucketMin === 0) throw new ConfigError(field, `histogram buckets have zero size: [bucket_min .. bucket_max] = [${bucketMin} .. ${bucketMax}]`);
    return {
      kind: 'histogram',
      name: common.name,
      help: common.help,
      labels: common.labels,
      map: common.map,
      bucketType: bucketType as BucketType,
      bucketMultiplier: numberAt(object, 'bucket_multiplier', field, 0, false) || 1,
      bucketMin,
      bucketMax,
      bucketKeys,
    };
  });
  return name === undefined ? { counters, histograms } : { name, counters, histograms };
}

/** Reads and parses a configuration file. @throws ConfigError */
export function loadMetricsConfig(file: string): MetricsConfig {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('config', `cannot read ${file}: ${(error as Error).message}`);
  }
  // ebpf_exporter names a configuration after its file (`--config.names=biolatency` reads biolatency.yaml).
  return parseMetricsConfig(source, path.basename(file).replace(/\.ya?ml$/, ''));
}
