// GET /metrics in Prometheus text format. The installation-wide gauges (runs by state, rows by
// outcome, queue depths, catalog offers per city, per-flow lag, last success and rejects, held runs' ages) are recomputed from PostgreSQL and Redis at scrape time; a dependency that is down leaves its gauges out.
import { Gauge } from 'prom-client';
import { sql, type Kysely } from 'kysely';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Database, RunState } from '../db/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Queues } from '../pipeline/queues.ts';
import type { Flow } from '../schemas/index.ts';
import type { ServerDeps } from './deps.ts';
import { CHECK_TIMEOUT_MS, checkPostgres, checkRedis, reason } from './dependency-checks.ts';
import { withTimeout } from './with-timeout.ts';
import { changeVersionSql } from '../db/migrations/0008-change-versions.ts';

export const RUN_STATES: readonly RunState[] = ['received', 'extracting', 'staged', 'merging', 'held', 'done', 'failed', 'rejected'];
export const ROW_OUTCOMES = ['read', 'staged', 'rejected', 'inserted', 'updated', 'unchanged', 'removed'] as const;
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused'] as const;

interface Snapshot {
  runs?: Map<string, number>;
  rows?: Record<(typeof ROW_OUTCOMES)[number], number>;
  queues?: { queue: string; counts: Record<string, number> }[];
  offers?: { city: string; offers: number; build_ms: number; stale: boolean }[];
  flows?: FlowFigures[];
  held?: { flow: string; run: string; age: number }[];
  up: { postgres: boolean; redis: boolean };
}

interface FlowFigures { flow: string; definition: Flow; lag: number; last_success: number | null; rejected: number }

/** How often a flow is expected to succeed, in seconds: its own word, else its pull schedule's period; a cron pattern gives none (its gaps vary). */
export function expectedInterval(flow: Flow): number | undefined {
  return flow.expectEverySeconds ?? flow.schedule?.everySeconds;
}

/** 1 when the dependency answered at the last scrape, 0 when not (alerting on readiness). */
function dependencyGauge(metrics: Metrics): Gauge<'dependency'> {
  const name = 'magistral_dependency_up';
  const existing = metrics.registry.getSingleMetric(name);
  if (existing) return existing as Gauge<'dependency'>;
  return new Gauge({ name, help: 'Whether a dependency answered at the last scrape (1) or not (0)', labelNames: ['dependency'] as const, registers: [metrics.registry] });
}

/**
 * Per flow: the oldest open run's age (lag), when it last succeeded (a run done, or a pull answered
 * 'unchanged'), its rejected rows; per held run, its age. One pass over runs grouped by flow: with a
 * million runs in 50 flows it took 0.24 s, where a subquery per flow through runs_flow took 5.9 s (past
 * the scrape's timeout, which would have dropped every store gauge).
 */
async function readFlows(db: Kysely<Database>): Promise<Pick<Snapshot, 'flows' | 'held'>> {
  const flows = await sql<FlowFigures>`
    SELECT f.name AS flow, f.definition, coalesce(extract(epoch FROM clock_timestamp() - x.oldest_open), 0)::float8 AS lag,
      extract(epoch FROM greatest(x.last_done,
        (SELECT p.last_pull_at FROM poll_state p WHERE p.flow_id = f.id AND p.last_outcome = 'unchanged')))::float8 AS last_success,
      coalesce(x.rejected, 0)::int8 AS rejected
    FROM flows f LEFT JOIN (
      SELECT flow_id, min(received_at) FILTER (WHERE state IN ('received', 'extracting', 'staged', 'merging')) AS oldest_open,
        max(finished_at) FILTER (WHERE state = 'done') AS last_done, sum(rows_rejected) AS rejected
      FROM runs GROUP BY flow_id) x ON x.flow_id = f.id`.execute(db);
  const held = await sql<{ flow: string; run: string; age: number }>`
    SELECT f.name AS flow, r.id::text AS run, extract(epoch FROM clock_timestamp() - coalesce(r.held_at, r.staged_at, r.received_at))::float8 AS age
    FROM runs r JOIN flows f ON f.id = r.flow_id WHERE r.state = 'held'`.execute(db);
  return { flows: flows.rows, held: held.rows };
}

async function readStore(db: Kysely<Database>): Promise<Pick<Snapshot, 'runs' | 'rows' | 'offers' | 'flows' | 'held'>> {
  const byState = await db.selectFrom('runs')
    .select(['state', sql<number>`count(*)::int8`.as('n')])
    .groupBy('state')
    .execute();
  const sums = await db.selectFrom('runs').select([
    sql<number>`coalesce(sum(rows_read), 0)::int8`.as('read'),
    sql<number>`coalesce(sum(rows_staged), 0)::int8`.as('staged'),
    sql<number>`coalesce(sum(rows_rejected), 0)::int8`.as('rejected'),
    sql<number>`coalesce(sum(rows_inserted), 0)::int8`.as('inserted'),
    sql<number>`coalesce(sum(rows_updated), 0)::int8`.as('updated'),
    sql<number>`coalesce(sum(rows_unchanged), 0)::int8`.as('unchanged'),
    sql<number>`coalesce(sum(rows_removed), 0)::int8`.as('removed'),
  ]).executeTakeFirstOrThrow();
  const offers = await sql<{ city: string; offers: number; build_ms: number; stale: boolean }>`
    SELECT c.code AS city, s.offers, s.build_ms, s.version IS DISTINCT FROM ${sql.raw(changeVersionSql('catalog'))} AS stale
    FROM catalog_offers_state s JOIN cities c ON c.id = s.city_id`.execute(db);
  return { runs: new Map(byState.map((r) => [r.state, Number(r.n)])), rows: sums, offers: offers.rows, ...(await readFlows(db)) };
}

/** Job counts of every queue by state (QUEUE_STATES), each read bounded by CHECK_TIMEOUT_MS; the console's queue page reads the same. */
export async function readQueues(queues: Queues): Promise<NonNullable<Snapshot['queues']>> {
  return Promise.all(queues.all().map(async (q) => ({
    queue: q.name,
    counts: await withTimeout(q.getJobCounts(...QUEUE_STATES), CHECK_TIMEOUT_MS, `Redis (job counts of ${q.name})`),
  })));
}

async function takeSnapshot(deps: ServerDeps, log: FastifyBaseLogger): Promise<Snapshot> {
  const snap: Snapshot = { up: { postgres: false, redis: false } };
  await Promise.all([
    (async () => {
      try {
        await checkPostgres(deps.db);
        Object.assign(snap, await withTimeout(readStore(deps.db), CHECK_TIMEOUT_MS * 2, 'PostgreSQL (run gauges)'));
        snap.up.postgres = true;
      } catch (e) {
        log.warn({ error: reason(e) }, 'metrics: run and row gauges left out, PostgreSQL did not answer');
      }
    })(),
    (async () => {
      try {
        await checkRedis(deps.queues, deps.redis);
        snap.queues = await readQueues(deps.queues);
        snap.up.redis = true;
      } catch (e) {
        log.warn({ error: reason(e) }, 'metrics: queue gauges left out, Redis did not answer');
      }
    })(),
  ]);
  return snap;
}

/** Writes a snapshot into the gauges in one synchronous step, so a scrape never sees half of it. */
function applySnapshot(metrics: Metrics, up: Gauge<'dependency'>, snap: Snapshot): void {
  metrics.runsByState.reset();
  metrics.rowsByOutcome.reset();
  metrics.queueDepth.reset();
  metrics.catalogOffers.reset();
  metrics.catalogOffersStale.reset();
  metrics.catalogOffersBuildSeconds.reset();
  for (const g of [metrics.flowLag, metrics.flowLastSuccess, metrics.flowExpectedInterval, metrics.flowRowsRejected, metrics.heldRunAge]) g.reset();
  for (const f of snap.flows ?? []) {
    metrics.flowLag.set({ flow: f.flow }, f.lag);
    if (f.last_success !== null) metrics.flowLastSuccess.set({ flow: f.flow }, f.last_success);
    const every = expectedInterval(f.definition);
    if (every !== undefined) metrics.flowExpectedInterval.set({ flow: f.flow }, every);
    metrics.flowRowsRejected.set({ flow: f.flow }, Number(f.rejected));
  }
  for (const h of snap.held ?? []) metrics.heldRunAge.set({ flow: h.flow, run: h.run }, h.age);
  for (const o of snap.offers ?? []) {
    metrics.catalogOffers.set({ city: o.city }, o.offers);
    metrics.catalogOffersStale.set({ city: o.city }, o.stale ? 1 : 0);
    metrics.catalogOffersBuildSeconds.set({ city: o.city }, o.build_ms / 1000);
  }
  if (snap.runs) for (const state of RUN_STATES) metrics.runsByState.set({ state }, snap.runs.get(state) ?? 0);
  if (snap.rows) for (const outcome of ROW_OUTCOMES) metrics.rowsByOutcome.set({ outcome }, Number(snap.rows[outcome]));
  for (const q of snap.queues ?? []) {
    for (const state of QUEUE_STATES) metrics.queueDepth.set({ queue: q.queue, state }, q.counts[state] ?? 0);
  }
  up.set({ dependency: 'postgres' }, snap.up.postgres ? 1 : 0);
  up.set({ dependency: 'redis' }, snap.up.redis ? 1 : 0);
}

export async function metricsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const up = dependencyGauge(deps.metrics);
  // Scrapes that arrive together share one refresh instead of each querying the store.
  let refreshing: Promise<void> | undefined;
  const refresh = (log: FastifyBaseLogger): Promise<void> => {
    refreshing ??= takeSnapshot(deps, log)
      .then((snap) => applySnapshot(deps.metrics, up, snap))
      .finally(() => { refreshing = undefined; });
    return refreshing;
  };

  app.get('/metrics', {
    schema: { response: { 200: { type: 'string' } } },
  }, async (request, reply) => {
    await refresh(request.log);
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
}
