// The drain: takes a flow's pending events (crm_bitrix24_events), fetches what they name from Bitrix24
// in one batch (an entity named by several events is fetched once), and hands the entities to
// port.receive as one NDJSON payload — one run of the flow, merged like any payload. A DELETE event
// fetches nothing: the entity's last copy (crm_bitrix24_entities) goes in with DELETED true. Deal events
// become order statuses (port.orders.applyChanges). Events are claimed with FOR UPDATE SKIP LOCKED, so
// several API processes drain side by side; a fetch that fails leaves them pending for the next sweep.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { isMagistralError, type ConnectorPort, type StoredFlow, type TickOutage } from '../../../../src/port/index.ts';
import type { Bitrix24Client } from '../client.ts';
import type { Bitrix24Options } from '../options.ts';
import type { Row as EntityRow } from '../records.ts';
import { clientOf } from './connection.ts';
import { connectionOf, entityOf, EVENT_FLOW_KINDS, optionsOf } from './options.ts';
import { deletedOf, ndjson, recordOf, type Rec } from './records.ts';
import { flowsWithPending } from './store.ts';
import { dealStates, type DealsOptions } from '../deals/deals.ts';
import { stageChange } from '../deals/stages.ts';
import type { EventEntity } from './form.ts';

/** Entities fetched per batch call (Bitrix24 takes at most 50 commands; a requisite takes two). */
const IDS_PER_DRAIN: Record<EventEntity, number> = { company: 50, contact: 50, requisite: 25, deal: 50 };
/** Events claimed per pass (several events of one entity count as one fetch). */
const EVENTS_PER_PASS = 500;
/**
 * A pending event whose fetch keeps failing is marked failed once it has been tried this often and is
 * older than GIVE_UP_AFTER (an hour of Bitrix24 down is waited out; the incremental pull covers the rest).
 */
const MAX_ATTEMPTS = 10;
const GIVE_UP_AFTER = '1 hour';
const GET_METHOD: Record<Exclude<EventEntity, 'deal'>, string> = { company: 'crm.company.get', contact: 'crm.contact.get', requisite: 'crm.requisite.get' };

interface Row { id: string; entity_id: string; deleted: boolean; ts: string }

export interface DrainReport {
  flow: string;
  events: number;
  fetched: number;
  deleted: number;
  runs: number[];
  /** Deal events: order changes applied. */
  statuses?: { changed: number; unchanged: number; notFound: number };
  warnings: string[];
  error?: string;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);

async function findFlow(port: ConnectorPort, name: string): Promise<StoredFlow | undefined> {
  for (const kind of EVENT_FLOW_KINDS) {
    const f = (await port.flows(kind)).find((x) => x.name === name);
    if (f) return f;
  }
  return undefined;
}

/** The system a flow's codes live in (the flow's `source.system`). */
const systemOf = (flow: StoredFlow): string => flow.definition.source.system ?? 'local';

/** Fetches entities by id in one batch; answers the pull's record of each entity found (notes for the rest in `warnings`). */
async function fetchEntities(
  client: Bitrix24Client, entity: Exclude<EventEntity, 'deal'>, ids: readonly string[], o: Bitrix24Options, warnings: string[],
): Promise<Map<string, Rec>> {
  const cmds: Record<string, { method: string; params?: Record<string, unknown> }> = {};
  for (const id of ids) {
    cmds[`e${id}`] = { method: GET_METHOD[entity], params: { id } };
    if (entity === 'requisite') cmds[`b${id}`] = { method: 'crm.requisite.bankdetail.list', params: { filter: { ENTITY_ID: id }, order: { SORT: 'ASC', ID: 'ASC' } } };
  }
  const r = await client.batch(cmds);
  const out = new Map<string, Rec>();
  for (const id of ids) {
    const err = r.errors[`e${id}`];
    const got = r.result[`e${id}`];
    if (err || !got || typeof got !== 'object') {
      // Deleted after the event (its DELETE event marks it), or not readable by the webhook's user.
      warnings.push(`${entity} ${id}: not fetched (${err ? `${err.error}${err.description ? ` — ${err.description}` : ''}` : 'no result'})`);
      continue;
    }
    const banks = r.result[`b${id}`];
    const rec = recordOf(entity, got as EntityRow, Array.isArray(banks) ? (banks[0] as EntityRow | undefined) : undefined, o);
    if (typeof rec === 'string') warnings.push(`${entity} ${id}: ${rec}`);
    else out.set(id, rec);
  }
  return out;
}

/** One pass over a flow's pending events, in one transaction holding them; answers what it did. */
export async function drainOnce(port: ConnectorPort, flowName: string): Promise<DrainReport & { more: boolean }> {
  const report: DrainReport & { more: boolean } = { flow: flowName, events: 0, fetched: 0, deleted: 0, runs: [], warnings: [], more: false };
  const db: pg.PoolClient = await port.sql.connect();
  try {
    await db.query('BEGIN');
    const flow = await findFlow(port, flowName);
    const rows = (await db.query<Row>(
      `SELECT id, entity_id, deleted, ts FROM crm_bitrix24_events WHERE flow = $1 AND state = 'pending'
       ORDER BY id LIMIT ${EVENTS_PER_PASS} FOR UPDATE SKIP LOCKED`, [flowName])).rows;
    if (!rows.length) {
      await db.query('COMMIT');
      return report;
    }
    const entity = flow ? entityOf(flow) : undefined;
    if (!flow || !entity) {
      await db.query(`UPDATE crm_bitrix24_events SET state = 'failed', last_error = $2, done_at = now() WHERE id = ANY($1::bigint[])`,
        [rows.map((r) => r.id), `flow ${flowName} is gone or takes no events any more`]);
      await db.query('COMMIT');
      report.error = `flow ${flowName} is gone`;
      return report;
    }
    // The ids of this pass (the first N distinct ones); each id's latest event says whether it is deleted.
    const latest = new Map<string, Row>();
    for (const r of rows) {
      const seen = latest.get(r.entity_id);
      if (!seen && latest.size >= IDS_PER_DRAIN[entity]) continue;
      if (!seen || Number(r.ts) > Number(seen.ts) || (r.ts === seen.ts && Number(r.id) > Number(seen.id))) latest.set(r.entity_id, r);
    }
    const taken = rows.filter((r) => latest.has(r.entity_id));
    report.more = taken.length < rows.length || rows.length === EVENTS_PER_PASS;
    report.events = taken.length;
    const ids = [...latest.keys()];
    try {
      const raw = optionsOf(flow);
      // Few retries inside one pass: a pass that fails leaves its events pending for the next sweep.
      const client = clientOf(raw, { flow: flowName, env: port.env, log: port.log, sql: port.sql }, { retries: 3 });
      if (entity === 'deal') {
        const options = raw as DealsOptions;
        const deals = await dealStates(client, ids, options);
        const changes = deals.map((d) => stageChange(d, options.stages)).filter((c) => c !== undefined);
        report.fetched = deals.length;
        const applied = await port.orders.applyChanges(changes, `flow:${flowName}`);
        report.statuses = { changed: applied.changed, unchanged: applied.unchanged, notFound: applied.notFound };
        report.warnings.push(...applied.warnings);
      } else {
        const live = ids.filter((id) => !latest.get(id)!.deleted);
        const gone = ids.filter((id) => latest.get(id)!.deleted);
        const fetched = live.length ? await fetchEntities(client, entity, live, connectionOf(raw), report.warnings) : new Map<string, Rec>();
        const system = systemOf(flow);
        const records: Rec[] = [];
        for (const [id, rec] of fetched) {
          records.push(rec);
          await db.query(`INSERT INTO crm_bitrix24_entities (system, entity, entity_id, record, deleted) VALUES ($1, $2, $3, $4, false)
            ON CONFLICT (system, entity, entity_id) DO UPDATE SET record = excluded.record, deleted = false, updated_at = now()`, [system, entity, id, rec]);
        }
        if (gone.length) {
          const copies = (await db.query<{ entity_id: string; record: Rec }>(
            'SELECT entity_id, record FROM crm_bitrix24_entities WHERE system = $1 AND entity = $2 AND entity_id = ANY($3::text[])', [system, entity, gone])).rows;
          const byId = new Map(copies.map((c) => [c.entity_id, c.record]));
          for (const id of gone) records.push(deletedOf(entity, id, byId.get(id)));
          report.deleted = gone.length;
          await db.query('UPDATE crm_bitrix24_entities SET deleted = true, updated_at = now() WHERE system = $1 AND entity = $2 AND entity_id = ANY($3::text[])', [system, entity, gone]);
        }
        report.fetched = fetched.size;
        if (records.length) {
          const eventIds = taken.map((r) => r.id);
          const receipt = await port.receive({
            flows: [flowName],
            files: [{ fileName: `bitrix24-${entity}-events-${eventIds[0]}-${eventIds.at(-1)}.ndjson`, body: Readable.from([ndjson(records)]), contentType: 'application/x-ndjson' }],
            // The same events drained again (a crash after receive, before the commit) make no second run.
            key: `bitrix24:${flowName}:events:${sha(eventIds.join(','))}`,
          });
          report.runs = receipt.runs.map((r) => r.id);
        }
      }
    } catch (e) {
      await db.query('ROLLBACK');
      const message = (e as Error).message;
      report.error = message;
      // Left pending for the next sweep; marked failed after MAX_ATTEMPTS and GIVE_UP_AFTER (the message says why).
      await port.sql.query(`UPDATE crm_bitrix24_events SET attempts = attempts + 1, last_error = $2,
        state = CASE WHEN attempts + 1 >= ${MAX_ATTEMPTS} AND received_at < now() - interval '${GIVE_UP_AFTER}' THEN 'failed' ELSE state END
        WHERE id = ANY($1::bigint[])`, [taken.map((r) => r.id), message]);
      port.log.warn({ flow: flowName, events: taken.length, code: isMagistralError(e) ? e.code : undefined, err: message }, 'Bitrix24 events not fetched; they stay pending');
      report.more = false;
      return report;
    }
    await db.query(`UPDATE crm_bitrix24_events SET state = 'done', attempts = attempts + 1, runs = $2::int[], done_at = now(),
      last_error = $3 WHERE id = ANY($1::bigint[])`, [taken.map((r) => r.id), report.runs, report.warnings.length ? report.warnings.join('; ').slice(0, 2000) : null]);
    await db.query('COMMIT');
    port.log.info({ flow: flowName, events: report.events, fetched: report.fetched, deleted: report.deleted, runs: report.runs, statuses: report.statuses, warnings: report.warnings.slice(0, 10) }, 'Bitrix24 events drained');
    return report;
  } catch (e) {
    await db.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    db.release();
  }
}

/** Drains a flow until nothing is pending (or a pass fails); answers the passes' reports. */
export async function drainFlow(port: ConnectorPort, flowName: string): Promise<DrainReport[]> {
  const out: DrainReport[] = [];
  for (;;) {
    const r = await drainOnce(port, flowName);
    if (r.events) out.push(r);
    if (!r.more || r.error) return out;
  }
}

/**
 * Runs the drain in the process serving the endpoint: a flow's drain starts `gatherMs` after an event
 * (so events arriving together are fetched in one batch), one at a time per flow; a sweep every
 * `sweepMs` picks up what is pending (events a crash or a failed fetch left).
 */
export class EventDrain {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private readonly sweepOutage: TickOutage;

  constructor(private readonly port: ConnectorPort, private readonly opts: { sweepMs?: number; gatherMs?: number } = {}) {
    this.sweepOutage = port.outage('Bitrix24 events sweep');
  }

  start(): void {
    const every = this.opts.sweepMs ?? 30_000;
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
    void this.sweep();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      for (const f of await flowsWithPending(this.port)) this.poke(f, 0);
      this.sweepOutage.ok();
    } catch (e) {
      if (!this.sweepOutage.failed(e)) this.port.log.warn({ err: (e as Error).message }, 'Bitrix24 events sweep failed');
    }
  }

  /** Drains the flow soon (after its gatherMs), once at a time. */
  poke(flow: string, gatherMs?: number): void {
    if (this.stopped || this.timers.has(flow)) return;
    if (this.running.has(flow)) {
      this.again.add(flow);
      return;
    }
    const wait = gatherMs ?? this.opts.gatherMs ?? 200;
    const t = setTimeout(() => {
      this.timers.delete(flow);
      this.run(flow);
    }, wait);
    t.unref();
    this.timers.set(flow, t);
  }

  private run(flow: string): void {
    const p = drainFlow(this.port, flow)
      .then(() => undefined, (e: unknown) => this.port.log.warn({ flow, err: (e as Error).message }, 'Bitrix24 events drain failed'))
      .finally(() => {
        this.running.delete(flow);
        if (this.again.delete(flow)) this.poke(flow);
      });
    this.running.set(flow, p);
  }
}
