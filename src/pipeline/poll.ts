// Pulled (scheduled) sources: a flow whose connector can pull gets a BullMQ job scheduler from its
// `schedule`; each pull stores what the connector fetched in the inbox as one run, so pulled data
// gets rejects, guard and replay like pushed data. The connector's cursor is kept only once that run
// is done: a pull whose run fails or is rejected is repeated from the old cursor.
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { Readable } from 'node:stream';
import { Queue, type ConnectionOptions, type RepeatOptions } from 'bullmq';
import { sql, type Kysely } from 'kysely';
import { isMagistralError, MagistralError } from '../errors/index.ts';
import { withDefaultUser, type Database } from '../db/index.ts';
import { PullError } from '../errors/index.ts';
import type { PullResult } from '../port/connector.ts';
import type { PipelineDeps } from './deps.ts';
import { getFlow, listFlows, type Flow } from './flows.ts';
import { storePayload } from './inbox.ts';
import { redisConnection } from './queues.ts';
import { enqueueExtract } from './jobs.ts';
import { createRun, isTerminal } from './lifecycle/index.ts';
import { pullLockKey, TRY_LOCK_SQL, UNLOCK_SQL } from './locks.ts';
import { installationId } from './installation.ts';

export const POLL_QUEUE = 'poll';
/** `installation`: see ExtractJob in queues.ts. */
export interface PollJob { flow: string; installation?: string }

/** How a pull went. `waiting`: the previous pull's run is still open (or held), so nothing was fetched. */
export type PullOutcome =
  | { outcome: 'received'; flow: string; flowId: number; runId: number; records: number }
  | { outcome: 'unchanged'; flow: string; flowId: number }
  | { outcome: 'busy'; flow: string; reason: string }
  | { outcome: 'waiting'; flow: string; runId: number; reason: string }
  | { outcome: 'skipped'; flow: string; reason: string }
  | { outcome: 'failed'; flow: string; error: { code: string; message: string } };

export interface PullOptions {
  /** schedule: a scheduler's tick, skipped quietly when the flow no longer wants it. @defaultValue 'manual' */
  trigger?: 'schedule' | 'manual';
  /** Where connectors read secrets named by their options. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
}


/** Id of a flow's scheduler (no colons: BullMQ reads colon-separated ids as legacy repeat keys). */
export function schedulerId(flow: string): string {
  return `pull.${flow}`;
}

/**
 * Settles the pull whose run was open: its cursor is kept when the run is done, dropped when the run
 * failed or was rejected. Returns the id of a run that is still open (or held), if any.
 */
export async function settlePull(db: Kysely<Database>, flowId: number): Promise<number | undefined> {
  const row = await db.selectFrom('poll_state').leftJoin('runs', 'runs.id', 'poll_state.pending_run_id')
    .select(['poll_state.pending_run_id', 'runs.state']).where('poll_state.flow_id', '=', flowId).executeTakeFirst();
  const runId = row?.pending_run_id;
  if (runId === null || runId === undefined) return undefined;
  if (row!.state && !isTerminal(row!.state)) return runId;
  if (row!.state === 'done') {
    await sql`UPDATE poll_state SET cursor = pending_cursor, cursor_run_id = pending_run_id, pending_run_id = NULL, pending_cursor = NULL, updated_at = now()
      WHERE flow_id = ${flowId} AND pending_run_id = ${runId}`.execute(db);
  } else {
    await sql`UPDATE poll_state SET pending_run_id = NULL, pending_cursor = NULL, updated_at = now()
      WHERE flow_id = ${flowId} AND pending_run_id = ${runId}`.execute(db);
  }
  return undefined;
}

async function recordFailure(db: Kysely<Database>, flowId: number, code: string, message: string): Promise<void> {
  const now = new Date();
  await db.insertInto('poll_state')
    .values({ flow_id: flowId, last_pull_at: now, last_outcome: 'failed', last_error_code: code, last_error: message, failures: 1, updated_at: now })
    .onConflict((oc) => oc.column('flow_id').doUpdateSet((eb) => ({
      last_pull_at: now, last_outcome: 'failed', last_error_code: code, last_error: message,
      failures: eb('poll_state.failures', '+', 1), updated_at: now,
    })))
    .execute();
}

/**
 * Pulls a flow's source once: fetches through the connector's `pull`, stores the payload in the
 * inbox and records its run (with the new cursor pending) in one transaction, then enqueues the
 * extraction. One pull of a flow at a time, across processes (a PostgreSQL advisory lock).
 */
export async function pullFlow(deps: PipelineDeps, name: string, opts: PullOptions = {}): Promise<PullOutcome> {
  const trigger = opts.trigger ?? 'manual';
  let flow;
  try {
    flow = await getFlow(deps.db, name);
  } catch (e) {
    // A scheduler left over from a deleted flow: the next schedule sync removes it.
    if (trigger === 'schedule' && isMagistralError(e) && e.code === 'MAG_ERR_FLOW_NOT_FOUND') return { outcome: 'skipped', flow: name, reason: 'no such flow' };
    throw e;
  }
  const def = flow.definition;
  const connector = deps.registry.connector(def.source.connector);
  if (!connector) throw new MagistralError('MAG_ERR_CONNECTOR_UNKNOWN', `connector '${def.source.connector}' is not available in this process`);
  // An act flow asks its ERP for documents on a buyer's request (src/backoffice/act-requests.ts), never on a schedule.
  if (def.target === 'reconciliationActs') throw new MagistralError('MAG_ERR_BAD_REQUEST', `flow ${name} asks the ERP for reconciliation acts (target: reconciliationActs); it is not pulled`);
  if (!connector.pull) throw new MagistralError('MAG_ERR_BAD_REQUEST', `flow ${name}: connector '${def.source.connector}' does not pull; its payloads are pushed to Magistral`);
  if (flow.paused) return { outcome: 'skipped', flow: name, reason: 'the flow is paused' };
  if (trigger === 'schedule' && !def.schedule) return { outcome: 'skipped', flow: name, reason: 'the flow has no schedule' };

  const log = deps.log.child({ flow: name });
  // The flow's lock is held on a connection of its own, outside the pool: the pull reads and writes the
  // store through the pool meanwhile, and locks held on pooled connections by as many pulls as the pool
  // has connections left none for those reads (`magistral demo`, pool of 4, five Bitrix24 pulls at once).
  const client = new pg.Client({ connectionString: withDefaultUser(deps.config.DATABASE_URL), application_name: 'magistral-pull-lock' });
  client.on('error', () => {});
  await client.connect();
  try {
    const lock = await client.query<{ ok: boolean }>(TRY_LOCK_SQL, [pullLockKey(flow.id)]);
    if (!lock.rows[0]?.ok) return { outcome: 'busy', flow: name, reason: 'another pull of this flow is running' };
    try {
      const open = await settlePull(deps.db, flow.id);
      if (open !== undefined) return { outcome: 'waiting', flow: name, runId: open, reason: `run ${open} of the previous pull is not finished` };
      const state = await deps.db.selectFrom('poll_state').select('cursor').where('flow_id', '=', flow.id).executeTakeFirst();
      const previous = state?.cursor ?? undefined;

      const started = Date.now();
      let result: PullResult | undefined;
      let stored;
      let fileName = 'pull';
      try {
        const handle = connector.pull({
          flow: name, options: (def.source.options ?? {}) as Record<string, unknown>, cursor: previous,
          env: opts.env ?? process.env, log, signal: opts.signal, sql: deps.pool,
        });
        fileName = handle.fileName;
        const body = Readable.from((async function* () {
          const it = handle.body;
          for (;;) {
            const n = await it.next();
            if (n.done) {
              result = n.value;
              return;
            }
            yield typeof n.value === 'string' ? Buffer.from(n.value, 'utf8') : n.value;
          }
        })());
        stored = await storePayload(deps.config.MAGISTRAL_DATA_DIR, flow.name, { fileName, body }, deps.config.MAGISTRAL_MAX_PAYLOAD_BYTES);
      } catch (e) {
        opts.signal?.throwIfAborted();
        const code = e instanceof PullError || isMagistralError(e) ? e.code : 'MAG_ERR_PULL_FAILED';
        const message = e instanceof PullError || isMagistralError(e) ? e.message : `${fileName}: ${(e as Error).message}`;
        await recordFailure(deps.db, flow.id, code, message);
        log.warn({ code, err: message, trigger }, 'pull failed');
        return { outcome: 'failed', flow: name, error: { code, message } };
      }
      const r = result!;
      const now = new Date();
      if (!r.changed) {
        await rm(stored.path, { force: true });
        // The connector hands back the very cursor it was given when nothing at all changed: a
        // large one (a version per catalog entry) is then not written again.
        const same = r.cursor === previous;
        const cursor = same ? {} : { cursor: r.cursor === undefined ? null : JSON.stringify(r.cursor) };
        await deps.db.insertInto('poll_state')
          .values({ flow_id: flow.id, ...cursor, last_pull_at: now, last_outcome: 'unchanged', last_records: 0, failures: 0, updated_at: now })
          .onConflict((oc) => oc.column('flow_id').doUpdateSet((eb) => ({
            ...(same ? {} : { cursor: eb.ref('excluded.cursor') }),
            last_pull_at: now, last_outcome: 'unchanged', last_records: 0, last_error_code: null, last_error: null, failures: 0, updated_at: now,
          })))
          .execute();
        log.info({ ms: Date.now() - started, trigger }, 'pull found nothing new');
        return { outcome: 'unchanged', flow: name, flowId: flow.id };
      }
      const cursorJson = r.cursor === undefined ? null : JSON.stringify(r.cursor);
      const runId = await deps.db.transaction().execute(async (tx) => {
        const inbox = await tx.insertInto('inbox').values({
          flow_id: flow.id, file_name: fileName, path: stored.path, sha256: stored.sha256, size_bytes: stored.size, content_type: 'application/x-ndjson',
        }).returning('id').executeTakeFirstOrThrow();
        const run = { id: await createRun(tx, { flow_id: flow.id, inbox_ids: [inbox.id], mode: def.mode, target: def.target }) };
        const pending = {
          pending_run_id: run.id, last_pull_at: now, last_outcome: 'received' as const, last_records: r.records,
          last_error_code: null, last_error: null, failures: 0, updated_at: now,
        };
        await tx.insertInto('poll_state').values({ flow_id: flow.id, pending_cursor: cursorJson, ...pending })
          .onConflict((oc) => oc.column('flow_id').doUpdateSet((eb) => ({ ...pending, pending_cursor: eb.ref('excluded.pending_cursor') }))).execute();
        return run.id;
      });
      log.info({ run: runId, records: r.records, bytes: stored.size, ms: Date.now() - started, trigger }, 'pull received');
      await enqueueExtract(deps, runId, def).catch((e: unknown) => log.warn({ run: runId, err: e }, 'could not enqueue extraction now; the sweeper will'));
      return { outcome: 'received', flow: name, flowId: flow.id, runId, records: r.records };
    } finally {
      await client.query(UNLOCK_SQL, [pullLockKey(flow.id)]).catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
}

export interface PollStatus {
  flow: string;
  schedule: Flow['schedule'] | null;
  lastPullAt: Date | null;
  lastOutcome: string | null;
  lastRecords: number | null;
  lastError: { code: string | null; message: string } | null;
  failures: number;
  /** Run of the last pull whose cursor is kept, and the one still open. */
  cursorRunId: number | null;
  pendingRunId: number | null;
}

export async function pollStatus(db: Kysely<Database>, name: string): Promise<PollStatus> {
  const flow = await getFlow(db, name);
  const s = await db.selectFrom('poll_state').selectAll().where('flow_id', '=', flow.id).executeTakeFirst();
  return {
    flow: name,
    schedule: flow.definition.schedule ?? null,
    lastPullAt: s?.last_pull_at ?? null,
    lastOutcome: s?.last_outcome ?? null,
    lastRecords: s?.last_records ?? null,
    lastError: s?.last_error ? { code: s.last_error_code, message: s.last_error } : null,
    failures: s?.failures ?? 0,
    cursorRunId: s?.cursor_run_id ?? null,
    pendingRunId: s?.pending_run_id ?? null,
  };
}

export interface PollQueue {
  queue: Queue<PollJob>;
  close(): Promise<void>;
}

export function createPollQueue(redisUrl: string, prefix: string): PollQueue {
  const connection = redisConnection(redisUrl, { maxRetriesPerRequest: 1 });
  connection.on('error', () => {});
  const queue = new Queue<PollJob>(POLL_QUEUE, { connection: connection as ConnectionOptions, prefix });
  queue.on('error', () => {});
  return {
    queue,
    async close() {
      await queue.close().catch(() => {});
      connection.disconnect();
    },
  };
}

/** A schedule's BullMQ schedulers: `pull.NAME` for everySeconds, `pull.NAME.cron` for the cron pattern. */
function schedulersOf(name: string, s: NonNullable<Flow['schedule']>): Array<[string, Omit<RepeatOptions, 'key'>]> {
  const out: Array<[string, Omit<RepeatOptions, 'key'>]> = [];
  if (s.everySeconds) out.push([schedulerId(name), { every: s.everySeconds * 1000 }]);
  if (s.cron) out.push([`${schedulerId(name)}.cron`, { pattern: s.cron.trim(), ...(s.timezone ? { tz: s.timezone } : {}) }]);
  return out;
}

/**
 * Brings the queue's job schedulers in line with the flow registry: for each active flow that has a
 * `schedule` and a connector that pulls; schedulers of paused, unscheduled or removed flows go.
 * Idempotent and cheap, so workers run it on every sweep (flows may be applied by any process).
 */
export async function syncSchedules(deps: Pick<PipelineDeps, 'db' | 'log' | 'registry'>, queue: Queue<PollJob>): Promise<{ upserted: string[]; removed: string[]; errors: Array<{ flow: string; message: string }> }> {
  const want = new Map<string, { flow: string; repeat: Omit<RepeatOptions, 'key'> }>();
  for (const f of await listFlows(deps.db)) {
    const s = f.definition.schedule;
    if (!s || f.paused || !deps.registry.connector(f.definition.source.connector)?.pull) continue;
    for (const [id, repeat] of schedulersOf(f.name, s)) want.set(id, { flow: f.name, repeat });
  }
  const have = await queue.getJobSchedulers(0, -1);
  const out = { upserted: [] as string[], removed: [] as string[], errors: [] as Array<{ flow: string; message: string }> };
  for (const h of have) {
    if (!h) continue; // a scheduler removed while we listed
    const id = h.key;
    if (id.startsWith('pull.') && !want.has(id)) {
      await queue.removeJobScheduler(id);
      out.removed.push(id);
    }
  }
  for (const [id, w] of want) {
    const h = have.find((x) => x?.key === id);
    if (h && h.every === w.repeat.every && h.pattern === w.repeat.pattern && (h.tz ?? undefined) === w.repeat.tz) continue;
    try {
      await queue.upsertJobScheduler(id, w.repeat, {
        name: 'pull',
        data: { flow: w.flow, installation: await installationId(deps.db) },
        opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } },
      });
      out.upserted.push(id);
    } catch (e) {
      out.errors.push({ flow: w.flow, message: (e as Error).message });
      deps.log.warn({ flow: w.flow, err: (e as Error).message }, 'schedule not set');
    }
  }
  if (out.upserted.length || out.removed.length) deps.log.info({ upserted: out.upserted, removed: out.removed }, 'pull schedules synced');
  return out;
}
