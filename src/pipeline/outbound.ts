// The outbound queue: the portal's orders pushed to remote systems through flows with `target: orders`
// (SAP ORDERS05 IDoc, S/4HANA sales order API …). PostgreSQL holds the truth (order_exports, one row per
// order and flow); a BullMQ job per (flow, order, version) is only the nudge to send. The sweeper finds
// what is due (an order placed after the flow existed and never sent, or changed since its export) and
// adds its job; the same job id twice is a no-op, so a version is queued once however often it is found.
import { sql } from 'kysely';
import { isMagistralError, MagistralError, RetryableError, type ErrorCode } from '../errors/index.ts';
import { ordersPort, RELEASED } from '../orders/outbound.ts';
import { applyOrderChange } from '../orders/index.ts';
import type { OutboundCapability, SentOrder } from '../port/connector.ts';
import type { PipelineDeps } from './deps.ts';
import type { Flow, StoredFlow } from './flows.ts';
import { installationId } from './installation.ts';
import { NAMED_UNLOCK_SQL, outboundLockName, TRY_NAMED_LOCK_SQL } from './locks.ts';
import type { OutboundJob } from './queues.ts';
import { jobOptions } from './jobs.ts';
import { traceField } from '../telemetry/tracing.ts';

/**
 * Orders changed longer ago than this are not looked at by the sweeper: it scans orders by updated_at
 * (index orders_updated_at), and an order untouched for a month that still was never sent has failed
 * for good or predates the flow. Change the order (or replay) to send it again.
 */
export const OUTBOUND_LOOKBACK_DAYS = 30;
/**
 * The workers' frequent sweep looks this far back only; a full sweep (OUTBOUND_LOOKBACK_DAYS) runs every
 * OUTBOUND_FULL_SWEEP_MS. Measured with 300,000 orders (150,000 changed within 30 days, all sent): the full
 * sweep's query takes ~400 ms, too much for every 5 s; the hour-long one a few ms.
 */
export const OUTBOUND_RECENT_SECONDS = 3600;
export const OUTBOUND_FULL_SWEEP_MS = 10 * 60_000;
/** At most this many due sends are queued per sweep (the next sweep takes the rest). */
const SWEEP_LIMIT = 500;

/** An order version as a stable id part: updated_at in microseconds since the epoch (exact: extract() is numeric). */
const VERSION_SQL = '(extract(epoch from o.updated_at) * 1000000)::bigint::text';

/**
 * A version (microseconds since the epoch) back as a timestamptz, exactly: integer microseconds times an
 * interval (checked: 200,000 instants of clock_timestamp() round-trip unchanged).
 */
const versionAt = (version: string) => sql`(timestamptz 'epoch' + ${version}::bigint * interval '1 microsecond')`;

export const outboundJobId = (flowId: number, orderId: number, version: string): string => `outbound-${flowId}-${orderId}-${version}`;

/** The flow is outbound: its connector sends orders; it receives no payloads and has no mapping. */
export const isOutbound = (flow: Flow): boolean => flow.target === 'orders';

/** The connector's send capability, or a refusal naming the flow and connector. */
export function outboundOf(deps: PipelineDeps, flow: StoredFlow): OutboundCapability {
  const kind = flow.definition.source.connector;
  const c = deps.registry.connector(kind);
  if (!c) throw new MagistralError('MAG_ERR_CONNECTOR_UNKNOWN', `flow ${flow.name}: connector '${kind}' is not available in this process`);
  if (!c.outbound) throw new MagistralError('MAG_ERR_BAD_REQUEST', `flow ${flow.name}: connector '${kind}' cannot send orders (target: orders needs a connector with outbound send)`);
  return c.outbound;
}

interface DueRow { flow_id: number; order_id: number; version: string; definition: Flow; updated_at: Date; state: string | null }

/**
 * Queues a job for every send that is due (of one order, or of all): an order of an active outbound flow
 * placed after the flow was created and never handed to it, one whose send is still pending, or one
 * changed since the version the flow last had. Answers how many jobs were added (existing ones count not).
 */
export async function enqueueDueOrders(
  deps: Pick<PipelineDeps, 'db' | 'queues'>, opts: { orderId?: number; orderNumber?: string; lookbackSeconds?: number } = {},
): Promise<number> {
  const lookback = Math.min(opts.lookbackSeconds ?? OUTBOUND_LOOKBACK_DAYS * 86400, OUTBOUND_LOOKBACK_DAYS * 86400);
  const one = (alias: string) => sql`
    (${opts.orderId ?? null}::bigint IS NULL OR ${sql.ref(alias)}.id = ${opts.orderId ?? null}::bigint)
    AND (${opts.orderNumber ?? null}::text IS NULL OR ${sql.ref(alias)}.number = ${opts.orderNumber ?? null}::text)`;
  // Orders changed within the lookback that the flow does not have at their version, plus sends still
  // pending (a job lost with Redis) however long ago their order changed (index order_exports_flow).
  // Only orders placed on the portal go out: an offline order was made in an ERP, and sending it to an
  // ERP would make it a second time.
  const rows = (await sql<DueRow>`
    SELECT f.id AS flow_id, o.id AS order_id, ${sql.raw(VERSION_SQL)} AS version, f.definition, o.updated_at, e.state
    FROM flows f
    JOIN orders o ON o.updated_at >= f.created_at AND o.updated_at > now() - make_interval(secs => ${lookback})
    LEFT JOIN order_exports e ON e.order_id = o.id AND e.flow_id = f.id
    WHERE f.definition->>'target' = 'orders' AND NOT f.paused AND ${one('o')} AND o.origin = 'portal' AND ${sql.raw(RELEASED)}
      AND ((e.order_id IS NULL AND o.created_at >= f.created_at) OR e.state = 'pending' OR e.version < o.updated_at)
    UNION
    SELECT f.id, o.id, ${sql.raw(VERSION_SQL)}, f.definition, o.updated_at, e.state
    FROM order_exports e JOIN flows f ON f.id = e.flow_id JOIN orders o ON o.id = e.order_id
    WHERE e.state = 'pending' AND f.definition->>'target' = 'orders' AND NOT f.paused AND ${one('o')} AND ${sql.raw(RELEASED)}
      AND o.updated_at > now() - make_interval(days => ${OUTBOUND_LOOKBACK_DAYS})
    ORDER BY updated_at, order_id
    LIMIT ${SWEEP_LIMIT}`.execute(deps.db)).rows;
  if (!rows.length) return 0;
  const installation = await installationId(deps.db);
  let added = 0;
  for (const r of rows) {
    const jobId = outboundJobId(Number(r.flow_id), Number(r.order_id), r.version);
    const existing = await deps.queues.outbound.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      // Only a pending send replaces its finished job (an operator's retry of a failed send, a record lost
      // with a crash); the add would otherwise be a no-op. A finished job of a version the record does not
      // show as pending is left alone: never a second send of one version.
      if ((state !== 'completed' && state !== 'failed') || r.state !== 'pending') continue;
      await existing.remove().catch(() => {});
    }
    await deps.queues.outbound.add('send', { flowId: Number(r.flow_id), orderId: Number(r.order_id), version: r.version, installation, ...traceField() }, jobOptions(r.definition, jobId));
    added++;
  }
  return added;
}

export type OutboundOutcome =
  /** The target has this version now. */
  | 'sent'
  /** The flow already had this version (a repeated job): nothing was sent. */
  | 'already'
  /** The order changed since the job was queued: the newer version's job sends it. */
  | 'stale'
  /** Another worker sends this order to this flow right now. */
  | 'busy'
  | 'paused'
  /** The flow or the order is gone, or the flow is no longer outbound. */
  | 'skipped';

interface ExportState {
  current: string;
  released: boolean;
  erp_number: string | null;
  state: 'pending' | 'sent' | 'failed' | null;
  version: string | null;
  sent_version: string | null;
  external_number: string | null;
  external_ref: string | null;
}

async function exportState(deps: PipelineDeps, flowId: number, orderId: number): Promise<ExportState | undefined> {
  const r = await deps.pool.query<ExportState>(`
    SELECT ${VERSION_SQL} AS current, o.erp_number, e.state, ${RELEASED} AS released,
      (extract(epoch from e.version) * 1000000)::bigint::text AS version,
      (extract(epoch from e.sent_version) * 1000000)::bigint::text AS sent_version,
      e.external_number, e.external_ref
    FROM orders o LEFT JOIN order_exports e ON e.order_id = o.id AND e.flow_id = $1
    WHERE o.id = $2`, [flowId, orderId]);
  return r.rows[0];
}

/**
 * Sends one order version through one outbound flow (the outbound queue's processor calls this), and
 * records the outcome. Throws what the worker reacts to: RetryableError (and unknown errors) to retry with
 * the flow's backoff, any other MagistralError when retrying cannot help (recorded as failed at once).
 */
export async function sendOrderVersion(deps: PipelineDeps, job: OutboundJob, attempt: number, attempts: number): Promise<OutboundOutcome> {
  const flowRow = await deps.db.selectFrom('flows').selectAll().where('id', '=', job.flowId).executeTakeFirst();
  if (!flowRow || !isOutbound(flowRow.definition)) return 'skipped';
  if (flowRow.paused) return 'paused';
  const flow: StoredFlow = {
    id: flowRow.id, name: flowRow.name, version: flowRow.version, paused: flowRow.paused, definition: flowRow.definition,
    createdAt: flowRow.created_at, updatedAt: flowRow.updated_at,
  };
  const log = deps.log.child({ flow: flow.name, order: job.orderId, version: job.version });

  // One send of this order to this flow at a time: a retry of version 1 and the first attempt of
  // version 2 must not both create the remote order. Session-level, held across the remote call.
  const client = await deps.pool.connect();
  const lockName = outboundLockName(job.flowId, job.orderId);
  try {
    const lock = await client.query<{ ok: boolean }>(TRY_NAMED_LOCK_SQL, [lockName]);
    if (!lock.rows[0]?.ok) return 'busy';
    try {
      return await sendLocked(deps, flow, job, attempt, attempts, log);
    } finally {
      await client.query(NAMED_UNLOCK_SQL, [lockName]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

async function sendLocked(
  deps: PipelineDeps, flow: StoredFlow, job: OutboundJob, attempt: number, attempts: number, log: PipelineDeps['log'],
): Promise<OutboundOutcome> {
  const st = await exportState(deps, flow.id, job.orderId);
  // Held for a head's approval (or rejected) since the job was queued: nothing goes out.
  if (!st || !st.released) return 'skipped';
  // Compared as numbers of microseconds (BigInt: they exceed 2^53).
  const v = BigInt(job.version);
  if (st.state !== 'pending' && st.version !== null && BigInt(st.version) >= v) return 'already';
  if (BigInt(st.current) > v) {
    // The order changed meanwhile: the sweeper queues the newer version (now, not at its next tick).
    await enqueueDueOrders(deps, { orderId: job.orderId }).catch(() => 0);
    return 'stale';
  }
  const system = flow.definition.source.system ?? 'local';
  const [order] = await ordersPort(deps.db).documents([job.orderId], system);
  if (!order) return 'skipped';
  const outbound = outboundOf(deps, flow);
  await upsertExport(deps, flow.id, job, { state: 'pending', attempts: attempt });

  let result;
  try {
    result = await outbound.send(order, {
      flow: flow.name, options: (flow.definition.source.options ?? {}) as Record<string, unknown>, env: process.env, log, sql: deps.pool,
      version: job.version, attempt,
      previous: st.sent_version !== null ? { externalNumber: st.external_number, externalRef: st.external_ref, version: st.sent_version } : undefined,
    });
  } catch (e) {
    const permanent = isMagistralError(e) && !(e instanceof RetryableError);
    const last = permanent || attempt >= attempts;
    const code: ErrorCode = isMagistralError(e) ? e.code : 'MAG_ERR_RETRYABLE';
    const message = (e as Error).message;
    await upsertExport(deps, flow.id, job, { state: last ? 'failed' : 'pending', attempts: attempt, error: { code, message } });
    log.warn({ attempt, attempts, code, err: message }, last ? 'order send failed for good' : 'order send failed; will retry');
    deps.metrics?.ordersSent.inc({ flow: flow.name, outcome: last ? 'failed' : 'retry' });
    throw e;
  }

  // Recorded, and the SAP number put on the order, in one transaction. The order's own change (its new
  // ERP number) is not a change to send back: the export's version moves with it when nothing else changed.
  await deps.db.transaction().execute(async (trx) => {
    await sql`
      INSERT INTO order_exports AS e (order_id, flow_id, version, state, attempts, sent_version, external_number, external_ref, sent_at, updated_at)
      VALUES (${job.orderId}, ${flow.id}, ${versionAt(job.version)}, 'sent', ${attempt}, ${versionAt(job.version)},
        ${result.externalNumber ?? null}, ${result.externalRef ?? null}, now(), now())
      ON CONFLICT (order_id, flow_id) DO UPDATE SET version = excluded.version, state = 'sent', attempts = excluded.attempts,
        sent_version = excluded.sent_version, external_number = coalesce(excluded.external_number, e.external_number),
        external_ref = coalesce(excluded.external_ref, e.external_ref), sent_at = now(), last_error = NULL, last_error_code = NULL, updated_at = now()`.execute(trx);
    if (result.externalNumber && result.externalNumber !== st.erp_number) {
      const before = await sql<{ v: string }>`SELECT (extract(epoch from updated_at) * 1000000)::bigint::text AS v FROM orders WHERE id = ${job.orderId} FOR UPDATE`.execute(trx);
      const r = await applyOrderChange(trx, { id: job.orderId }, { erpNumber: result.externalNumber }, `flow:${flow.name}`);
      // Unchanged since the version sent: the new version (only our ERP number) counts as sent too.
      if (r.changed.length && before.rows[0]?.v === job.version) {
        await sql`UPDATE order_exports e SET version = o.updated_at, sent_version = o.updated_at FROM orders o
          WHERE o.id = e.order_id AND e.order_id = ${job.orderId} AND e.flow_id = ${flow.id}`.execute(trx);
      }
    }
  });
  log.info({ attempt, outcome: result.outcome, externalNumber: result.externalNumber, note: result.note }, 'order sent');
  deps.metrics?.ordersSent.inc({ flow: flow.name, outcome: result.outcome });
  return 'sent';
}

async function upsertExport(
  deps: PipelineDeps, flowId: number, job: OutboundJob, s: { state: 'pending' | 'failed'; attempts: number; error?: { code: string; message: string } },
): Promise<void> {
  await sql`
    INSERT INTO order_exports AS e (order_id, flow_id, version, state, attempts, last_error, last_error_code, updated_at)
    VALUES (${job.orderId}, ${flowId}, ${versionAt(job.version)}, ${s.state}, ${s.attempts}, ${s.error?.message ?? null}, ${s.error?.code ?? null}, now())
    ON CONFLICT (order_id, flow_id) DO UPDATE SET version = excluded.version, state = excluded.state, attempts = excluded.attempts,
      last_error = coalesce(excluded.last_error, e.last_error), last_error_code = coalesce(excluded.last_error_code, e.last_error_code), updated_at = now()`.execute(deps.db);
}

/** Where an order stands with each outbound flow (console, tests, `orders show`). */
export interface OrderExportView {
  flow: string;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  lastError: string | null;
  lastErrorCode: string | null;
  externalNumber: string | null;
  externalRef: string | null;
  sentAt: Date | null;
}

export async function orderExports(deps: Pick<PipelineDeps, 'db'>, orderNumber: string): Promise<OrderExportView[]> {
  const rows = await deps.db.selectFrom('order_exports as e').innerJoin('orders as o', 'o.id', 'e.order_id').innerJoin('flows as f', 'f.id', 'e.flow_id')
    .select(['f.name', 'e.state', 'e.attempts', 'e.last_error', 'e.last_error_code', 'e.external_number', 'e.external_ref', 'e.sent_at'])
    .where('o.number', '=', orderNumber).orderBy('f.name').execute();
  return rows.map((r) => ({
    flow: r.name, state: r.state, attempts: r.attempts, lastError: r.last_error, lastErrorCode: r.last_error_code,
    externalNumber: r.external_number, externalRef: r.external_ref, sentAt: r.sent_at,
  }));
}

/**
 * An operator's retry of a failed send (SAP was down longer than the flow's retries, master data fixed
 * since): the export becomes pending again and is queued now. Refused unless the send failed.
 */
export async function retryExport(deps: Pick<PipelineDeps, 'db' | 'queues'>, orderNumber: string, flowName: string): Promise<OrderExportView> {
  const r = await sql<{ state: string }>`
    UPDATE order_exports e SET state = 'pending', attempts = 0, updated_at = now()
    FROM orders o, flows f
    WHERE o.id = e.order_id AND f.id = e.flow_id AND o.number = ${orderNumber} AND f.name = ${flowName} AND e.state = 'failed'
    RETURNING e.state`.execute(deps.db);
  const views = await orderExports(deps, orderNumber);
  const view = views.find((v) => v.flow === flowName);
  if (!view) throw new MagistralError('MAG_ERR_NOT_FOUND', `order ${orderNumber} has no export to flow ${flowName}`);
  if (!r.rows.length) throw new MagistralError('MAG_ERR_BAD_REQUEST', `order ${orderNumber} to flow ${flowName} is ${view.state}: only a failed send is retried`);
  await enqueueDueOrders(deps, { orderNumber });
  return view;
}

/** When each outbound flow's statuses were last pulled by this process. */
const statusPulledAt = new Map<string, number>();

/**
 * Pulls the remote statuses of orders sent through outbound flows whose connector reads them and whose
 * `source.options.statusEverySeconds` has passed since the last pull (in this process), and applies them.
 * Orders in a final status are not asked about. Answers the flows pulled.
 */
export async function pullOrderStatuses(deps: PipelineDeps, opts: { force?: boolean; env?: Readonly<Record<string, string | undefined>> } = {}): Promise<string[]> {
  const flows = await deps.db.selectFrom('flows').selectAll().where(sql<boolean>`definition->>'target' = 'orders'`).where('paused', '=', false).execute();
  const pulled: string[] = [];
  for (const f of flows) {
    const c = deps.registry.connector(f.definition.source.connector);
    const options = (f.definition.source.options ?? {}) as Record<string, unknown>;
    const every = typeof options.statusEverySeconds === 'number' ? options.statusEverySeconds : undefined;
    if (!c?.outbound?.statuses || (every === undefined && !opts.force)) continue;
    const key = `${f.id}:${f.version}`;
    if (!opts.force && Date.now() - (statusPulledAt.get(key) ?? 0) < (every ?? 0) * 1000) continue;
    statusPulledAt.set(key, Date.now());
    const sent = (await deps.pool.query<{ id: number; number: string; external_number: string | null; external_ref: string | null; status: string; sent_at: Date | null }>(`
      SELECT o.id, o.number, e.external_number, e.external_ref, o.status, e.sent_at
      FROM order_exports e JOIN orders o ON o.id = e.order_id JOIN order_statuses s ON s.code = o.status
      WHERE e.flow_id = $1 AND e.sent_version IS NOT NULL AND NOT s.final AND NOT o.cancelled
      ORDER BY e.sent_at LIMIT 500`, [f.id])).rows;
    if (!sent.length) continue;
    const list: SentOrder[] = sent.map((s) => ({ id: Number(s.id), number: s.number, externalNumber: s.external_number, externalRef: s.external_ref, status: s.status, sentAt: s.sent_at }));
    const log = deps.log.child({ flow: f.name });
    try {
      const changes = await c.outbound.statuses(list, { flow: f.name, options, env: opts.env ?? process.env, log, sql: deps.pool });
      const report = await ordersPort(deps.db).applyChanges(changes, `flow:${f.name}`);
      log.info({ orders: list.length, ...report }, 'order statuses pulled');
      pulled.push(f.name);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'order status pull failed; the next one retries');
    }
  }
  return pulled;
}
