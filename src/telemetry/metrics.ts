// Prometheus metrics. Counters and histograms are observed in-process by workers and the API;
// gauges that describe the whole installation (runs by state, rows by outcome, queue depths) are
// computed at scrape time from PostgreSQL and Redis, so every process reports the same truth.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** Seconds each pipeline stage took for one run. Labels: stage (extract|merge), flow. */
  stageDuration: Histogram<'stage' | 'flow'>;
  /** Rows processed by workers of this process. Labels: flow, outcome (read|staged|rejected|inserted|updated|unchanged|removed). */
  rowsProcessed: Counter<'flow' | 'outcome'>;
  /** Runs finished by workers of this process. Labels: flow, state. */
  runsFinished: Counter<'flow' | 'state'>;
  /** Order sends of outbound flows by workers of this process. Labels: flow, outcome (created|found|accepted|unchanged|retry|failed). */
  ordersSent: Counter<'flow' | 'outcome'>;
  /** HTTP requests served. Labels: route, method, status. */
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  runsByState: Gauge<'state'>;
  rowsByOutcome: Gauge<'outcome'>;
  queueDepth: Gauge<'queue' | 'state'>;
  /** Catalog offers per city (src/portal/offers.ts): how many, whether stale, and the last build. */
  catalogOffers: Gauge<'city'>;
  catalogOffersStale: Gauge<'city'>;
  catalogOffersBuildSeconds: Gauge<'city'>;
  /** Seconds from a payload's receipt to its rows visible (the run done), observed by the worker that ended the run. Labels: flow. */
  freshness: Histogram<'flow'>;
  /** Per flow, from the store at scrape time (src/api/metrics-routes.ts): the oldest open run's age, 0 when none is open. */
  flowLag: Gauge<'flow'>;
  /** Per flow: when it last succeeded (a run done, or a pull that found nothing new), Unix seconds; absent until it has. */
  flowLastSuccess: Gauge<'flow'>;
  /** Per flow: how often it is expected to succeed (expectEverySeconds, else its schedule's everySeconds); absent without an expectation. */
  flowExpectedInterval: Gauge<'flow'>;
  /** Per flow: rows rejected by the runs in the store. */
  flowRowsRejected: Gauge<'flow'>;
  /** Per held run: seconds since it was held. Labels: flow, run. */
  heldRunAge: Gauge<'flow' | 'run'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'magistral_process_' });
  const stageDuration = new Histogram({
    name: 'magistral_stage_duration_seconds',
    help: 'Duration of one pipeline stage of one run',
    labelNames: ['stage', 'flow'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const rowsProcessed = new Counter({
    name: 'magistral_worker_rows_total',
    help: 'Rows processed by the workers of this process, by outcome',
    labelNames: ['flow', 'outcome'] as const,
    registers: [registry],
  });
  const runsFinished = new Counter({
    name: 'magistral_worker_runs_total',
    help: 'Runs finished by the workers of this process, by final state',
    labelNames: ['flow', 'state'] as const,
    registers: [registry],
  });
  const ordersSent = new Counter({
    name: 'magistral_orders_sent_total',
    help: 'Order sends through outbound flows by the workers of this process, by outcome (retry: a failed attempt to be retried; failed: for good)',
    labelNames: ['flow', 'outcome'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'magistral_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const runsByState = new Gauge({ name: 'magistral_runs', help: 'Runs in the store by state', labelNames: ['state'] as const, registers: [registry] });
  const rowsByOutcome = new Gauge({ name: 'magistral_rows', help: 'Rows of all runs in the store by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const queueDepth = new Gauge({ name: 'magistral_queue_jobs', help: 'Jobs in each queue by state', labelNames: ['queue', 'state'] as const, registers: [registry] });
  const catalogOffers = new Gauge({ name: 'magistral_catalog_offers', help: 'Catalog offers of a city as last built (products on sale there)', labelNames: ['city'] as const, registers: [registry] });
  const catalogOffersStale = new Gauge({
    name: 'magistral_catalog_offers_stale', help: 'Whether a city\'s catalog offers are older than the store (1: the next read or the workers rebuild them)',
    labelNames: ['city'] as const, registers: [registry],
  });
  const catalogOffersBuildSeconds = new Gauge({ name: 'magistral_catalog_offers_build_seconds', help: 'Duration of the last build of a city\'s catalog offers', labelNames: ['city'] as const, registers: [registry] });
  const freshness = new Histogram({
    name: 'magistral_freshness_seconds',
    help: 'Seconds from a payload received to its rows visible in the store (the run done)',
    labelNames: ['flow'] as const,
    // Fine below 10 s: the alert is on a p95 over 5 s.
    buckets: [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 20, 30, 60, 120, 300, 900, 3600],
    registers: [registry],
  });
  const flowLag = new Gauge({ name: 'magistral_flow_lag_seconds', help: 'Age of the oldest open run of a flow (received, not yet done, failed or held); 0 when none is open', labelNames: ['flow'] as const, registers: [registry] });
  const flowLastSuccess = new Gauge({
    name: 'magistral_flow_last_success_timestamp_seconds', help: 'When a flow last succeeded: a run done, or a pull that found nothing new (Unix seconds)', labelNames: ['flow'] as const, registers: [registry],
  });
  const flowExpectedInterval = new Gauge({
    name: 'magistral_flow_expected_interval_seconds', help: 'How often a flow is expected to succeed: its expectEverySeconds, else its schedule\'s everySeconds', labelNames: ['flow'] as const, registers: [registry],
  });
  const flowRowsRejected = new Gauge({ name: 'magistral_flow_rows_rejected', help: 'Rows rejected by the runs of a flow in the store', labelNames: ['flow'] as const, registers: [registry] });
  const heldRunAge = new Gauge({ name: 'magistral_run_held_age_seconds', help: 'Seconds since a run was held for approval', labelNames: ['flow', 'run'] as const, registers: [registry] });
  return { freshness, flowLag, flowLastSuccess, flowExpectedInterval, flowRowsRejected, heldRunAge, registry, stageDuration, rowsProcessed, runsFinished, ordersSent, httpDuration, runsByState, rowsByOutcome, queueDepth, catalogOffers, catalogOffersStale, catalogOffersBuildSeconds };
}
