/**
 * `watch MAP [--interval S] [--per-cpu]`: a live table of the map, redrawn every interval: one row
 * per key, the value (decoded through BTF when the map has it), and `FIELD/s`, the rate of change
 * per second of every numeric field since the previous redraw. Per-CPU values are summed; with
 * `--per-cpu` each CPU gets a column too. On a terminal it takes the alternate screen and hides
 * the cursor until `q` or Ctrl-C, then gives the terminal back as it was. On a pipe it prints
 * one table per interval. With `-j`, one JSON document per interval instead. A map that no loaded
 * program uses any more (its tool exited; a pin keeps it) is marked orphaned in the header.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BpfMap } from '../../map/bpf-map.js';
import { isKeylessType } from '../../sys/constants.js';
import { entryShapeOf, type Command, type CommandContext } from '../command.js';
import { hexLine } from '../entries.js';
import { fieldFormatOptionOf, mapTypesOf, type MapTypes } from '../formatter.js';
import { UsageError, parseMapRef, parseSeconds } from '../grammar.js';
import { Interrupt } from '../interrupt.js';
import { mapLabel, openMap } from '../map-ref.js';
import { programsUsingMap } from '../../map/map-users.js';
import { Output, Writer } from '../output.js';
import { Screen } from '../screen.js';
import { DecodedTable } from '../table.js';
import { WatchRates, type WatchSample } from '../watch-frame.js';

const DEFAULT_INTERVAL_MS = 1000;
/** How often watch asks again whether any program uses the map (it walks every program). */
const ORPHAN_CHECK_MS = 2000;

/**
 * Whether any loaded program still uses the map, asked at most every ORPHAN_CHECK_MS. A map whose
 * programs are gone (its tool exited, a pin keeps it) no longer changes from the kernel side.
 */
class OrphanCheck {
  #checkedAt = -Infinity;
  #orphaned = false;

  constructor(readonly map: BpfMap) {}

  orphaned(now: number): boolean {
    if (now - this.#checkedAt < ORPHAN_CHECK_MS) return this.#orphaned;
    this.#checkedAt = now;
    this.#orphaned = programsUsingMap(this.map).length === 0;
    return this.#orphaned;
  }
}

/** What the header says of an orphaned map. */
export const ORPHANED_NOTE = 'orphaned: no program uses this map';

/** A writer that keeps lines in memory, so a table can be drawn as one frame. */
class LineCollector extends Writer {
  #text = '';

  override write(text: string): void {
    this.#text += text;
  }

  override flush(): void {}

  /** The lines written so far. */
  lines(): string[] {
    return this.#text.split('\n').slice(0, -1);
  }
}

/**
 * Raw bytes as watch shows them: 1, 2, 4 and 8-byte little-endian integers as numbers (so
 * counters get rates), anything else as hex.
 */
function rawScalar(bytes: Uint8Array, offset: number, size: number): number | bigint | string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (size) {
    case 1: return view.getUint8(offset);
    case 2: return view.getUint16(offset, true);
    case 4: return view.getUint32(offset, true);
    case 8: {
      const value = view.getBigUint64(offset, true);
      return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
    }
    default: return hexLine(bytes, offset, size);
  }
}

/**
 * The value's fields that are not counters by their BTF type: enums (numbers only when the value
 * has no name) and pointers, and fields `--format`/`--net` show as ports or addresses. For a
 * value that is itself one, its single field `value`.
 */
function ratelessMembers(types: MapTypes): Set<string> {
  const rateless = new Set<string>();
  if (types.valueTypeId === 0) return rateless;
  const plan = types.valuePlan;
  if (plan?.format !== undefined) rateless.add('value');
  const notCounter = (typeId: number): boolean => {
    const kind = types.btf.resolve(typeId).kind;
    return kind === 'enum' || kind === 'enum64' || kind === 'ptr';
  };
  const value = types.btf.resolve(types.valueTypeId);
  if (value.kind === 'struct' || value.kind === 'union') {
    for (const [index, member] of value.members.entries()) {
      if (member.name !== '' && (notCounter(member.type) || plan?.members?.[index]?.format !== undefined)) rateless.add(member.name);
    }
  } else if (notCounter(types.valueTypeId)) {
    rateless.add('value');
  }
  return rateless;
}

/** Reads every entry of the map, decoded, one value per CPU. */
function sampler(map: BpfMap, formatter: Awaited<ReturnType<typeof mapTypesOf>>): () => WatchSample[] {
  const shape = entryShapeOf(map);
  const decodeKey = formatter?.formatter?.key ?? ((bytes: Uint8Array, offset: number) => rawScalar(bytes, offset, shape.keySize));
  const decodeValue = formatter?.formatter?.value ?? ((bytes: Uint8Array, offset: number) => rawScalar(bytes, offset, shape.valueSize));
  return () => {
    const samples: WatchSample[] = [];
    for (const batch of map.batches()) {
      for (let i = 0; i < batch.count; i++) {
        const values: unknown[] = [];
        for (let cpu = 0; cpu < shape.cpus; cpu++) values.push(decodeValue(batch.values, i * batch.valueStride + cpu * shape.cpuStride));
        samples.push({ key: decodeKey(batch.keys, i * batch.keySize), values });
      }
    }
    return samples;
  };
}

async function run({ args, options, out }: CommandContext): Promise<void> {
  const ref = parseMapRef(args);
  args.end();
  const intervalOption = options.value('interval');
  const intervalMs = intervalOption === undefined ? DEFAULT_INTERVAL_MS : parseSeconds(intervalOption, '--interval');
  const perCpuColumns = options.flag('per-cpu');
  const format = await fieldFormatOptionOf(options);
  options.end();
  using map = openMap(ref, { readOnly: true });
  if (isKeylessType(map.type)) throw new UsageError(`watch needs a map with keys; ${mapLabel(map)} is ${map.typeName}`);
  if (perCpuColumns && !map.perCpu) throw new UsageError(`--per-cpu: ${mapLabel(map)} is ${map.typeName}, not a per-CPU map`);
  const types = await mapTypesOf(map, format);
  const read = sampler(map, types);
  const rates = new WatchRates(perCpuColumns, types === undefined ? new Set() : ratelessMembers(types));
  const title = `${mapLabel(map)} (${map.typeName}, id ${map.id})`;
  const orphans = new OrphanCheck(map);

  using interrupt = new Interrupt();
  if (out.json) {
    await watchJson(map, read, rates, intervalMs, out, interrupt, orphans);
    return;
  }
  const terminal = process.stdout.isTTY === true;
  using screen = terminal ? new Screen(() => interrupt.abort()) : undefined;
  while (!interrupt.signal.aborted) {
    const rows = rates.rows(read(), performance.now());
    const collector = new LineCollector();
    const table = new DecodedTable(new Output(false, false, collector));
    for (const row of rows) table.add({ key: row.key, value: row.value });
    table.finish();
    const clock = new Date().toTimeString().slice(0, 8);
    const orphaned = orphans.orphaned(performance.now()) ? ` [${ORPHANED_NOTE}]` : '';
    const header = `${title}: ${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}, every ${intervalMs / 1000} s, ${clock}${orphaned}${terminal ? '    q or Ctrl-C quits' : ''}`;
    const lines = [header, '', ...collector.lines()];
    if (screen !== undefined) {
      const hidden = lines.length - screen.rows;
      screen.draw(hidden > 0 ? [...lines.slice(0, screen.rows - 1), `... ${hidden + 1} more rows`] : lines);
    } else {
      for (const line of lines) out.line(line);
      out.line();
      out.flush();
    }
    await sleep(intervalMs, undefined, { signal: interrupt.signal }).catch(() => undefined);
  }
}

/**
 * `-j watch`: one JSON document per interval, a line each (indented with `-p`), for scripts:
 * `{"map": {...}, "time": ISO-8601, "entries": [{"key": ..., "value": {...}}]}` where `value` holds
 * the table's columns: the fields, `FIELD/s` rates (null in the first document), per-CPU columns.
 */
async function watchJson(map: BpfMap, read: () => WatchSample[], rates: WatchRates, intervalMs: number, out: Output, interrupt: Interrupt, orphans: OrphanCheck): Promise<void> {
  while (!interrupt.signal.aborted) {
    const now = performance.now();
    const entries = rates.rows(read(), now).map((row) => ({ key: row.key, value: row.value }));
    const subject = { id: map.id, name: map.name, type: map.typeName, orphaned: orphans.orphaned(now) };
    out.document({ map: subject, time: new Date().toISOString(), interval: intervalMs / 1000, entries });
    out.flush();
    await sleep(intervalMs, undefined, { signal: interrupt.signal }).catch(() => undefined);
  }
}

/** `watch MAP [--interval S] [--per-cpu]`. */
export const watchCommand: Command = { run };
