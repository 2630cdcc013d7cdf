/**
 * The series ebpf_exporter produces for its configured metrics, from the same map contents:
 * `ebpf_exporter_<name>`, label values decoded from the key by each label's decoder chain, u64
 * values (per-CPU values summed unless the last label is `cpu`), equal label sets summed, and
 * histograms whose last label is the bucket, transformed as ebpf_exporter's histogram.go does.
 */
import { BpfMap } from '../../map/bpf-map.js';
import type { MapInfo } from '../../map/info.js';
import { possibleCpus } from '../../sys/cpus.js';
import { roundUp8 } from '../../sys/layout.js';
import { SkipLabelSet, decodeLabel } from './decoders.js';
import type { CounterConfig, HistogramConfig, LabelConfig, MapSelector } from './ebpf-config.js';
import type { ExpositionWriter } from './exposition.js';
import { escapeLabelValue } from './names.js';
import type { Yield } from './map-series.js';

/** ebpf_exporter's metric namespace. */
export const EBPF_EXPORTER_PREFIX = 'ebpf_exporter';

/** Opens the map a configured metric reads; `infos` is this scrape's list of maps (for names). */
export function openConfiguredMap(selector: MapSelector, infos: () => readonly MapInfo[]): BpfMap {
  switch (selector.kind) {
    case 'id':
      return BpfMap.fromId(selector.id, { readOnly: true });
    case 'pinned':
      return BpfMap.openPinned(selector.path, { readOnly: true });
    case 'name': {
      const matches = infos().filter((info) => info.name === selector.name);
      if (matches.length === 0) throw new Error(`no map named '${selector.name}'`);
      if (matches.length > 1) throw new Error(`several maps are named '${selector.name}' (ids ${matches.map((info) => info.id).join(', ')}): give the metric a map: reference`);
      return BpfMap.fromId((matches[0] as MapInfo).id, { readOnly: true });
    }
  }
}

interface Row {
  readonly labels: string[];
  value: number;
}

/** Reads a configured metric's map into aggregated rows (label values -> summed value). */
async function readRows(map: BpfMap, labels: readonly LabelConfig[], batchSize: number, yieldTurn: Yield): Promise<Row[]> {
  if (map.valueSize !== 8) throw new Error(`value size for map '${map.name}' is not expected 8 bytes (u64), it is ${map.valueSize} bytes`);
  const perCpu = map.perCpu;
  const cpus = perCpu ? possibleCpus() : 1;
  const stride = perCpu ? roundUp8(map.valueSize) : 8;
  const addCpu = labels.length > 0 && (labels[labels.length - 1] as LabelConfig).name === 'cpu';
  const totalSize = labels.reduce((sum, label) => sum + label.size + label.padding, 0);
  const rows = new Map<string, Row>();
  const add = (raw: Uint8Array, value: number): void => {
    let values: string[];
    if (labels.length === 0 && raw.length === 4 && raw.every((b) => b === 0)) values = [];
    else {
      let input = raw;
      if (perCpu && labels.length === 1 && addCpu && raw.length >= 4 && raw[0] === 0 && raw[1] === 0 && raw[2] === 0 && raw[3] === 0) input = raw.subarray(4);
      if (totalSize !== input.length) throw new Error(`total size of key is ${input.length} bytes, but we have labels to decode ${totalSize}`);
      values = [];
      let offset = 0;
      try {
        for (const label of labels) {
          values.push(decodeLabel(input.subarray(offset, offset + label.size), label.decoders));
          offset += label.size + label.padding;
        }
      } catch (error) {
        if (error instanceof SkipLabelSet) return;
        throw error;
      }
    }
    const key = values.join('|');
    const row = rows.get(key);
    if (row) row.value += value;
    else rows.set(key, { labels: values, value });
  };
  for (const batch of map.batches({ batchSize })) {
    const view = new DataView(batch.values.buffer, batch.values.byteOffset, batch.values.byteLength);
    for (let e = 0; e < batch.count; e++) {
      const key = batch.keys.slice(e * batch.keySize, (e + 1) * batch.keySize);
      const base = e * batch.valueStride;
      const u64 = (offset: number): number => view.getUint32(offset + 4, true) * 4294967296 + view.getUint32(offset, true);
      if (!perCpu) add(key, u64(base));
      else if (addCpu) {
        for (let cpu = 0; cpu < cpus; cpu++) {
          const raw = new Uint8Array(key.length + 2);
          raw.set(key);
          new DataView(raw.buffer).setUint16(key.length, cpu, true);
          add(raw, u64(base + cpu * stride));
        }
      } else {
        // ebpf_exporter emits one value per CPU under the same labels, then sums equal label sets.
        let sum = 0;
        for (let cpu = 0; cpu < cpus; cpu++) sum += u64(base + cpu * stride);
        add(key, sum);
      }
    }
    await yieldTurn();
  }
  return [...rows.values()];
}

function labelInner(names: readonly string[], values: readonly string[]): string {
  let text = '';
  for (let i = 0; i < names.length; i++) text += `${i === 0 ? '' : ','}${names[i] as string}="${escapeLabelValue(values[i] as string)}"`;
  return text;
}

/** Writes one configured counter. */
export async function writeCounter(config: CounterConfig, map: BpfMap, writer: ExpositionWriter, batchSize: number, yieldTurn: Yield): Promise<number> {
  const rows = await readRows(map, config.labels, batchSize, yieldTurn);
  const family = writer.family(`${EBPF_EXPORTER_PREFIX}_${config.name}`, 'counter', config.help);
  const names = config.labels.map((label) => label.name);
  for (const row of rows) {
    const inner = labelInner(names, row.labels);
    family.sample(inner === '' ? '' : `{${inner}}`, row.value);
  }
  family.close();
  return rows.length;
}

/** ebpf_exporter's bucket keyer: the upper bound of bucket `bucket`. */
export function bucketBound(config: HistogramConfig, bucket: number): number {
  const multiplier = config.bucketMultiplier;
  switch (config.bucketType) {
    case 'exp2': return 2 ** bucket * multiplier;
    case 'exp2zero': return bucket === 0 ? 0 : 2 ** (bucket - 1) * multiplier;
    case 'linear':
    case 'fixed': return bucket * multiplier;
  }
}

/** Go's strconv.ParseUint(text, 0, 64) for the bucket label. */
function parseBucket(text: string): number | undefined {
  const match = /^(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*)$/.exec(text);
  if (match === null) return undefined;
  let digits = text.replace(/_/g, '');
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const value = Number(BigInt(digits));
  return value;
}

/** Writes one configured histogram. */
export async function writeHistogram(config: HistogramConfig, map: BpfMap, writer: ExpositionWriter, batchSize: number, yieldTurn: Yield): Promise<number> {
  const rows = await readRows(map, config.labels, batchSize, yieldTurn);
  const groups = new Map<string, { labels: string[]; buckets: Map<number, number> }>();
  for (const row of rows) {
    const labels = row.labels.slice(0, -1);
    const bucketText = row.labels[row.labels.length - 1] as string;
    const bucket = parseBucket(bucketText);
    // ebpf_exporter drops the whole metric for this scrape when a bucket is not a number.
    if (bucket === undefined) throw new Error(`bucket label '${bucketText}' is not an unsigned integer`);
    const key = JSON.stringify(labels);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { labels, buckets: new Map() }));
    group.buckets.set(bucket, row.value);
  }
  const family = writer.family(`${EBPF_EXPORTER_PREFIX}_${config.name}`, 'histogram', config.help);
  const names = config.labels.slice(0, -1).map((label) => label.name);
  const keys = config.bucketType === 'fixed' ? config.bucketKeys : Array.from({ length: config.bucketMax - config.bucketMin + 1 }, (_, i) => config.bucketMin + i);
  for (const group of groups.values()) {
    // Backfill missing buckets from the configuration, as ebpf_exporter does; bounds in increasing order.
    const points = keys.map((key) => ({ bound: bucketBound(config, key), count: group.buckets.get(key) ?? 0 }));
    let count = 0;
    const cumulativeByBound = new Map<number, number>();
    for (const point of points) {
      count += point.count;
      cumulativeByBound.set(point.bound, count);
    }
    const bounds = [...cumulativeByBound.keys()].sort((a, b) => a - b);
    const cumulative = bounds.map((bound) => cumulativeByBound.get(bound) as number);
    const sumKey = config.bucketType === 'fixed' ? (keys[keys.length - 1] as number) + 1 : config.bucketMax + 1;
    const sum = (group.buckets.get(sumKey) ?? 0) * config.bucketMultiplier;
    family.histogram(labelInner(names, group.labels), bounds, cumulative, count, sum);
  }
  family.close();
  return groups.size;
}
