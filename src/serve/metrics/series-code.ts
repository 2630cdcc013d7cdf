/**
 * The scrape's hot loop, generated per map: one JavaScript function, built once with `new Function`
 * for a map's plan and family names, that turns a batch of entries into the gauge lines of every
 * value member. Offsets, sizes, label openings and family names are constants in its source, and
 * integer labels and members are read inline, so nothing in the loop indexes a plan, loops over
 * labels or calls through a closure. The generic loop of map-series.ts writes the same bytes (and
 * stays for histograms and `cpu` labels); test/serve/07-byte-path.test.ts holds both to a plain
 * string rendering.
 *
 * Each entry's label set, `{a="..",b=".."} ` (or a lone space without labels), is written once
 * into a scratch buffer, then copied after each family's name with whole 8-byte words
 * (`copyWords`: the scratch only ever holds text, and its zeroed slack covers the words past the
 * end).
 */
import type { LabelPlan, MapPlan, NumberLayout } from './btf-plan.js';
import type { ChunkBuffer } from './exposition.js';
import { MAX_SAMPLE_BYTES, WORD_SLACK, wordSpan, writeI64, writeInteger, writeSampleValue, writeU64, writeUint32, type WordSpan } from './text-bytes.js';

/** Label sets written so far in a map's pass, against its limit; the batch writer updates it. */
export interface SeriesCount {
  labelSets: number;
  dropped: number;
  readonly limit: number;
}

/**
 * Writes the lines of `count` entries of one batch, one line per sample family into
 * `targets[family]`. Label sets past `counts.limit` are counted as dropped and not written.
 */
export type BatchLinesWriter = (keys: Uint8Array, keyView: DataView, keySize: number, values: Uint8Array, valueView: DataView, valueStride: number, count: number, targets: readonly ChunkBuffer[], counts: SeriesCount) => void;

/** The shape of a map's entries that its generated writer is built for. */
export interface SeriesShape {
  /** The sample families' sample names, in the plan's sample order. */
  readonly names: readonly string[];
  /** Per-CPU copies summed for each sample (1 for other maps). */
  readonly cpus: number;
  /** Bytes between per-CPU copies of a value (0 for other maps). */
  readonly cpuStride: number;
}

/** The runtime a generated writer gets (its only free variables). */
interface Runtime {
  readonly writeInteger: typeof writeInteger;
  readonly writeU64: typeof writeU64;
  readonly writeI64: typeof writeI64;
  readonly writeSampleValue: typeof writeSampleValue;
  readonly writeUint32: typeof writeUint32;
  /** Label writers of labels that are not plain integers. */
  readonly labelWriters: readonly LabelPlan['write'][];
  /** Readers of samples that are not plain numbers (bitfields). */
  readonly sampleReaders: readonly MapPlan['samples'][number]['read'][];
  /** The constant pieces of the label set and the family names, padded for word copies. */
  readonly pieces: readonly WordSpan[];
  readonly names: readonly WordSpan[];
  readonly labelBytes: Buffer;
  readonly labelView: DataView;
}

/** Source that reads the number at `layout` from `view` at `base` + its offset. */
function numberExpression(layout: NumberLayout, view: string, base: string): string {
  const at = `${base} + ${layout.offset}`;
  if (layout.kind === 'float') return layout.size === 8 ? `${view}.getFloat64(${at}, true)` : `${view}.getFloat32(${at}, true)`;
  switch (layout.size) {
    case 1: return `${view}.${layout.signed ? 'getInt8' : 'getUint8'}(${at})`;
    case 2: return `${view}.${layout.signed ? 'getInt16' : 'getUint16'}(${at}, true)`;
    case 4: return `${view}.${layout.signed ? 'getInt32' : 'getUint32'}(${at}, true)`;
    default: return `${view}.${layout.signed ? 'getInt32' : 'getUint32'}(${at} + 4, true) * 4294967296 + ${view}.getUint32(${at}, true)`;
  }
}

/** Source that copies the padded constant `span` (named `name`) to `view` at `position`, then moves `position` past it. */
function constantCopy(span: WordSpan, name: string, view: string, position: string): string[] {
  const lines: string[] = [];
  for (let word = 0; word < span.length; word += 8) lines.push(`${view}.setFloat64(${position} + ${word}, ${name}.getFloat64(${word}, true), true);`);
  lines.push(`${position} += ${span.length};`);
  return lines;
}

/** A generated batch writer, with the line bound its targets need room for. */
export interface CompiledSeries {
  readonly writeBatch: BatchLinesWriter;
  /** Most bytes one line takes, slack included. */
  readonly lineBound: number;
}

/**
 * Builds the batch writer of a plan without histograms (no `slots`, no bucket key) whose samples
 * are summed over CPUs. Same bytes as map-series.ts's generic loop.
 */
export function compileSeries(plan: MapPlan, shape: SeriesShape): CompiledSeries {
  const labels = [...plan.keyLabels.map((label) => ({ label, fromKey: true })), ...plan.valueLabels.map((label) => ({ label, fromKey: false }))];
  // Constant pieces: `a="` after the `{`, `",b="` between labels, `"} ` at the end (or ` ` alone).
  const pieceTexts = labels.length === 0 ? [' '] : labels.map(({ label }, i) => `${i === 0 ? '' : '",'}${label.name}="`).concat('"} ');
  const pieces = pieceTexts.map((text) => wordSpan(text));
  const names = shape.names.map((name) => wordSpan(name));
  // The `{`, the pieces, the longest values, and the slack of the last word copied.
  let scratchBound = 1 + WORD_SLACK;
  for (const piece of pieces) scratchBound += piece.length;
  for (const { label } of labels) scratchBound += label.maxBytes;
  // Zeroed: the scratch holds only text, so words past a label set's end are text or zeros.
  const labelBytes = Buffer.alloc(scratchBound);
  labelBytes[0] = 0x7b; // `{`, never overwritten: label sets start after it
  const lineBound = Math.max(0, ...names.map((name) => name.length)) + WORD_SLACK + scratchBound + MAX_SAMPLE_BYTES + 1;

  const labelWriters: LabelPlan['write'][] = [];
  const sampleReaders: MapPlan['samples'][number]['read'][] = [];
  const body: string[] = [];
  body.push(`let L = ${labels.length === 0 ? 0 : 1};`);
  labels.forEach(({ label, fromKey }, i) => {
    body.push(...constantCopy(pieces[i] as WordSpan, `P${i}`, 'lv', 'L'));
    const [bytes, view, base] = fromKey ? ['keys', 'kv', 'k'] : ['values', 'vv', 'v'];
    const integer = label.integer;
    if (integer !== undefined && integer.kind === 'int' && integer.size === 8) {
      body.push(`L = ${integer.signed ? 'writeI64' : 'writeU64'}(lb, L, ${view}, ${base} + ${integer.offset});`);
    } else if (integer !== undefined && integer.kind === 'int') {
      body.push(`L = ${integer.signed ? 'writeInteger' : 'writeUint32'}(lb, L, ${numberExpression(integer, view, base)});`);
    } else {
      body.push(`L = W${labelWriters.length}(lb, L, ${bytes}, ${view}, ${base});`);
      labelWriters.push(label.write);
    }
  });
  body.push(...constantCopy(pieces[pieces.length - 1] as WordSpan, `P${pieces.length - 1}`, 'lv', 'L'));

  // Samples: each summed over the CPUs in order, from 0 (as the generic loop does: 0 + -0 is 0).
  const sums = plan.samples.map((sample, s) => {
    if (sample.layout !== undefined) return (base: string): string => numberExpression(sample.layout as NumberLayout, 'vv', base);
    const reader = `R${sampleReaders.length}`;
    sampleReaders.push(sample.read);
    return (base: string): string => `${reader}(vv, ${base} + 0)`;
  });
  for (let s = 0; s < sums.length; s++) body.push(`let s${s} = 0;`);
  if (shape.cpus === 1) {
    sums.forEach((sum, s) => body.push(`s${s} += ${sum('v')};`));
  } else {
    body.push(`for (let c = 0; c < ${shape.cpus}; c++) {`, `  const x = v + c * ${shape.cpuStride};`);
    sums.forEach((sum, s) => body.push(`  s${s} += ${sum('x')};`));
    body.push('}');
  }
  const unsigned = plan.samples.map((sample) => sample.layout !== undefined && sample.layout.kind === 'int' && !sample.layout.signed);
  names.forEach((name, s) => {
    body.push(
      `if (t${s}.at + ${lineBound} > t${s}.bytes.length) t${s}.room(${lineBound});`,
      '{',
      `  const out = t${s}.bytes;`,
      `  const ov = t${s}.view;`,
      `  let at = t${s}.at;`,
      ...constantCopy(name, `N${s}`, 'ov', 'at').map((line) => `  ${line}`),
      '  for (let i = 0; i < L; i += 8) ov.setFloat64(at + i, lv.getFloat64(i, true), true);',
      '  at += L;',
      // Unsigned members sum to non-negative integers: most are under 2^32.
      unsigned[s] ? `  at = s${s} < 4294967296 ? writeUint32(out, at, s${s}) : writeSampleValue(out, at, s${s});` : `  at = writeSampleValue(out, at, s${s});`,
      '  out[at++] = 10;',
      `  t${s}.at = at;`,
      '}',
    );
  });

  const source = [
    "'use strict';",
    'const { writeInteger, writeU64, writeI64, writeSampleValue, writeUint32, labelBytes: lb, labelView: lv } = rt;',
    ...pieces.map((_, i) => `const P${i} = rt.pieces[${i}].view;`),
    ...names.map((_, i) => `const N${i} = rt.names[${i}].view;`),
    ...labelWriters.map((_, i) => `const W${i} = rt.labelWriters[${i}];`),
    ...sampleReaders.map((_, i) => `const R${i} = rt.sampleReaders[${i}];`),
    'return function writeBatch(keys, kv, keySize, values, vv, valueStride, count, targets, counts) {',
    ...names.map((_, s) => `  const t${s} = targets[${s}];`),
    '  let labelSets = counts.labelSets;',
    '  let dropped = counts.dropped;',
    '  const limit = counts.limit;',
    '  for (let e = 0; e < count; e++) {',
    '    if (labelSets >= limit) {',
    '      dropped++;',
    '      continue;',
    '    }',
    '    labelSets++;',
    '    const k = e * keySize;',
    '    const v = e * valueStride;',
    ...body.map((line) => `    ${line}`),
    '  }',
    '  counts.labelSets = labelSets;',
    '  counts.dropped = dropped;',
    '};',
  ].join('\n');
  const runtime: Runtime = {
    writeInteger, writeU64, writeI64, writeSampleValue, writeUint32, labelWriters, sampleReaders, pieces, names, labelBytes,
    labelView: new DataView(labelBytes.buffer, labelBytes.byteOffset, labelBytes.byteLength),
  };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generating the loop is the point
  const factory = new Function('rt', source) as (rt: Runtime) => BatchLinesWriter;
  return { writeBatch: factory(runtime), lineBound };
}
