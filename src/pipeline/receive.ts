// Receiving a payload through the connector port: its files stored durably (or taken as a connector
// stored them), one run per flow made in the canonical dependency order, all in one transaction; then
// extraction is enqueued in queue order. With a key, receiving the same payload again makes nothing.
import { rm } from 'node:fs/promises';
import { sql } from 'kysely';
import { MagistralError } from '../errors/index.ts';
import type { PayloadFile, Receipt, ReceiveRequest } from '../port/port.ts';
import type { PipelineDeps } from './deps.ts';
import { getFlow, type StoredFlow } from './flows.ts';
import { storePayload, type IncomingFile, type StoredPayload } from './inbox.ts';
import { creationOrder, dependencies, factDependencies, queueOrder, type PlannedRun } from './run-order.ts';
import { enqueueExtract } from './jobs.ts';
import { createRun } from './lifecycle/index.ts';

interface Kept extends StoredPayload {
  fileName: string;
  contentType: string | null;
  /** Stored here (removed again if the receipt is not made); a connector's own file is never removed. */
  ours: boolean;
}

async function receiptOf(deps: PipelineDeps, key: string): Promise<Receipt | undefined> {
  const r = await deps.pool.query<{ id: string; flow: string }>(
    `SELECT r.id, f.name AS flow FROM runs r JOIN flows f ON f.id = r.flow_id WHERE r.receipt_key = $1 ORDER BY r.id`, [key]);
  return r.rowCount ? { runs: r.rows.map((x) => ({ id: Number(x.id), flow: x.flow })) } : undefined;
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
export async function receive(deps: PipelineDeps, req: ReceiveRequest): Promise<Receipt> {
  if (!req.files.length) throw new MagistralError('MAG_ERR_BAD_REQUEST', 'no file to receive');
  if (!req.flows.length) throw new MagistralError('MAG_ERR_BAD_REQUEST', 'no flow to receive the payload');
  if (req.key) {
    const earlier = await receiptOf(deps, req.key);
    if (earlier) return earlier;
  }
  const flows: StoredFlow[] = creationOrder(await Promise.all([...new Set(req.flows)].map((name) => getFlow(deps.db, name))));
  const outbound = flows.find((f) => f.definition.target === 'orders');
  if (outbound) throw new MagistralError('MAG_ERR_BAD_REQUEST', `flow ${outbound.name} sends orders out (target: orders); it receives no payloads`);
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
      const earlier = await tx.selectFrom('runs').select('id').where('receipt_key', '=', req.key).executeTakeFirst();
      if (earlier) return undefined;
    }
    const planned: PlannedRun[] = [];
    for (const flow of flows) {
      const inboxIds: number[] = [];
      for (const k of kept) {
        const row = await tx.insertInto('inbox').values({
          flow_id: flow.id, file_name: k.fileName, path: k.path, sha256: k.sha256, size_bytes: k.size, content_type: k.contentType,
        }).returning('id').executeTakeFirstOrThrow();
        inboxIds.push(Number(row.id));
      }
      const dependsOn = dependencies(flow, planned);
      const runId = await createRun(tx, {
        flow_id: flow.id, inbox_ids: inboxIds, mode: flow.definition.mode, target: flow.definition.target,
        snapshot_group: req.snapshotGroup ?? null, depends_on: dependsOn, receipt_key: req.key ?? null,
      });
      planned.push({ flow, runId, dependsOn });
    }
    // One read of a single-file payload for every run that may read at the same time: every run but
    // those a fact waits for (price types, warehouses: they read only the file's head, alone, and merge first).
    if (req.readTogether && kept.length === 1) {
      const waitedFor = factDependencies(planned);
      const together = planned.filter((m) => !waitedFor.has(m.runId)).map((m) => m.runId);
      if (together.length > 1) await tx.updateTable('runs').set({ read_with: Math.min(...together) }).where('id', 'in', together).execute();
    }
    return planned;
  });
  if (!made) {
    await Promise.all(kept.filter((k) => k.ours).map((k) => rm(k.path, { force: true })));
    return (await receiptOf(deps, req.key!))!;
  }
  deps.log.info({
    runs: made.map((m) => ({ flow: m.flow.name, run: m.runId })), files: kept.map((k) => ({ file: k.fileName, bytes: k.size, sha256: k.sha256 })),
  }, 'payload received');
  for (const m of queueOrder(made)) {
    await enqueueExtract(deps, m.runId, m.flow.definition).catch((e: unknown) => {
      deps.log.warn({ flow: m.flow.name, run: m.runId, err: e }, 'could not enqueue extraction now; the sweeper will');
    });
  }
  return { runs: made.map((m) => ({ id: m.runId, flow: m.flow.name })) };
}

/**
 * Receives the files of one payload for one flow (a CSV push, an upload, `magistral ingest`): the same
 * receipt a connector makes through the port. When this resolves the sender may be told "success".
 */
export async function receivePayload(deps: PipelineDeps, req: { flow: string; files: IncomingFile[] }): Promise<{ runId: number }> {
  const r = await receive(deps, { flows: [req.flow], files: req.files });
  return { runId: r.runs[0]!.id };
}
