// Receiving a payload through the connector port: its files stored durably (or taken as a connector
// stored them), one run per flow made in the canonical dependency order, all in one transaction; then
// extraction is enqueued in queue order. With a key, receiving the same payload again makes nothing.
import { rm } from 'node:fs/promises';
import { CompiledQuery, sql, type Transaction } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError, type ErrorCode } from '../errors/index.ts';
import type { PayloadFile, Receipt, ReceiveRequest } from '../port/port.ts';
import type { PipelineDeps } from './deps.ts';
import { getFlow, type StoredFlow } from './flows.ts';
import { storePayload, type IncomingFile, type StoredPayload } from './inbox.ts';
import { creationOrder, dependencies, factDependencies, queueOrder, type PlannedRun } from './run-order.ts';
import { enqueueExtract } from './jobs.ts';
import { createRun } from './lifecycle/index.ts';
import { dropStaging } from './staging-table.ts';
import { annotate, ATTR, inSpan } from '../telemetry/tracing.ts';
import { OPEN_RUN_PREDICATE } from '../db/migrations/0015-runs-flow-open.ts';

interface Kept extends StoredPayload {
  fileName: string;
  contentType: string | null;
  /** Stored here (removed again if the receipt is not made); a connector's own file is never removed. */
  ours: boolean;
}

/** The runs a receipt key answers for: per flow the newest (a coalesced run split after it failed made newer ones). */
async function receiptOf(deps: PipelineDeps, key: string): Promise<Receipt | undefined> {
  const r = await deps.pool.query<{ id: string; flow: string }>(`
    SELECT id, flow FROM (
      SELECT DISTINCT ON (f.id) r.id, f.name AS flow FROM run_receipts k JOIN runs r ON r.id = k.run_id JOIN flows f ON f.id = r.flow_id
      WHERE k.key = $1 ORDER BY f.id, r.id DESC) x ORDER BY id`, [key]);
  return r.rowCount ? { runs: r.rows.map((x) => ({ id: Number(x.id), flow: x.flow })) } : undefined;
}

/**
 * A coalescing receipt joins the flow's newest run when that run was made by one, has not started
 * reading and has room; answers the run or undefined. Only the newest run: a message never merges
 * before one received earlier (a malformed one, a replay). The new files read after the run's own,
 * and what the payload's other runs made now must merge first is added to the run's dependencies.
 */
function joinRun(tx: Transaction<Database>, flowId: number, inboxIds: number[], bytes: number, dependsOn: number[], max: { bytes: number; files: number }) {
  return sql<{ id: string }>`
    UPDATE runs SET inbox_ids = inbox_ids || ${inboxIds}::bigint[], coalesce_bytes = coalesce_bytes + ${bytes}::bigint,
      depends_on = ARRAY(SELECT DISTINCT d FROM unnest(depends_on || ${dependsOn}::bigint[]) d ORDER BY d)
    WHERE id = (SELECT max(id) FROM runs WHERE flow_id = ${flowId}) AND state = 'received' AND kind = 'payload'
      AND coalesce_bytes IS NOT NULL AND snapshot_group IS NULL AND read_with IS NULL
      AND coalesce_bytes + ${bytes}::bigint <= ${max.bytes}::bigint AND cardinality(inbox_ids) + ${inboxIds.length}::int <= ${max.files}::int
    RETURNING id`.execute(tx);
}

async function keep(deps: PipelineDeps, flow: string, f: PayloadFile): Promise<Kept> {
  if ('stored' in f) return { ...f.stored, fileName: f.fileName, contentType: f.contentType ?? null, ours: false };
  const s = await storePayload(deps.config.MAGISTRAL_DATA_DIR, flow, f, deps.config.MAGISTRAL_MAX_PAYLOAD_BYTES);
  return { ...s, fileName: f.fileName, contentType: f.contentType ?? null, ours: true };
}

/**
 * Stores the files and makes the runs. When this resolves the sender may be told "success": the payload
 * can no longer be lost, even if Redis is down (the sweeper enqueues it later).
 */
export function receive(deps: PipelineDeps, req: ReceiveRequest): Promise<Receipt> {
  // The span of the receipt hangs under the request's (or the pull's); the runs' extract jobs carry it on.
  return inSpan('magistral.receive', { [ATTR.flow]: req.flows.join(',') }, {}, async () => {
    const receipt = await receiveUntraced(deps, req);
    annotate({ [ATTR.runs]: receipt.runs.map((r) => r.id), ...(receipt.runs.length === 1 ? { [ATTR.run]: receipt.runs[0]!.id } : {}), [ATTR.outcome]: receipt.repeated ? 'repeated' : 'received' });
    return receipt;
  });
}

async function receiveUntraced(deps: PipelineDeps, req: ReceiveRequest): Promise<Receipt> {
  if (!req.files.length) throw new MagistralError('MAG_ERR_BAD_REQUEST', 'no file to receive');
  if (!req.flows.length) throw new MagistralError('MAG_ERR_BAD_REQUEST', 'no flow to receive the payload');
  // Asked before storing anything; files a connector stored itself cost nothing to take, and the
  // transaction asks again anyway (one round trip less per IDoc message).
  if (req.key && req.files.some((f) => !('stored' in f))) {
    const earlier = await receiptOf(deps, req.key);
    if (earlier) return { ...earlier, repeated: true };
  }
  const flows: StoredFlow[] = creationOrder(await Promise.all([...new Set(req.flows)].map((name) => getFlow(deps.db, name))));
  const outbound = flows.find((f) => f.definition.target === 'orders');
  if (outbound) throw new MagistralError('MAG_ERR_BAD_REQUEST', `flow ${outbound.name} sends orders out (target: orders); it receives no payloads`);
  const acts = flows.find((f) => f.definition.target === 'reconciliationActs');
  if (acts) throw new MagistralError('MAG_ERR_BAD_REQUEST', `flow ${acts.name} asks the ERP for reconciliation acts (target: reconciliationActs); it receives no payloads`);
  if (req.growing && (!req.key || req.files.length !== 1 || !('stored' in req.files[0]!) || req.coalesce)) {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', 'a growing payload is one stored file received under a key, not coalesced');
  }
  const kept: Kept[] = [];
  try {
    for (const f of req.files) kept.push(await keep(deps, flows[0]!.name, f));
  } catch (e) {
    await Promise.all(kept.filter((k) => k.ours).map((k) => rm(k.path, { force: true })));
    throw e;
  }
  const made = await deps.db.transaction().execute(async (tx) => {
    if (req.key) {
      // Two receipts of one key at once: the second waits, then answers the first one's runs.
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`magistral:receipt:${req.key}`}))`.execute(tx);
      const earlier = await tx.selectFrom('run_receipts').select('run_id').where('key', '=', req.key).executeTakeFirst();
      if (earlier) return undefined;
    }
    // The file's runs follow its committed bytes (growth.ts) until it is sealed.
    const growthKey = req.growing ? req.key! : null;
    if (growthKey) {
      await tx.insertInto('inbox_growth').values({ key: growthKey, committed_bytes: kept[0]!.size }).onConflict((oc) => oc.column('key').doNothing()).execute();
    }
    const coalesce = !!req.coalesce && !req.snapshotGroup && !req.readTogether && deps.config.MAGISTRAL_COALESCE_MAX_BYTES > 0;
    const bytes = kept.reduce((a, k) => a + k.size, 0);
    const planned: Array<PlannedRun & { joined: boolean }> = [];
    for (const flow of flows) {
      const inboxIds: number[] = [];
      for (const k of kept) {
        const row = await tx.insertInto('inbox').values({
          flow_id: flow.id, file_name: k.fileName, path: k.path, sha256: k.sha256, size_bytes: k.size, content_type: k.contentType, growth_key: growthKey,
        }).returning('id').executeTakeFirstOrThrow();
        inboxIds.push(Number(row.id));
      }
      // Receipts of one flow take turns deciding whether to join (else two would each make a new run),
      // from here to their commit: in creation order, so two payloads for the same flows never wait for
      // each other crosswise.
      if (coalesce) await sql`SELECT pg_advisory_xact_lock(hashtext(${`magistral:coalesce:${flow.id}`}))`.execute(tx);
      const dependsOn = dependencies(flow, planned);
      let runId: number | undefined;
      if (coalesce) {
        const max = { bytes: deps.config.MAGISTRAL_COALESCE_MAX_BYTES, files: deps.config.MAGISTRAL_COALESCE_MAX_FILES };
        const joined = (await joinRun(tx, flow.id, inboxIds, bytes, dependsOn, max)).rows[0];
        if (joined) runId = Number(joined.id);
      }
      let created: number | undefined;
      runId ??= created = await createRun(tx, {
        flow_id: flow.id, inbox_ids: inboxIds, mode: flow.definition.mode, target: flow.definition.target,
        snapshot_group: req.snapshotGroup ?? null, depends_on: dependsOn, receipt_key: req.key ?? null, coalesce_bytes: coalesce ? bytes : null,
      });
      planned.push({ flow, runId, dependsOn, joined: created !== runId });
      if (req.key) {
        await tx.insertInto('run_receipts').values(inboxIds.map((inboxId) => ({ key: req.key!, run_id: runId!, inbox_id: inboxId }))).execute();
      }
    }
    // One read of a single-file payload for every run that may read at the same time: every run but
    // those a fact waits for (price types, warehouses: they read only the file's head, alone, and merge first).
    if (req.readTogether && kept.length === 1) {
      const waitedFor = factDependencies(planned);
      const together = planned.filter((m) => !waitedFor.has(m.runId)).map((m) => m.runId);
      if (together.length > 1) await tx.updateTable('runs').set({ read_with: Math.min(...together) }).where('id', 'in', together).execute();
    }
    if (req.record) {
      await req.record({
        async query<R>(text: string, values: readonly unknown[] = []) {
          const r = await tx.executeQuery<R>(CompiledQuery.raw(text, [...values]));
          return { rows: r.rows, rowCount: Number(r.numAffectedRows ?? r.rows.length) };
        },
      }, planned.map((m) => ({ id: m.runId, flow: m.flow.name })));
    }
    return planned;
  });
  if (!made) {
    await Promise.all(kept.filter((k) => k.ours).map((k) => rm(k.path, { force: true })));
    return { ...(await receiptOf(deps, req.key!))!, repeated: true };
  }
  deps.log.info({
    runs: made.map((m) => ({ flow: m.flow.name, run: m.runId, ...(m.joined ? { joined: true } : {}) })), files: kept.map((k) => ({ file: k.fileName, bytes: k.size, sha256: k.sha256 })),
  }, 'payload received');
  // A run joined has its job already (or the sweeper makes it).
  for (const m of queueOrder(made.filter((x) => !x.joined))) {
    await enqueueExtract(deps, m.runId, m.flow.definition).catch((e: unknown) => {
      deps.log.warn({ flow: m.flow.name, run: m.runId, err: e }, 'could not enqueue extraction now; the sweeper will');
    });
  }
  const receipt: Receipt = { runs: made.map((m) => ({ id: m.runId, flow: m.flow.name })) };
  if (req.pace) {
    const waited = await pace(deps, flows.map((f) => f.id));
    if (waited) receipt.pacedMs = waited;
  }
  return receipt;
}

/**
 * Backpressure (ReceiveRequest.pace): waits while the oldest unfinished run of the flows (held runs and
 * paused flows aside: they wait for a person) was received more than MAGISTRAL_PACE_LAG_MS ago and a run
 * of them is being read or merged, at most
 * MAGISTRAL_PACE_MAX_WAIT_MS. Answers the milliseconds waited. bench:sap at 1,000,000 conditions without
 * it: the merge fell behind the posting (17 s of backlog at the end), and a one-condition IDoc posted
 * meanwhile took up to 16 s to show (p95 5.1 s).
 */
async function pace(deps: PipelineDeps, flowIds: number[]): Promise<number> {
  const maxWait = deps.config.MAGISTRAL_PACE_MAX_WAIT_MS;
  if (!maxWait) return 0;
  const started = Date.now();
  let slept = false;
  for (let interval = 20; ; interval = Math.min(interval * 2, 100)) {
    // Only while the flows' work moves (a run being read or merged): with the workers stopped, holding
    // the sender back would not make anything catch up.
    const r = await deps.pool.query<{ lag: number | null }>(`
      SELECT CASE WHEN bool_or(r.state IN ('extracting', 'merging')) THEN extract(epoch FROM now() - min(r.received_at)) * 1000 END AS lag
      FROM runs r JOIN flows f ON f.id = r.flow_id
      WHERE r.flow_id = ANY($1::int[]) AND r.${OPEN_RUN_PREDICATE} AND r.state <> 'held' AND NOT f.paused`, [flowIds]);
    const lag = r.rows[0]?.lag;
    const waited = Date.now() - started;
    if (lag === null || lag === undefined || Number(lag) <= deps.config.MAGISTRAL_PACE_LAG_MS || waited >= maxWait) return slept ? waited : 0;
    slept = true;
    await new Promise((res) => setTimeout(res, Math.min(interval, maxWait - waited)));
  }
}

/**
 * Receives the files of one payload for one flow (a CSV push, an upload, `magistral ingest`): the same
 * receipt a connector makes through the port. When this resolves the sender may be told "success".
 * With a `key`, a payload sent again under it (a retry after the connection dropped as the first one
 * committed) makes nothing and answers the first run (`repeated`).
 */
export async function receivePayload(deps: PipelineDeps, req: { flow: string; files: IncomingFile[]; key?: string }): Promise<{ runId: number; repeated: boolean }> {
  const r = await receive(deps, { flows: [req.flow], files: req.files, ...(req.key ? { key: req.key } : {}) });
  return { runId: r.runs[0]!.id, repeated: r.repeated === true };
}

/**
 * A coalesced run (many receipts' messages) one of whose files cannot be read: that message is set apart
 * as a run of its own, failed with the reader's error (which names its file, line and element), and the
 * run goes back to received to read the others again — one bad message fails alone, the others land, and
 * the run keeps its place among the flow's runs (runs of a flow merge in order). The message's receipt
 * keys follow it. Answers the failed run, or undefined when `runId` is no coalesced run of several files
 * being extracted (the caller then fails it as a whole).
 */
export async function setApartUnreadable(deps: PipelineDeps, runId: number, fileIndex: number, code: ErrorCode, message: string): Promise<number | undefined> {
  const apart = await deps.db.transaction().execute(async (tx) => {
    const run = await tx.selectFrom('runs').select(['id', 'flow_id', 'inbox_ids', 'coalesce_bytes', 'mode', 'target', 'state'])
      .where('id', '=', runId).forUpdate().executeTakeFirst();
    const bad = run?.inbox_ids.map(Number)[fileIndex];
    if (!run || bad === undefined || run.coalesce_bytes === null || run.inbox_ids.length < 2 || run.state !== 'extracting') return undefined;
    const keys = await tx.selectFrom('run_receipts').select('key').where('run_id', '=', runId).where('inbox_id', '=', bad).execute();
    const size = await tx.selectFrom('inbox').select('size_bytes').where('id', '=', bad).executeTakeFirstOrThrow();
    const id = await createRun(tx, {
      flow_id: run.flow_id, inbox_ids: [bad], mode: run.mode, target: run.target, receipt_key: keys[0]?.key ?? null,
      state: 'failed', error_code: code, error: message, started_at: new Date(), finished_at: new Date(),
    });
    await tx.updateTable('run_receipts').set({ run_id: id }).where('run_id', '=', runId).where('inbox_id', '=', bad).execute();
    await sql`UPDATE runs SET inbox_ids = array_remove(inbox_ids, ${bad}::bigint), coalesce_bytes = coalesce_bytes - ${Number(size.size_bytes)}::bigint,
      state = 'received' WHERE id = ${runId}`.execute(tx);
    return id;
  });
  if (apart === undefined) return undefined;
  await dropStaging(deps.db, runId);
  await deps.pool.query('DELETE FROM rejects WHERE run_id = $1', [runId]);
  deps.log.warn({ run: runId, apart, err: message }, 'a message of a coalesced run cannot be read: it fails as a run of its own, the run reads the others again');
  return apart;
}
