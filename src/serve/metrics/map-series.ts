/**
 * One pass over a map, turned into zero-config series by its plan: one gauge family per value
 * member, one histogram family per `slots` array (or one for a key with a bucket index), key
 * members as labels, per-CPU values summed (or split by a `cpu` label).
 */
import type { BpfMap } from '../../map/bpf-map.js';
import { possibleCpus } from '../../sys/cpus.js';
import { roundUp8 } from '../../sys/layout.js';
import type { LabelPlan, MapPlan } from './btf-plan.js';
import type { ChunkBuffer, ExpositionWriter, FamilyWriter } from './exposition.js';
import { metricName, uniqueNames } from './names.js';
import { compileSeries, type CompiledSeries, type SeriesCount, type SeriesShape } from './series-code.js';
import { MAX_SAMPLE_BYTES, WORD_SLACK, byteSpan, copyBytes, copyWords, wordSpan, writeSampleValue, writeUnsigned, type WordSpan } from './text-bytes.js';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const CPU_OPENING = byteSpan(Buffer.from('cpu="', 'latin1'));
/** `,cpu="4294967295"`: the most a `cpu` label adds to a label set. */
const CPU_LABEL_BYTES = 1 + CPU_OPENING.bytes.length + 10 + 1;

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

/** Generated loops by plan and shape: a plan lives as long as the exporter keeps its map's. */
const compiledByPlan = new WeakMap<MapPlan, Map<string, CompiledSeries>>();

/** The generated loop of `plan` for `shape`, built on first use. */
function compiledSeries(plan: MapPlan, shape: SeriesShape): CompiledSeries {
  let byShape = compiledByPlan.get(plan);
  if (byShape === undefined) compiledByPlan.set(plan, (byShape = new Map()));
  const key = `${shape.cpus}/${shape.cpuStride}/${shape.names.join('\n')}`;
  let compiled = byShape.get(key);
  if (compiled === undefined) byShape.set(key, (compiled = compileSeries(plan, shape)));
  return compiled;
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
    const splitCpus = map.perCpu && options.perCpuLabel;
    if (!plan.keyBucket && plan.slots.length === 0 && !splitCpus) {
      // Gauges only, summed over CPUs: the loop generated for this map (series-code.ts).
      const compiled = compiledSeries(plan, { names: sampleFamilies.map((family) => family.sampleName), cpus, cpuStride });
      const counts: SeriesCount = { labelSets: 0, dropped: 0, limit: options.seriesLimit };
      const targets: ChunkBuffer[] = [];
      for (const batch of map.batches({ batchSize: options.batchSize })) {
        const { keys, values } = batch;
        const keyView = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
        const valueView = new DataView(values.buffer, values.byteOffset, values.byteLength);
        // Looked up once per batch: a family only becomes live when one before it closes.
        targets.length = 0;
        for (const family of sampleFamilies) targets.push(family.target());
        compiled.writeBatch(keys, keyView, batch.keySize, values, valueView, batch.valueStride, batch.count, targets, counts);
        result.entries += batch.count;
        await yieldTurn();
      }
      result.dropped = counts.dropped;
      return result;
    }
    const keyLabels = plan.keyLabels;
    const valueLabels = plan.valueLabels;
    // `name="` of each label (with the comma before all but the first) as bytes, made once.
    const openings = [...keyLabels, ...valueLabels].map((l, i) => wordSpan(`${i === 0 ? '' : ','}${l.name}="`));
    const keyOpenings = openings.slice(0, keyLabels.length);
    const valueOpenings = openings.slice(keyLabels.length);
    // The label set of an entry, `{` + labels + `} `, written once into this reusable buffer and
    // copied into each family's line. It is sized for the longest possible values plus a `cpu`
    // label and the words `copyWords` writes and reads past the end, and zeroed first: it only
    // ever holds text, which is what `copyWords` may copy.
    let bound = 1 + CPU_LABEL_BYTES + 2 + WORD_SLACK;
    [...keyLabels, ...valueLabels].forEach((label, i) => (bound += (openings[i] as WordSpan).length + label.maxBytes + 1));
    const labelBytes = Buffer.alloc(bound);
    const labelView = new DataView(labelBytes.buffer, labelBytes.byteOffset, labelBytes.byteLength);
    labelBytes[0] = OPEN_BRACE;
    // Each sample family's name, padded for `copyWords`.
    const sampleNames = sampleFamilies.map((family) => wordSpan(family.sampleName));
    const lineBound = Math.max(0, ...sampleNames.map((name) => name.length)) + bound + MAX_SAMPLE_BYTES + 1 + WORD_SLACK;
    // Where each sample family's lines go during a batch (looked up once per batch: a family only
    // becomes live when one before it closes, never inside this pass).
    const targets: ChunkBuffer[] = [];
    const sums = new Float64Array(plan.samples.length);
    const slotCounts = plan.slots.map((slots) => new Float64Array(slots.length));
    // Key-bucket histograms gather the whole map first: buckets of one label set come in any order.
    const bucketGroups = new Map<string, Map<number, number>>();
    let labelSets = 0;

    /** Writes the series of one label set: `labelBytes[1, innerEnd)`, the labels without braces. */
    const emit = (innerEnd: number): void => {
      if (labelSets >= options.seriesLimit) {
        result.dropped++;
        return;
      }
      labelSets++;
      // `{labels} ` (or a lone space when there are no labels) follows each family's name.
      let setLength = 0;
      if (innerEnd > 1) {
        labelBytes[innerEnd] = CLOSE_BRACE;
        labelBytes[innerEnd + 1] = SPACE;
        setLength = innerEnd + 2;
      }
      for (let s = 0; s < targets.length; s++) {
        const target = targets[s] as ChunkBuffer;
        if (target.at + lineBound > target.bytes.length) target.room(lineBound);
        const out = target.bytes;
        const outView = target.view;
        const name = sampleNames[s] as WordSpan;
        let at = copyWords(outView, target.at, name.view, 0, name.length);
        if (setLength > 0) at = copyWords(outView, at, labelView, 0, setLength);
        else out[at++] = SPACE;
        at = writeSampleValue(out, at, sums[s] as number);
        out[at++] = NEWLINE;
        target.at = at;
      }
      if (slotFamilies.length === 0) return;
      const inner = labelBytes.toString('utf8', 1, innerEnd);
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
      const keys = batch.keys;
      const values = batch.values;
      const keyView = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
      const valueView = new DataView(values.buffer, values.byteOffset, values.byteLength);
      targets.length = 0;
      for (const family of sampleFamilies) targets.push(family.target());
      for (let e = 0; e < batch.count; e++) {
        result.entries++;
        const keyOffset = e * batch.keySize;
        const valueOffset = e * batch.valueStride;
        let length = 1;
        for (let l = 0; l < keyLabels.length; l++) {
          const opening = keyOpenings[l] as WordSpan;
          length = copyWords(labelView, length, opening.view, 0, opening.length);
          length = (keyLabels[l] as LabelPlan).write(labelBytes, length, keys, keyView, keyOffset);
          labelBytes[length++] = QUOTE;
        }
        for (let l = 0; l < valueLabels.length; l++) {
          const opening = valueOpenings[l] as WordSpan;
          length = copyWords(labelView, length, opening.view, 0, opening.length);
          length = (valueLabels[l] as LabelPlan).write(labelBytes, length, values, valueView, valueOffset);
          labelBytes[length++] = QUOTE;
        }

        if (plan.keyBucket) {
          let count = 0;
          const read = (plan.samples[0] as MapPlan['samples'][number]).read;
          for (let c = 0; c < cpus; c++) count += read(valueView, valueOffset + c * cpuStride);
          const bucket = plan.keyBucket.bucket(keyView, keyOffset);
          const inner = labelBytes.toString('utf8', 1, length);
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
          if (c < 0) {
            emit(length);
          } else {
            // `cpu="N"` after the entry's labels (the entry's own bytes stay, each CPU rewrites the tail).
            let at = length;
            if (at > 1) labelBytes[at++] = COMMA;
            at = copyBytes(labelBytes, labelView, at, CPU_OPENING.bytes, CPU_OPENING.view, 0, CPU_OPENING.bytes.length);
            at = writeUnsigned(labelBytes, at, c);
            labelBytes[at++] = QUOTE;
            emit(at);
          }
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
