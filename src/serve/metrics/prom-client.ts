/**
 * Plugging the exporter into a prom-client `Registry`, so that a service's existing `/metrics`
 * includes the map metrics. prom-client asks each registered metric for its values on every
 * `registry.metrics()`; the bridge registers one metric per family the exporter writes, and all of
 * them share one collection per scrape. Families that appear later (a new map) are registered
 * when a collection first sees them, so they show from the next scrape on.
 *
 * The bridge re-reads the exporter's text output; for maps with 100k+ entries serve the exporter's
 * own stream instead (see bench/serve.ts for the cost of going through prom-client).
 */
import type { Registry } from 'prom-client';
import type { MapExporter } from './exporter.js';
import { parseExposition, type ParsedFamily } from './parse.js';

interface BridgeValue {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

interface BridgeMetric {
  name: string;
  help: string;
  type: string;
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: BridgeValue[] }>;
  reset(): void;
}

const PROM_TYPES = new Set(['counter', 'gauge', 'histogram', 'summary']);

/**
 * Registers the exporter's families in `registry` (after one collection that discovers them).
 *
 * @example
 * const registry = new Registry();
 * await registerWithPromClient(new MapExporter({ maps: [{ kind: 'name', name: 'counts' }] }), registry);
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 */
export async function registerWithPromClient(exporter: MapExporter, registry: Registry): Promise<void> {
  let pending: Promise<Map<string, ParsedFamily>> | undefined;
  const registered = new Set<string>();
  const collect = (): Promise<Map<string, ParsedFamily>> => {
    pending ??= exporter.text('text').then((text) => {
      const families = new Map(parseExposition(text).map((family) => [family.name, family]));
      for (const family of families.values()) register(family);
      return families;
    }).finally(() => {
      // prom-client asks every metric at once: they share this collection; the next scrape reads again.
      pending = undefined;
    });
    return pending;
  };
  const register = (family: ParsedFamily): void => {
    if (registered.has(family.name)) return;
    registered.add(family.name);
    const type = PROM_TYPES.has(family.type) ? family.type : 'gauge';
    const metric: BridgeMetric = {
      name: family.name,
      help: family.help,
      type,
      aggregator: 'sum',
      async get() {
        const current = (await collect()).get(family.name);
        const values: BridgeValue[] = (current?.samples ?? []).map((sample) =>
          // Counters keep prom-client's own naming (it adds _total for OpenMetrics).
          type === 'counter' ? { value: sample.value, labels: sample.labels } : { value: sample.value, labels: sample.labels, metricName: sample.name });
        return { name: family.name, help: family.help, type, aggregator: 'sum', values };
      },
      reset() {},
    };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  };
  await collect();
}
