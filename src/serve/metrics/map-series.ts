/**
 * One pass over a map, turned into zero-config series by its plan: one gauge family per value
 * member, one histogram family per `slots` array (or one for a key with a bucket index), key
 * members as labels, per-CPU values summed (or split by a `cpu` label).
 */
import type { BpfMap } from '../../map/bpf-map.js';
import { possibleCpus } from '../../sys/cpus.js';
import { roundUp8 } from '../../sys/layout.js';
import type { MapPlan } from './btf-plan.js';
import type { ExpositionWriter, FamilyWriter } from './exposition.js';
import { escapeLabelValue, metricName, uniqueNames } from './names.js';

/** Options of the zero-config series. */
export interface MapSeriesOptions {
  /** Metric name prefix (default `bpfmap`). */
  readonly prefix: string;
  /** One series per CPU (a `cpu` label) instead of per-CPU sums. */
  readonly perCpuLabel: boolean;
  /** Label sets per map beyond which entries are dropped (and counted). */
  readonly seriesLimit: number;
  /** Entries per batch lookup. */
  readonly batchSize: number;
}

/** What a pass saw. */
export interface MapSeriesResult {
  /** Entries read. */
  entries: number;
  /** Label sets dropped by the series limit. */
  dropped: number;
}

/** Gives other work (HTTP writes, other scrapes) a turn between batches. */
export type Yield = () => Promise<void>;

/** Upper bound of log2 slot i: values in [2^i, 2^(i+1) - 1] (slot 0 also holds 0). */
export function slotUpperBound(slot: number): number {
  return 2 ** (slot + 1) - 1;
}

/** The family names of a map's plan (unique within the map). */
export function familyNames(base: string, plan: MapPlan): { samples: string[]; slots: string[] } {
  const raw = [
    ...plan.samples.map((sample) => (sample.path === '' ? base : `${base}_${metricName(sample.path)}`)),
    ...plan.slots.map((slots) => (slots.path === '' ? base : `${base}_${metricName(slots.path)}`)),
  ];
  const names = uniqueNames(raw);
  return { samples: names.slice(0, plan.samples.length), slots: names.slice(plan.samples.length) };
}

/** Reads `map` once and writes its series. Families are opened here and closed before returning. */
export async function writeMapSeries(map: BpfMap, plan: MapPlan, base: string, writer: ExpositionWriter, options: MapSeriesOptions, yieldTurn: Yield): Promise<MapSeriesResult> {
  const names = familyNames(base, plan);
  const what = `map '${map.name}' id ${map.id}`;
  // With a bucket index in the key, the one value member is the bucket's count, not a gauge.
  const sampleFamilies: FamilyWriter[] = plan.keyBucket ? [] : plan.samples.map((sample, i) => writer.family(names.samples[i] as string, 'gauge', `Value member ${sample.path || '(scalar)'} of ${what}`));
  const slotFamilies: FamilyWriter[] = plan.slots.map((slots, i) => writer.family(names.slots[i] as string, 'histogram', `Log2 histogram ${slots.path || 'slots'} of ${what}: slot i counts values from 2^i to 2^(i+1)-1`));
  const bucketFamily = plan.keyBucket ? writer.family(`${base}_${metricName(plan.keyBucket.member)}`, 'histogram', `Histogram of ${what} by key member ${plan.keyBucket.member}: bucket i counts values up to 2^i`) : undefined;
  const result: MapSeriesResult = { entries: 0, dropped: 0 };
  try {
    const cpus = map.perCpu ? possibleCpus() : 1;
    const cpuStride = map.perCpu ? roundUp8(map.valueSize) : 0;
    const labels = [...plan.keyLabels, ...plan.valueLabels];
    const labelNames = labels.map((l) => l.name);
    // `name="` (with the comma before all but the first), and whether values need escaping.
    const labelOpenings = labels.map((l, i) => `${i === 0 ? '' : ','}${l.name}="`);
    const labelEscapes = labels.map((l) => l.escape !== false);
    const splitCpus = map.perCpu && options.perCpuLabel;
    const labelValues: string[] = new Array<string>(labelNames.length).fill('');
    const sums = new Float64Array(plan.samples.length);
    const slotCounts = plan.slots.map((slots) => new Float64Array(slots.length));
    // Key-bucket histograms gather the whole map first: buckets of one label set come in any order.
    const bucketGroups = new Map<string, Map<number, number>>();
    let labelSets = 0;

    const emit = (inner: string): void => {
      if (labelSets >= options.seriesLimit) {
        result.dropped++;
        return;
      }
      labelSets++;
      const braced = inner === '' ? '' : `{${inner}}`;
      for (let s = 0; s < sampleFamilies.length; s++) (sampleFamilies[s] as FamilyWriter).sample(braced, sums[s] as number);
      for (let h = 0; h < slotFamilies.length; h++) {
        const counts = slotCounts[h] as Float64Array;
        const bounds: number[] = [];
        const cumulative: number[] = [];
        let total = 0;
        for (let i = 0; i < counts.length; i++) {
          total += counts[i] as number;
          bounds.push(slotUpperBound(i));
          cumulative.push(total);
        }
        (slotFamilies[h] as FamilyWriter).histogram(inner, bounds, cumulative, total, undefined);
      }
    };

    for (const batch of map.batches({ batchSize: options.batchSize })) {
      const keyView = new DataView(batch.keys.buffer, batch.keys.byteOffset, batch.keys.byteLength);
      const valueView = new DataView(batch.values.buffer, batch.values.byteOffset, batch.values.byteLength);
      for (let e = 0; e < batch.count; e++) {
        result.entries++;
        const keyOffset = e * batch.keySize;
        const valueOffset = e * batch.valueStride;
        let l = 0;
        for (const label of plan.keyLabels) labelValues[l++] = label.read(batch.keys, keyView, keyOffset);
        for (const label of plan.valueLabels) labelValues[l++] = label.read(batch.values, valueView, valueOffset);
        let inner = '';
        for (let i = 0; i < labelOpenings.length; i++) {
          const raw = labelValues[i] as string;
          inner += `${labelOpenings[i] as string}${labelEscapes[i] ? escapeLabelValue(raw) : raw}"`;
        }

        if (plan.keyBucket) {
          let count = 0;
          const read = (plan.samples[0] as MapPlan['samples'][number]).read;
          for (let c = 0; c < cpus; c++) count += read(valueView, valueOffset + c * cpuStride);
          const bucket = plan.keyBucket.bucket(keyView, keyOffset);
          let group = bucketGroups.get(inner);
          if (group === undefined) bucketGroups.set(inner, (group = new Map()));
          group.set(bucket, (group.get(bucket) ?? 0) + count);
          continue;
        }

        for (let c = splitCpus ? 0 : -1; c < (splitCpus ? cpus : 0); c++) {
          const first = c < 0 ? 0 : c;
          const last = c < 0 ? cpus : c + 1;
          for (let s = 0; s < plan.samples.length; s++) {
            const read = (plan.samples[s] as MapPlan['samples'][number]).read;
            let sum = 0;
            for (let cpu = first; cpu < last; cpu++) sum += read(valueView, valueOffset + cpu * cpuStride);
            sums[s] = sum;
          }
          for (let h = 0; h < plan.slots.length; h++) {
            const slots = plan.slots[h] as MapPlan['slots'][number];
            const counts = slotCounts[h] as Float64Array;
            counts.fill(0);
            for (let cpu = first; cpu < last; cpu++) {
              const start = valueOffset + cpu * cpuStride + slots.offset;
              for (let i = 0; i < slots.length; i++) counts[i] = (counts[i] as number) + slots.read(valueView, start + i * slots.elementSize);
            }
          }
          emit(c < 0 ? inner : `${inner}${inner === '' ? '' : ','}cpu="${c}"`);
        }
      }
      await yieldTurn();
    }

    if (bucketFamily) {
      for (const [inner, group] of bucketGroups) {
        if (labelSets >= options.seriesLimit) {
          result.dropped++;
          continue;
        }
        labelSets++;
        const maxBucket = Math.max(0, ...group.keys());
        const bounds: number[] = [];
        const cumulative: number[] = [];
        let total = 0;
        for (let i = 0; i <= maxBucket; i++) {
          total += group.get(i) ?? 0;
          bounds.push(2 ** i);
          cumulative.push(total);
        }
        bucketFamily.histogram(inner, bounds, cumulative, total, undefined);
      }
    }
  } finally {
    for (const family of sampleFamilies) family.close();
    for (const family of slotFamilies) family.close();
    bucketFamily?.close();
  }
  return result;
}
