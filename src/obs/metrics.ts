/**
 * Prometheus metrics: one Registry per process, created by the caller and
 * passed down explicitly. Nothing registers at import time and the
 * prom-client global registry is never used, so two agents in one test
 * process (or a test and the code under test) never see each other's series.
 *
 * Names follow `pathguard_<component>_<what>_<unit>` and the Prometheus
 * naming conventions (https://prometheus.io/docs/practices/naming/):
 * snake_case, base units, counters end in `_total`, and nothing else may end
 * in a suffix the exposition format reserves (`_total`, `_count`, `_sum`,
 * `_bucket`). Label values are declared up front as closed lists — a label
 * never carries an address or anything else taken from a packet — and every
 * declared combination of a counter or histogram is exported from the start
 * at zero, so rate() works from the first scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Closed lists of values per label name. */
export type LabelSpec = Readonly<Record<string, readonly string[]>>;
type LabelNames<L extends LabelSpec> = Extract<keyof L, string>;

export interface MetricSpec<L extends LabelSpec> {
  /** relay, routes, peers, firewall, agent, ... */
  readonly component: string;
  /** What is measured, snake_case: `replicas_sent`, `capture_lag`. */
  readonly what: string;
  /** Base unit; counters end in `total` (`total`, `bytes_total`, `seconds_total`). */
  readonly unit: string;
  readonly help: string;
  readonly labels?: L;
}

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const LABEL = /^[a-z][a-z0-9_]*$/;
const RESERVED_SUFFIX = /(^|_)(total|count|sum|bucket)$/;
/** Pre-initialising every combination must stay cheap and bounded. */
const MAX_COMBINATIONS = 1024;

/**
 * `pathguard_<component>_<what>_<unit>`; throws TypeError on a malformed part
 * (a programming error). A gauge of a count of things takes no unit (`''`:
 * `pathguard_doctor_findings`), as the Prometheus conventions allow for
 * unitless values.
 */
export function metricName(component: string, what: string, unit: string): string {
  for (const [part, v] of [
    ['component', component],
    ['what', what],
    ['unit', unit],
  ] as const) {
    if (part === 'unit' && v === '') continue;
    if (!SNAKE.test(v)) throw new TypeError(`metric ${part} ${JSON.stringify(v)} is not snake_case`);
  }
  return unit === '' ? `pathguard_${component}_${what}` : `pathguard_${component}_${what}_${unit}`;
}

function checkLabels(name: string, labels: LabelSpec, reserved: readonly string[]): string[][] {
  let combinations: string[][] = [[]];
  for (const [label, values] of Object.entries(labels)) {
    if (!LABEL.test(label) || reserved.includes(label)) throw new TypeError(`${name}: bad label name ${JSON.stringify(label)}`);
    if (values.length === 0) throw new TypeError(`${name}: label ${label} declares no values`);
    if (new Set(values).size !== values.length) throw new TypeError(`${name}: label ${label} declares a value twice`);
    combinations = combinations.flatMap((c) => values.map((v) => [...c, v]));
    if (combinations.length > MAX_COMBINATIONS) throw new TypeError(`${name}: more than ${MAX_COMBINATIONS} label combinations`);
  }
  return combinations;
}

function labelObjects(labels: LabelSpec, combos: string[][]): Record<string, string>[] {
  const names = Object.keys(labels);
  return combos.filter((c) => c.length > 0).map((c) => Object.fromEntries(names.map((n, i) => [n, c[i]!])));
}

/** One sample a scrape-time collector returns. */
export interface CollectedSample {
  readonly value: number;
  readonly labels?: Readonly<Record<string, string | number>>;
  /** For histograms: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  readonly metricName?: string;
}

export interface MetricsOptions {
  /** Also export the Node.js process metrics (process_*, nodejs_*); default true. */
  readonly processMetrics?: boolean;
}

export class Metrics {
  readonly registry: Registry;

  constructor(opts: MetricsOptions = {}) {
    this.registry = new Registry();
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  counter<const L extends LabelSpec = Record<never, never>>(spec: MetricSpec<L>): Counter<LabelNames<L>> {
    if (!/(^|_)total$/.test(spec.unit)) throw new TypeError(`counter unit ${JSON.stringify(spec.unit)} must end in total`);
    const name = metricName(spec.component, spec.what, spec.unit);
    const labels: LabelSpec = spec.labels ?? {};
    const combos = checkLabels(name, labels, []);
    const c = new Counter<LabelNames<L>>({
      name,
      help: spec.help,
      labelNames: Object.keys(labels) as LabelNames<L>[],
      registers: [this.registry],
    });
    for (const l of labelObjects(labels, combos)) c.inc(l as never, 0);
    return c;
  }

  gauge<const L extends LabelSpec = Record<never, never>>(spec: MetricSpec<L>): Gauge<LabelNames<L>> {
    const name = this.plainName(spec);
    const labels: LabelSpec = spec.labels ?? {};
    checkLabels(name, labels, []);
    return new Gauge<LabelNames<L>>({
      name,
      help: spec.help,
      labelNames: Object.keys(labels) as LabelNames<L>[],
      registers: [this.registry],
    });
  }

  histogram<const L extends LabelSpec = Record<never, never>>(
    spec: MetricSpec<L> & { readonly buckets: readonly number[] },
  ): Histogram<LabelNames<L>> {
    const name = this.plainName(spec);
    const labels: LabelSpec = spec.labels ?? {};
    const combos = checkLabels(name, labels, ['le']);
    const h = new Histogram<LabelNames<L>>({
      name,
      help: spec.help,
      buckets: [...spec.buckets],
      labelNames: Object.keys(labels) as LabelNames<L>[],
      registers: [this.registry],
    });
    for (const l of labelObjects(labels, combos)) h.zero(l as never);
    return h;
  }

  /**
   * A series whose values are read at scrape time from somewhere prom-client
   * does not hold them (the relay's data plane keeps its counters in shared
   * memory written by a worker thread): `read` returns every sample, labels
   * and, for a histogram, the `_bucket`/`_sum`/`_count` names.
   */
  collect(spec: { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge' | 'histogram'; readonly read: () => CollectedSample[] }): void {
    if (!spec.name.startsWith('pathguard_')) throw new TypeError(`collector ${JSON.stringify(spec.name)}: build the name with metricName()`);
    if (spec.type === 'counter' && !/_total$/.test(spec.name)) throw new TypeError(`counter ${spec.name} must end in _total`);
    const { name, help, type, read } = spec;
    // The shape prom-client's Registry serialises (see Registry#getMetricsAsString).
    this.registry.registerMetric({
      name,
      help,
      type,
      get: async () => ({ name, help, type, values: read(), aggregator: 'sum' }),
      reset: () => undefined,
    } as never);
  }

  /** The exposition text (what /metrics serves). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private plainName(spec: MetricSpec<LabelSpec>): string {
    if (RESERVED_SUFFIX.test(spec.unit)) {
      throw new TypeError(`unit ${JSON.stringify(spec.unit)} ends in a suffix reserved for counters, histograms and summaries`);
    }
    return metricName(spec.component, spec.what, spec.unit);
  }
}

/** A fresh registry for this process. */
export function createMetrics(opts: MetricsOptions = {}): Metrics {
  return new Metrics(opts);
}
