/**
 * `MapExporter`: the Prometheus exporter of BPF maps that a Node service embeds.
 *
 * A scrape resolves the selectors, reads each map once with batch lookups and writes the
 * exposition in chunks as it goes. Scrapes that arrive while a collection of the same format is
 * running share it: they replay the chunks written so far and follow the rest. One map that
 * cannot be read is counted in `bpfmap_read_errors_total` and the scrape goes on.
 *
 * @example
 * const exporter = new MapExporter({ maps: [{ kind: 'name', name: 'counts' }] });
 * http.createServer(async (req, res) => {
 *   res.setHeader('Content-Type', CONTENT_TYPES.text);
 *   for await (const chunk of exporter.scrape('text')) res.write(chunk);
 *   res.end();
 * });
 */
import type { BpfMap } from '../../map/bpf-map.js';
import { loadMapBtf } from '../../map/btf-map.js';
import type { MapInfo } from '../../map/info.js';
import { BpfMap as BpfMapClass } from '../../map/bpf-map.js';
import { MapType } from '../../sys/constants.js';
import { planMap, type MapPlan } from './btf-plan.js';
import { loadMetricsConfig, type MetricsConfig } from './ebpf-config.js';
import { EBPF_EXPORTER_PREFIX, openConfiguredMap, writeCounter, writeHistogram } from './ebpf-metrics.js';
import { CHUNK_SIZE, ExpositionWriter, type ExpositionFormat, type FamilyWriter } from './exposition.js';
import { writeMapSeries, type MapSeriesOptions } from './map-series.js';
import { labelText, metricName } from './names.js';
import { bpfStatsEnabled, programsUsingMaps } from './programs.js';
import { MapResolver, describeSelector, type ExportSelector } from './selectors.js';

/** Options of a `MapExporter`. */
export interface MapExporterOptions {
  /** Maps exported with zero configuration (`{ kind: 'all' }` for every map). */
  readonly maps?: readonly ExportSelector[];
  /** ebpf_exporter-style metrics: a parsed configuration or the path of its YAML file. */
  readonly config?: MetricsConfig | string;
  /** Metric name prefix of the zero-config series (default `bpfmap`). */
  readonly prefix?: string;
  /** Split per-CPU values by a `cpu` label instead of summing them (default false). */
  readonly perCpuLabel?: boolean;
  /** Label sets per map beyond which entries are dropped and counted (default 250000). */
  readonly seriesLimit?: number;
  /** Entries per batch lookup (default 4096). */
  readonly batchSize?: number;
  /** Export run count and time of the programs using the selected maps (default true). */
  readonly programStats?: boolean;
}

/** Map types whose entries a scrape reads (the others export their info only). */
const READABLE_TYPES = new Set<number>([
  MapType.hash, MapType.array, MapType.percpu_hash, MapType.percpu_array, MapType.lru_hash, MapType.lru_percpu_hash, MapType.lpm_trie,
]);

/** What a scrape learned about one map, for the map-level families written at the end. */
interface MapSummary {
  readonly info: MapInfo;
  readonly entries: number | undefined;
  readonly dropped: number;
  readonly skipped: readonly string[];
}

/** Options of `MapExporter.scrape`. */
export interface ScrapeOptions {
  /**
   * Lend the chunks instead of giving them: each chunk is yours only until you ask for the next
   * one (or leave the loop), and once every scrape that shared the collection has read it to the
   * end, its memory is written again by a later scrape. Copy what you keep. Saves a fresh 64 KiB
   * buffer per chunk (the page faults and garbage collections of megabytes per scrape). A reader
   * that leaves early (break, throw) keeps the collection's chunks from being reused.
   * Default false: every chunk is a buffer of its own that you may keep.
   */
  readonly lend?: boolean;
}

/**
 * Chunk buffers that finished collections gave back, for the next ones: the memory of one
 * exposition is written again instead of being allocated (and page-faulted in) anew per scrape.
 */
class ChunkPool {
  readonly #free: ArrayBuffer[] = [];

  /** At most this many chunks wait in the pool (16 MiB); more go to the garbage collector. */
  static readonly MAX_CHUNKS = 256;

  readonly allocate = (size: number): Buffer => {
    const free = size === CHUNK_SIZE ? this.#free.pop() : undefined;
    return free === undefined ? Buffer.allocUnsafeSlow(size) : Buffer.from(free);
  };

  /** Takes back the buffers behind `chunks`: only whole pool-sized ones, each once. */
  release(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      if (this.#free.length >= ChunkPool.MAX_CHUNKS) return;
      // Chunks are views from offset 0 of buffers made by `allocate` (or, for long text, of their own).
      if (chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK_SIZE) this.#free.push(chunk.buffer as ArrayBuffer);
    }
  }
}

/**
 * A collection that scrapes can share: the chunks so far, and a way to wait for more. Its chunks
 * go back to the pool once it is sealed (no scrape can join any more) and every reader lent them
 * and read to the end.
 */
class Collection {
  readonly chunks: Buffer[] = [];
  done = false;
  error: Error | undefined;
  #waiters: Array<() => void> = [];
  #readers = 0;
  /** A reader that keeps its chunks (or left early): the chunks are never reused. */
  #kept = false;
  #sealed = false;

  constructor(readonly pool: ChunkPool) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.#wake();
  }

  finish(error?: Error): void {
    this.done = true;
    this.error = error;
    this.#wake();
  }

  /** No scrape joins from now on. */
  seal(): void {
    this.#sealed = true;
    this.#recycle();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #recycle(): void {
    if (!this.#sealed || this.#readers > 0 || this.#kept || !this.done) return;
    this.pool.release(this.chunks);
    this.chunks.length = 0;
    // Any later recycle finds nothing to give back.
    this.#kept = true;
  }

  /**
   * A reader of every chunk, from the first, as they come. Counted from now (not from its first
   * `next()`), so the chunks are not reused under a reader that has not started yet.
   */
  reader(lend: boolean): AsyncGenerator<Buffer> {
    this.#readers++;
    if (!lend) this.#kept = true;
    return this.#read();
  }

  async *#read(): AsyncGenerator<Buffer> {
    let index = 0;
    let toTheEnd = false;
    try {
      for (;;) {
        while (index < this.chunks.length) yield this.chunks[index++] as Buffer;
        if (this.done) {
          if (this.error) throw this.error;
          toTheEnd = true;
          return;
        }
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      this.#readers--;
      if (!toTheEnd) this.#kept = true;
      this.#recycle();
    }
  }
}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The exporter. */
export class MapExporter {
  readonly #resolver: MapResolver;
  readonly #config: MetricsConfig | undefined;
  readonly #seriesOptions: MapSeriesOptions;
  readonly #programStats: boolean;
  readonly #plans = new Map<string, MapPlan>();
  readonly #inFlight = new Map<ExpositionFormat, Collection>();
  readonly #pool = new ChunkPool();
  readonly #readErrors = new Map<string, number>();
  #collections = 0;
  #requests = 0;
  /** Configured metrics that could not be read or decoded, since start (ebpf_exporter's decoder_errors_total). */
  #decoderErrors = 0;

  constructor(options: MapExporterOptions = {}) {
    const prefix = options.prefix ?? 'bpfmap';
    if (metricName(prefix) !== prefix) throw Object.assign(new TypeError(`prefix '${prefix}' is not a valid metric name`), { code: 'ERR_BPFMAP_OPTIONS' });
    const seriesLimit = options.seriesLimit ?? 250_000;
    if (!Number.isInteger(seriesLimit) || seriesLimit < 0) throw Object.assign(new RangeError(`seriesLimit must be a non-negative integer, got ${seriesLimit}`), { code: 'ERR_BPFMAP_OPTIONS' });
    this.#resolver = new MapResolver(options.maps ?? []);
    this.#config = typeof options.config === 'string' ? loadMetricsConfig(options.config) : options.config;
    this.#seriesOptions = { prefix, perCpuLabel: options.perCpuLabel ?? false, seriesLimit, batchSize: options.batchSize ?? 4096 };
    this.#programStats = options.programStats ?? true;
    for (const selector of this.#resolver.selectors) this.#readErrors.set(describeSelector(selector), 0);
    for (const metric of [...(this.#config?.counters ?? []), ...(this.#config?.histograms ?? [])]) this.#readErrors.set(`metric ${metric.name}`, 0);
  }

  /** Scrapes so far (shared ones included) and collections actually run. */
  get stats(): { readonly requests: number; readonly collections: number } {
    return { requests: this.#requests, collections: this.#collections };
  }

  /**
   * The exposition of one scrape, in chunks of up to 64 KiB, joining a collection of the same
   * format that is already running. With `{ lend: true }` each chunk is only valid until the next
   * is asked for (see `ScrapeOptions.lend`).
   */
  scrape(format: ExpositionFormat = 'text', options: ScrapeOptions = {}): AsyncGenerator<Buffer> {
    this.#requests++;
    let collection = this.#inFlight.get(format);
    if (collection === undefined) {
      const fresh = new Collection(this.#pool);
      collection = fresh;
      this.#inFlight.set(format, fresh);
      this.#collections++;
      this.#collect(format, (chunk) => fresh.push(chunk)).then(
        () => fresh.finish(),
        (error: unknown) => fresh.finish(error instanceof Error ? error : new Error(String(error))),
      ).finally(() => {
        if (this.#inFlight.get(format) === fresh) this.#inFlight.delete(format);
        fresh.seal();
      });
    }
    return collection.reader(options.lend === true);
  }

  /** The whole exposition of one scrape as a string (for tests and small maps). */
  async text(format: ExpositionFormat = 'text'): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.scrape(format)) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  #countError(source: string): void {
    this.#readErrors.set(source, (this.#readErrors.get(source) ?? 0) + 1);
  }

  #planFor(map: BpfMap): MapPlan {
    const info = map.info;
    const key = `${info.id}:${info.btfId}`;
    let plan = this.#plans.get(key);
    if (plan === undefined) {
      plan = planMap(info, loadMapBtf(info));
      this.#plans.set(key, plan);
    }
    return plan;
  }

  async #collect(format: ExpositionFormat, sink: (chunk: Buffer) => void): Promise<void> {
    const started = process.hrtime.bigint();
    const writer = new ExpositionWriter(format, sink, this.#pool.allocate);
    const summaries: MapSummary[] = [];
    const usedBases = new Set<string>();
    const prefix = this.#seriesOptions.prefix;

    const selection = this.#resolver.resolve();
    for (const failure of selection.errors) this.#countError(failure.selector);
    for (const map of selection.maps) {
      try {
        const info = map.info;
        if (!READABLE_TYPES.has(info.type)) {
          summaries.push({ info, entries: undefined, dropped: 0, skipped: [`${info.typeName} maps: entries are not exported`] });
          continue;
        }
        let base = `${prefix}_${metricName(info.name || `map_${info.id}`)}`;
        if (usedBases.has(base)) base = `${base}_id${info.id}`;
        usedBases.add(base);
        let plan: MapPlan;
        try {
          plan = this.#planFor(map);
        } catch (error) {
          summaries.push({ info, entries: undefined, dropped: 0, skipped: [`BTF not usable: ${(error as Error).message}`] });
          continue;
        }
        try {
          const result = await writeMapSeries(map, plan, base, writer, this.#seriesOptions, yieldTurn);
          summaries.push({ info, entries: result.entries, dropped: result.dropped, skipped: plan.skipped });
        } catch {
          this.#countError(`map ${info.name || info.id}`);
          summaries.push({ info, entries: undefined, dropped: 0, skipped: plan.skipped });
        }
      } finally {
        map.close();
      }
    }

    await this.#writeConfigured(writer);
    this.#writeSelfMetrics(writer, summaries, started);
    writer.finish();
  }

  async #writeConfigured(writer: ExpositionWriter): Promise<void> {
    const config = this.#config;
    if (config === undefined) return;
    let infos: MapInfo[] | undefined;
    const list = (): MapInfo[] => (infos ??= BpfMapClass.list());
    const mapIds = new Set<number>();
    for (const metric of [...config.counters, ...config.histograms]) {
      let map: BpfMap | undefined;
      try {
        map = openConfiguredMap(metric.map, list);
        mapIds.add(map.id);
        if (metric.kind === 'counter') await writeCounter(metric, map, writer, this.#seriesOptions.batchSize, yieldTurn);
        else await writeHistogram(metric, map, writer, this.#seriesOptions.batchSize, yieldTurn);
      } catch {
        this.#countError(`metric ${metric.name}`);
        // ebpf_exporter counts a metric whose map values could not be read or decoded, once per collection.
        this.#decoderErrors++;
      } finally {
        map?.close();
      }
    }
    this.#writeEbpfExporterSelfMetrics(writer, config.name ?? 'config', mapIds);
  }

  /**
   * ebpf_exporter's own self-metrics, with its names, labels and meaning, which dashboards and
   * alerts on ebpf_exporter read: the configuration is enabled, the programs behind it (here: the
   * loaded programs that use its maps, since bpfmap loads none itself), and the decoder errors.
   */
  #writeEbpfExporterSelfMetrics(writer: ExpositionWriter, configName: string, mapIds: ReadonlySet<number>): void {
    const enabled = writer.family(`${EBPF_EXPORTER_PREFIX}_enabled_configs`, 'gauge', 'The set of enabled configs');
    enabled.sample(labelText(['name'], [configName]), 1);
    enabled.close();
    const info = writer.family(`${EBPF_EXPORTER_PREFIX}_ebpf_program_info`, 'gauge', 'Info about ebpf programs');
    let programs: ReturnType<typeof programsUsingMaps> = [];
    try {
      programs = programsUsingMaps(mapIds);
    } catch {
      this.#countError('programs');
    }
    for (const program of programs) info.sample(labelText(['config', 'program', 'tag', 'id'], [configName, program.name, program.tag, String(program.id)]), 1);
    info.close();
    const errors = writer.family(`${EBPF_EXPORTER_PREFIX}_decoder_errors_total`, 'counter', 'How many times has decoders encountered errors');
    errors.sample(labelText(['config'], [configName]), this.#decoderErrors);
    errors.close();
  }

  #writeSelfMetrics(writer: ExpositionWriter, summaries: readonly MapSummary[], started: bigint): void {
    const prefix = this.#seriesOptions.prefix;
    const labelsOf = (info: MapInfo): string => labelText(['map', 'id'], [info.name, String(info.id)]);
    const perMap = (name: string, help: string, value: (summary: MapSummary) => number | undefined): void => {
      const family = writer.family(`${prefix}_${name}`, 'gauge', help);
      for (const summary of summaries) {
        const v = value(summary);
        if (v !== undefined) family.sample(labelsOf(summary.info), v);
      }
      family.close();
    };
    const info = writer.family(`${prefix}_map_info`, 'info', 'Attributes of each exported map');
    for (const { info: map } of summaries) {
      info.sample(labelText(['map', 'id', 'type', 'key_size', 'value_size', 'btf'], [map.name, String(map.id), map.typeName, String(map.keySize), String(map.valueSize), map.btfId ? 'true' : 'false']), 1);
    }
    info.close();
    perMap('map_entries', 'Entries read from each map in this scrape', (s) => s.entries);
    perMap('map_max_entries', 'Maximum entries of each map', (s) => s.info.maxEntries);
    perMap('map_memlock_bytes', 'Memory the kernel charges for each map', (s) => s.info.memlock);
    perMap('map_series_dropped', 'Label sets left out of this scrape by the per-map series limit', (s) => s.dropped);
    const skipped = writer.family(`${prefix}_map_values_skipped`, 'gauge', 'Parts of map values or keys that are not exported, with the reason');
    for (const summary of summaries) {
      for (const reason of summary.skipped) skipped.sample(labelText(['map', 'id', 'reason'], [summary.info.name, String(summary.info.id), reason]), 1);
    }
    skipped.close();
    const errors = writer.family(`${prefix}_read_errors_total`, 'counter', 'Selectors, maps and configured metrics that could not be read, since the exporter started');
    for (const [source, count] of this.#readErrors) errors.sample(labelText(['source'], [source]), count);
    errors.close();

    if (this.#programStats) this.#writePrograms(writer, summaries);

    const scrapes = writer.family(`${prefix}_scrape_requests_total`, 'counter', 'Scrapes served, including those that shared a collection');
    scrapes.sample('', this.#requests);
    scrapes.close();
    const collections = writer.family(`${prefix}_scrape_collections_total`, 'counter', 'Collections run (concurrent scrapes share one)');
    collections.sample('', this.#collections);
    collections.close();
    const duration = writer.family(`${prefix}_scrape_duration_seconds`, 'gauge', 'Time this collection took up to these self-metrics');
    duration.sample('', Number(process.hrtime.bigint() - started) / 1e9);
    duration.close();
  }

  #writePrograms(writer: ExpositionWriter, summaries: readonly MapSummary[]): void {
    const prefix = this.#seriesOptions.prefix;
    const enabled = bpfStatsEnabled();
    const stats = writer.family(`${prefix}_bpf_stats_enabled`, 'gauge', 'kernel.bpf_stats_enabled: program run counts and times are only counted while it is 1');
    if (enabled !== undefined) stats.sample('', enabled ? 1 : 0);
    stats.close();
    let programs: ReturnType<typeof programsUsingMaps> = [];
    try {
      programs = programsUsingMaps(new Set(summaries.map((summary) => summary.info.id)));
    } catch {
      this.#countError('programs');
    }
    const families: FamilyWriter[] = [
      writer.family(`${prefix}_prog_run_count_total`, 'counter', 'Runs of each program that uses an exported map (while bpf_stats_enabled)'),
      writer.family(`${prefix}_prog_run_time_seconds_total`, 'counter', 'Run time of each program that uses an exported map (while bpf_stats_enabled)'),
    ];
    for (const program of programs) {
      const labels = labelText(['id', 'name', 'tag'], [String(program.id), program.name, program.tag]);
      (families[0] as FamilyWriter).sample(labels, program.runCount);
      (families[1] as FamilyWriter).sample(labels, program.runTimeSeconds);
    }
    for (const family of families) family.close();
  }
}
