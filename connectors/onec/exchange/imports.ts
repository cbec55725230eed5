// `mode=import`, `deactivate`, `complete`: a received file becomes one run per flow of the exchange, made
// once per session + file and started in dependency order (price types before prices); 1C repeats the
// import request until it hears success or failure, so every answer is computed from the store and the
// slow work (unpacking an archive, hashing, making the runs) happens in the background under a lease.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { sql, type Selectable } from 'kysely';
import type { OnecFilesTable } from '../../../src/db/index.ts';
import type { ExchangeDeps } from '../../../src/pipeline/connector.ts';
import { autoCreates, type StoredFlow } from '../../../src/pipeline/flows.ts';
import { enqueueExtract } from '../../../src/pipeline/runs.ts';
import { closeSnapshotGroup, openSnapshotGroup } from '../../../src/pipeline/snapshot-group.ts';
import { TARGETS } from '../../../src/pipeline/targets.ts';
import type { Logger } from '../../../src/telemetry/logger.ts';
import { checkedName, ExchangeFailure, makeDurable, RunningHashes } from './files.ts';
import { isArchiveName } from './names.ts';
import type { ExchangeSettings } from './options.ts';
import { exchangeFlows, sessionGroup, type ExchangeSession } from './sessions.ts';
import { unpackArchive } from './unzip.ts';

type FileRow = Selectable<OnecFilesTable>;

/** How long an answer may wait for work to finish before saying `progress` (1C asks again at once). */
export const ANSWER_WAIT_MS = 1000;
const LEASE_SECONDS = 30;
const HEARTBEAT_MS = 10_000;
const TERMINAL = ['done', 'failed', 'rejected'];

/** An answer line set: `success`, `progress` or `failure`, then what 1C shows its operator. */
export interface Answer {
  status: 'success' | 'progress' | 'failure';
  message: string;
}

/** What this process knows beyond the store: running hashes and its background tasks. */
export class ExchangeState {
  readonly hashes = new RunningHashes();
  readonly tasks = new Map<number, Promise<void>>();
}

export interface ImportContext {
  deps: ExchangeDeps;
  state: ExchangeState;
  session: ExchangeSession;
  settings: ExchangeSettings;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------ background tasks

/** Takes the file for a task: from one of `from`, or from a holder whose lease ran out. */
async function claim(deps: ExchangeDeps, fileId: number, from: string[], to: 'unpacking' | 'preparing'): Promise<boolean> {
  const r = await deps.pool.query(`
    UPDATE onec_files SET state = $3, lease_until = now() + make_interval(secs => $4), updated_at = now()
    WHERE id = $1 AND (state = ANY($2::text[]) OR (state = $3 AND (lease_until IS NULL OR lease_until < now())))
    RETURNING id`, [fileId, from, to, LEASE_SECONDS]);
  return (r.rowCount ?? 0) > 0;
}

function runTask(ctx: ImportContext, file: FileRow, to: 'unpacking' | 'preparing', work: () => Promise<void>): void {
  const { deps, state } = ctx;
  const id = Number(file.id);
  if (state.tasks.has(id)) return;
  const task = (async () => {
    if (!(await claim(deps, id, ['receiving'], to))) return;
    const heartbeat = setInterval(() => {
      void deps.pool.query(`UPDATE onec_files SET lease_until = now() + make_interval(secs => $2) WHERE id = $1 AND state = $3`, [id, LEASE_SECONDS, to]).catch(() => {});
    }, HEARTBEAT_MS);
    heartbeat.unref();
    try {
      await work();
    } catch (e) {
      const message = e instanceof ExchangeFailure ? e.message : `${file.name}: internal error while importing; details are in the server log`;
      if (!(e instanceof ExchangeFailure)) ctx.log.error({ err: e, file: file.name, session: ctx.session.id }, '1C import task failed');
      else ctx.log.warn({ file: file.name, session: ctx.session.id, reason: e.message }, '1C file refused');
      await deps.pool.query(`UPDATE onec_files SET state = 'failed', error = $2, lease_until = NULL, updated_at = now() WHERE id = $1`, [id, message]);
    } finally {
      clearInterval(heartbeat);
    }
  })().catch((e: unknown) => ctx.log.error({ err: e }, '1C import task could not record its outcome'))
    .finally(() => state.tasks.delete(id));
  state.tasks.set(id, task);
}

/** Unpacks an archive; its entries become files of the session, ready to import. */
async function unpack(ctx: ImportContext, zip: FileRow): Promise<void> {
  const entries = await unpackArchive(zip.path, zip.name, ctx.session, { maxBytes: ctx.settings.unzipMaxBytes, maxRatio: ctx.settings.unzipMaxRatio });
  await ctx.deps.db.transaction().execute(async (tx) => {
    for (const e of entries) {
      await tx.insertInto('onec_files').values({
        session_id: ctx.session.id, name: e.name, path: e.path, size_bytes: e.size, chunks: 1, archive: zip.name, state: 'receiving', sha256: e.sha256,
      }).onConflict((oc) => oc.columns(['session_id', 'name']).doUpdateSet({
        path: e.path, size_bytes: e.size, chunks: 1, archive: zip.name, state: 'receiving', sha256: e.sha256, error: null, run_ids: [], lease_until: null, updated_at: new Date(),
      })).execute();
    }
    await tx.updateTable('onec_files').set({ state: 'unpacked', lease_until: null, updated_at: new Date() }).where('id', '=', zip.id).execute();
  });
  ctx.log.info({ session: ctx.session.id, archive: zip.name, files: entries.length, bytes: entries.reduce((n, e) => n + e.size, 0) }, '1C archive unpacked');
}

async function sha256File(p: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(p, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// Dependency order of targets within one file: what others refer to merges first.
const RANK: Record<string, number> = { cities: 0, groups: 1, priceTypes: 1, warehouses: 1, properties: 1, propertyValues: 2, products: 3 };

function rank(target: string): number {
  return RANK[target] ?? (TARGETS[target]?.kind === 'fact' ? 5 : 4);
}

function entityOf(target: string): string | undefined {
  const spec = TARGETS[target];
  return spec?.kind === 'dimension' ? spec.entity : undefined;
}

/** Entities a fact refers to (price type and product of a price). */
function factRefs(target: string): string[] {
  const spec = TARGETS[target];
  return spec?.kind === 'fact' ? spec.keys.map((k) => k.entity) : [];
}

/**
 * The runs one flow's run waits for. Catalog runs (groups, products, properties …) merge after every
 * run of an earlier rank (their reading goes on meanwhile: only the merge waits). A fact run (prices, stock) starts loading only once the runs writing what it
 * refers to have merged — the price types of its prices — except an entity it creates placeholders for
 * itself: with autoCreate [product], an offer arriving before its product gets a placeholder that the
 * product's run completes, so prices need not wait for the whole catalog.
 */
export function dependencies(flow: StoredFlow, earlier: Array<{ flow: StoredFlow; runId: number }>): number[] {
  const target = flow.definition.target;
  const r = rank(target);
  const refs = factRefs(target);
  return earlier.filter((e) => {
    const entity = entityOf(e.flow.definition.target);
    if (refs.length) return entity !== undefined && refs.includes(entity) && !autoCreates(flow.definition, entity);
    return rank(e.flow.definition.target) < r;
  }).map((e) => e.runId);
}

/**
 * The order the file's runs are queued in: what facts wait for (price types, warehouses), then the facts
 * (the longest reads), then the rest; workers take jobs in this order.
 */
function queueOrder(made: Array<{ flow: StoredFlow; runId: number; dependsOn: number[] }>): Array<{ flow: StoredFlow; runId: number }> {
  const factDeps = new Set(made.filter((m) => factRefs(m.flow.definition.target).length).flatMap((m) => m.dependsOn));
  const key = (m: (typeof made)[number]) => (factDeps.has(m.runId) ? 0 : factRefs(m.flow.definition.target).length ? 1 : 2);
  return [...made].sort((a, b) => key(a) - key(b) || a.runId - b.runId);
}

/** Makes the file's runs, one per flow of the exchange, in dependency order, and starts them. */
async function prepare(ctx: ImportContext, file: FileRow): Promise<void> {
  const { deps, session } = ctx;
  // Unpacked entries were synced by the unpacking; a received file is made durable here.
  if (file.archive === null) await makeDurable(file.path, file.name, Number(file.size_bytes));
  const sha = file.sha256 ?? ctx.state.hashes.take(Number(file.id), Number(file.size_bytes)) ?? await sha256File(file.path);
  const flows = (await exchangeFlows(deps, session.exchange))
    .sort((a, b) => rank(a.definition.target) - rank(b.definition.target) || a.name.localeCompare(b.name));
  if (!flows.length) throw new ExchangeFailure(`${file.name}: no flow serves exchange '${session.exchange}' any more`);
  const group = sessionGroup(session.id);
  await openSnapshotGroup(deps.db, group);
  const made: Array<{ flow: StoredFlow; runId: number; dependsOn: number[] }> = [];
  await deps.db.transaction().execute(async (tx) => {
    for (const flow of flows) {
      const inbox = await tx.insertInto('inbox').values({
        flow_id: flow.id, file_name: file.name, path: file.path, sha256: sha, size_bytes: Number(file.size_bytes), content_type: 'application/xml',
      }).returning('id').executeTakeFirstOrThrow();
      const dependsOn = dependencies(flow, made);
      const run = await tx.insertInto('runs').values({
        flow_id: flow.id, inbox_ids: [Number(inbox.id)], mode: flow.definition.mode, target: flow.definition.target,
        snapshot_group: group, depends_on: dependsOn,
      }).returningAll().executeTakeFirstOrThrow();
      made.push({ flow, runId: Number(run.id), dependsOn });
    }
    // The file is read once for all runs that may read at the same time: every run but those a fact
    // waits for (price types, warehouses: they read only the file's head, alone, and merge first).
    const factDeps = new Set(made.filter((m) => factRefs(m.flow.definition.target).length).flatMap((m) => m.dependsOn));
    const together = made.filter((m) => !factDeps.has(m.runId)).map((m) => m.runId);
    if (together.length > 1) await tx.updateTable('runs').set({ read_with: Math.min(...together) }).where('id', 'in', together).execute();
    await tx.updateTable('onec_files').set({ state: 'imported', run_ids: made.map((m) => m.runId), sha256: sha, lease_until: null, error: null, updated_at: new Date() })
      .where('id', '=', file.id).execute();
  });
  ctx.log.info({ session: session.id, file: file.name, bytes: Number(file.size_bytes), runs: made.map((m) => ({ flow: m.flow.name, run: m.runId })) }, '1C file received: runs started');
  for (const m of queueOrder(made)) {
    await enqueueExtract(deps, m.runId, m.flow.definition).catch((e: unknown) => ctx.log.warn({ run: m.runId, err: e }, 'extract not enqueued; the sweeper will'));
  }
}

// ---------------------------------------------------------------------------------------- answers

interface RunRow {
  id: number;
  state: string;
  error: string | null;
  held_reason: string | null;
  flow: string;
  rows_read: number;
  rows_inserted: number;
  rows_updated: number;
  rows_unchanged: number;
  rows_rejected: number;
  rows_removed: number;
  paused: boolean;
  /** An earlier run of the same flow held for approval: this one waits for it. */
  blocked_by: number | null;
}

async function runRows(deps: ExchangeDeps, ids: number[]): Promise<RunRow[]> {
  return (await deps.pool.query<RunRow>(`
    SELECT r.id, r.state, r.error, r.held_reason, f.name AS flow, r.rows_read, r.rows_inserted, r.rows_updated, r.rows_unchanged, r.rows_rejected, r.rows_removed,
           f.paused, (SELECT min(h.id) FROM runs h WHERE h.flow_id = r.flow_id AND h.id < r.id AND h.state = 'held') AS blocked_by
    FROM runs r JOIN flows f ON f.id = r.flow_id WHERE r.id = ANY($1::bigint[]) ORDER BY r.id`, [ids])).rows;
}

/** The answer for a set of runs: progress while one works, else the first failure, else success. */
function runsAnswer(name: string, runs: RunRow[], what: string): Answer & { final: boolean } {
  const open = runs.filter((r) => !TERMINAL.includes(r.state) && r.state !== 'held');
  // Work that waits for a person would keep 1C asking forever: tell it now (the file is stored and
  // its runs go on once the person has acted).
  const paused = open.find((r) => r.paused);
  if (paused) {
    return { final: true, status: 'failure', message: `${name}: flow ${paused.flow} is paused; run ${paused.id} goes on when it is resumed (magistral flows resume ${paused.flow})` };
  }
  const blocked = open.find((r) => r.blocked_by !== null);
  if (blocked) {
    return { final: true, status: 'failure', message: `${name}: run ${blocked.id} of flow ${blocked.flow} waits for run ${blocked.blocked_by}, held for approval; approve or reject it (magistral runs approve ${blocked.blocked_by})` };
  }
  if (open.length) {
    return { final: false, status: 'progress', message: `${name}: ${runs.length - open.length} of ${runs.length} runs done; working: ${open.map((r) => `${r.flow} (run ${r.id}, ${r.state})`).join(', ')}` };
  }
  const failed = runs.find((r) => r.state === 'failed');
  if (failed) {
    const err = failed.error ?? 'failed';
    return { final: true, status: 'failure', message: err.startsWith(name) ? err : `${name}: flow ${failed.flow} (run ${failed.id}): ${err}` };
  }
  const held = runs.find((r) => r.state === 'held');
  if (held) {
    return { final: true, status: 'failure', message: `${name}: run ${held.id} of flow ${held.flow} is held for approval: ${held.held_reason ?? ''}. Approve it (magistral runs approve ${held.id}) or reject it` };
  }
  const rejected = runs.find((r) => r.state === 'rejected');
  if (rejected) return { final: true, status: 'failure', message: `${name}: run ${rejected.id} of flow ${rejected.flow} was rejected by an operator` };
  const sum = (k: keyof RunRow) => runs.reduce((n, r) => n + Number(r[k]), 0);
  return {
    final: true, status: 'success',
    message: `${name}: ${what} by ${runs.length} run${runs.length === 1 ? '' : 's'}: ${sum('rows_inserted')} inserted, ${sum('rows_updated')} updated, `
      + `${sum('rows_unchanged')} unchanged, ${sum('rows_removed')} removed, ${sum('rows_rejected')} rejected`,
  };
}

async function importStep(ctx: ImportContext, name: string): Promise<Answer & { final: boolean }> {
  const files = await ctx.deps.db.selectFrom('onec_files').selectAll().where('session_id', '=', ctx.session.id).orderBy('id').execute();
  const archives = files.filter((f) => f.archive === null && isArchiveName(f.name));
  for (const z of archives) if (z.state === 'receiving' || z.state === 'unpacking') runTask(ctx, z, 'unpacking', () => unpack(ctx, z));
  const target = files.find((f) => f.name === name);
  if (target && target.archive === null && isArchiveName(name)) {
    if (target.state === 'failed') return { final: true, status: 'failure', message: target.error ?? `${name}: failed` };
    if (target.state === 'unpacked') return { final: true, status: 'success', message: `${name}: unpacked` };
    return { final: false, status: 'progress', message: `${name}: unpacking` };
  }
  // The file may be inside an archive still being unpacked (1C imports the names inside the zip).
  const unpacking = archives.find((z) => z.state === 'receiving' || z.state === 'unpacking');
  if (unpacking && !target) return { final: false, status: 'progress', message: `${unpacking.name}: unpacking` };
  if (!target) {
    const failedZip = archives.find((z) => z.state === 'failed');
    if (failedZip) return { final: true, status: 'failure', message: failedZip.error ?? `${failedZip.name}: failed` };
    return { final: true, status: 'failure', message: `${name}: no such file was sent in this session` };
  }
  switch (target.state) {
    case 'receiving':
    case 'preparing':
      runTask(ctx, target, 'preparing', () => prepare(ctx, target));
      return { final: false, status: 'progress', message: `${name}: starting the import` };
    case 'failed':
      return { final: true, status: 'failure', message: target.error ?? `${name}: failed` };
    case 'imported':
      return runsAnswer(name, await runRows(ctx.deps, target.run_ids.map(Number)), 'imported');
    default:
      return { final: true, status: 'failure', message: `${name}: cannot be imported (${target.state})` };
  }
}

/** `mode=import&filename=…`: starts the file's runs once and reports on them, waiting up to ANSWER_WAIT_MS. */
export async function importFile(ctx: ImportContext, rawName: string, waitMs = ANSWER_WAIT_MS): Promise<Answer> {
  const name = checkedName(rawName);
  if (ctx.session.closed_at) {
    return { status: 'failure', message: `${name}: this session's export was already completed; start a new one (mode=checkauth)` };
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const a = await importStep(ctx, name);
    if (a.final || Date.now() >= deadline) return { status: a.status, message: a.message };
    await sleep(100);
  }
}

/**
 * `mode=deactivate` / `mode=complete`: the session's export is over. Closes its snapshot group, so
 * what no file of the session carried is removed by one finalize run per flow (guarded), and waits a
 * little for them. Idempotent: both modes, in any order and repeated, close once.
 */
export async function closeSession(ctx: ImportContext, waitMs = 5 * ANSWER_WAIT_MS): Promise<Answer> {
  const { deps, session } = ctx;
  await deps.db.updateTable('onec_sessions').set({ closed_at: sql<Date>`coalesce(closed_at, now())` }).where('id', '=', session.id).execute();
  const ids = await closeSnapshotGroup(deps, sessionGroup(session.id));
  if (!ids.length) return { status: 'success', message: 'exchange complete: nothing to remove' };
  const deadline = Date.now() + waitMs;
  for (;;) {
    const a = runsAnswer('exchange', await runRows(deps, ids), 'absent rows removed');
    if (a.final) return { status: a.status, message: a.message };
    if (Date.now() >= deadline) return { status: 'success', message: `exchange complete: removal of absent rows continues in runs ${ids.join(', ')}` };
    await sleep(100);
  }
}
