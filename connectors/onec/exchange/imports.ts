// `mode=import`, `deactivate`, `complete`: a received file becomes one run per flow of the exchange, made
// once per session + file through the port (which orders them: price types before prices); 1C repeats the
// import request until it hears success or failure, so every answer is computed from the store and the
// slow work (unpacking an archive, hashing, making the runs) happens in the background under a lease.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { sql, type Selectable } from 'kysely';
import type { ConnectorPort, Logger, RunStatus } from '../../../src/port/index.ts';
import { checkedName, ExchangeFailure, makeDurable, RunningHashes } from './files.ts';
import { isArchiveName } from './names.ts';
import type { ExchangeSettings } from './options.ts';
import { exchangeFlows, sessionGroup, type ExchangeSession } from './sessions.ts';
import { unpackArchive } from './unzip.ts';
import { onecTables, type OnecFilesTable } from './tables.ts';

type FileRow = Selectable<OnecFilesTable>;

/** How long an answer may wait for work to finish before saying `progress` (1C asks again at once). */
export const ANSWER_WAIT_MS = 1000;
const LEASE_SECONDS = 30;
const HEARTBEAT_MS = 10_000;
const TERMINAL: ReadonlyArray<RunStatus['state']> = ['done', 'failed', 'rejected'];

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
  port: ConnectorPort;
  state: ExchangeState;
  session: ExchangeSession;
  settings: ExchangeSettings;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------ background tasks

/** Takes the file for a task: from one of `from`, or from a holder whose lease ran out. */
async function claim(port: ConnectorPort, fileId: number, from: string[], to: 'unpacking' | 'preparing'): Promise<boolean> {
  const r = await port.sql.query(`
    UPDATE onec_files SET state = $3, lease_until = now() + make_interval(secs => $4), updated_at = now()
    WHERE id = $1 AND (state = ANY($2::text[]) OR (state = $3 AND (lease_until IS NULL OR lease_until < now())))
    RETURNING id`, [fileId, from, to, LEASE_SECONDS]);
  return (r.rowCount ?? 0) > 0;
}

function runTask(ctx: ImportContext, file: FileRow, to: 'unpacking' | 'preparing', work: () => Promise<void>): void {
  const { port, state } = ctx;
  const id = Number(file.id);
  if (state.tasks.has(id)) return;
  const task = (async () => {
    if (!(await claim(port, id, ['receiving'], to))) return;
    const heartbeat = setInterval(() => {
      void port.sql.query(`UPDATE onec_files SET lease_until = now() + make_interval(secs => $2) WHERE id = $1 AND state = $3`, [id, LEASE_SECONDS, to]).catch(() => {});
    }, HEARTBEAT_MS);
    heartbeat.unref();
    try {
      await work();
    } catch (e) {
      const message = e instanceof ExchangeFailure ? e.message : `${file.name}: internal error while importing; details are in the server log`;
      if (!(e instanceof ExchangeFailure)) ctx.log.error({ err: e, file: file.name, session: ctx.session.id }, '1C import task failed');
      else ctx.log.warn({ file: file.name, session: ctx.session.id, reason: e.message }, '1C file refused');
      await port.sql.query(`UPDATE onec_files SET state = 'failed', error = $2, lease_until = NULL, updated_at = now() WHERE id = $1`, [id, message]);
      await port.growth.abandon([receiptKey(ctx.session.id, file)], message).catch(() => {});
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
  await onecTables(ctx.port).transaction().execute(async (tx) => {
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

/**
 * Hands the file to the port: one run per flow of the exchange, made once (the session's file is the
 * receipt's key, so a prepare repeated after a crash gets the same runs), read once for every run that
 * may read at the same time, and part of the session's snapshot group.
 */
async function prepare(ctx: ImportContext, file: FileRow): Promise<void> {
  const { port, session } = ctx;
  // Unpacked entries were synced by the unpacking; a received file is made durable here.
  if (file.archive === null) await makeDurable(file.path, file.name, Number(file.size_bytes));
  const sha = file.sha256 ?? ctx.state.hashes.take(Number(file.id), Number(file.size_bytes)) ?? await sha256File(file.path);
  const flows = await exchangeFlows(port, session.exchange);
  if (!flows.length) throw new ExchangeFailure(`${file.name}: no flow serves exchange '${session.exchange}' any more`);
  const group = sessionGroup(session.id);
  await port.snapshots.open(group);
  // Read while it arrived (followUpload): its runs exist; they may merge now. Given up meanwhile (another
  // file imported first, a new export began): those runs failed, and the file is received anew here.
  const key = receiptKey(session.id, file);
  const sealed = await port.growth.seal(key, { sha256: sha, size: Number(file.size_bytes) });
  const receipt = await port.receive({
    key: sealed === 'abandoned' ? `${key}:again` : key,
    flows: flows.map((f) => f.name),
    files: [{ fileName: file.name, stored: { path: file.path, sha256: sha, size: Number(file.size_bytes) }, contentType: 'application/xml' }],
    snapshotGroup: group,
    readTogether: true,
  });
  const runIds = receipt.runs.map((r) => r.id);
  await onecTables(port).updateTable('onec_files').set({ state: 'imported', run_ids: runIds, sha256: sha, lease_until: null, error: null, updated_at: new Date() })
    .where('id', '=', file.id).execute();
  ctx.log.info({ session: session.id, file: file.name, bytes: Number(file.size_bytes), runs: receipt.runs.map((r) => ({ flow: r.flow, run: r.id })) }, '1C file received: runs started');
}

/** The receipt key of a file's runs: one per session, file and generation (sent again after its import). */
export const receiptKey = (sessionId: string, file: { id: number | string; generation: number }): string => `onec:${sessionId}:${file.id}:${file.generation}`;

/**
 * After a piece of a file is committed: the file's runs are made at its first piece and read what is
 * committed as it comes (port.growth), so parsing and staging overlap the upload; nothing merges before
 * 1C asks for the import (prepare seals it). bench:onec, 1M prices: upload, parse and write in sequence
 * were 0.56–0.62 × the saxes reference; each alone is 2.0–2.7 ×.
 *
 * Not for archives: 1C's zip is read from its central directory, at the end of the file, and its entry
 * becomes a file only when unpacked at the import — those keep today's path (received whole, then read).
 */
export async function followUpload(ctx: ImportContext, received: { id: number; name: string; path: string; size: number; chunks: number }): Promise<void> {
  const { port, session } = ctx;
  if (isArchiveName(received.name) || !ctx.settings.followUploads) return;
  const file = await onecTables(port).selectFrom('onec_files').select(['id', 'generation', 'state', 'archive']).where('id', '=', received.id).executeTakeFirst();
  if (!file || file.state !== 'receiving' || file.archive !== null) return;
  const key = receiptKey(session.id, file);
  if (received.chunks > 1) {
    await port.growth.extend(key, received.size);
    return;
  }
  // 1C cuts a file larger than file_limit into POSTs of file_limit bytes: a first POST shorter than that
  // is the whole file, with no upload left to overlap — it keeps today's path (and a first load's direct
  // COPY into the empty table, which a read to staging would give up).
  if (received.size < ctx.settings.fileLimit) return;
  const flows = await exchangeFlows(port, session.exchange);
  if (!flows.length) return;
  const group = sessionGroup(session.id);
  await port.snapshots.open(group);
  const receipt = await port.receive({
    key, flows: flows.map((f) => f.name), growing: true, snapshotGroup: group, readTogether: true,
    files: [{ fileName: received.name, stored: { path: received.path, sha256: '', size: received.size }, contentType: 'application/xml' }],
  });
  ctx.log.info({ session: session.id, file: received.name, bytes: received.size, runs: receipt.runs.map((r) => r.id) }, '1C file arriving: its runs read it as it comes');
}

/** Files of the session still arriving that were read as they came: their reads are given up (the files stay). */
async function abandonReads(ctx: ImportContext, files: Array<Pick<FileRow, 'id' | 'generation' | 'state' | 'name'>>, reason: (name: string) => string): Promise<void> {
  for (const f of files.filter((x) => x.state === 'receiving')) {
    await ctx.port.growth.abandon([receiptKey(ctx.session.id, f)], reason(f.name));
  }
}

/**
 * Another export of the exchange begins (checkauth of a catalog session): reads that followed uploads of
 * its other sessions, never imported, are given up — their runs would keep the new ones waiting.
 */
export async function abandonOtherSessions(port: ConnectorPort, exchange: string, current: string): Promise<void> {
  const rows = await onecTables(port).selectFrom('onec_files').innerJoin('onec_sessions', 'onec_sessions.id', 'onec_files.session_id')
    .select(['onec_files.id', 'onec_files.generation', 'onec_files.name', 'onec_files.session_id'])
    .where('onec_sessions.exchange', '=', exchange).where('onec_files.session_id', '<>', current).where('onec_files.state', '=', 'receiving').execute();
  for (const r of rows) {
    await port.growth.abandon([receiptKey(r.session_id, r)], `${r.name}: the upload was not imported before a new exchange session (${current}) began; nothing of it was loaded`);
  }
}

// ---------------------------------------------------------------------------------------- answers

/** The answer for a set of runs: progress while one works, else the first failure, else success. */
function runsAnswer(name: string, runs: RunStatus[], what: string): Answer & { final: boolean } {
  const open = runs.filter((r) => !TERMINAL.includes(r.state) && r.state !== 'held');
  // Work that waits for a person would keep 1C asking forever: tell it now (the file is stored and
  // its runs go on once the person has acted).
  const paused = open.find((r) => r.paused);
  if (paused) {
    return { final: true, status: 'failure', message: `${name}: flow ${paused.flow} is paused; run ${paused.id} goes on when it is resumed (magistral flows resume ${paused.flow})` };
  }
  const blocked = open.find((r) => r.blockedBy !== null);
  if (blocked) {
    return { final: true, status: 'failure', message: `${name}: run ${blocked.id} of flow ${blocked.flow} waits for run ${blocked.blockedBy}, held for approval; approve or reject it (magistral runs approve ${blocked.blockedBy})` };
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
    return { final: true, status: 'failure', message: `${name}: run ${held.id} of flow ${held.flow} is held for approval: ${held.heldReason ?? ''}. Approve it (magistral runs approve ${held.id}) or reject it` };
  }
  const rejected = runs.find((r) => r.state === 'rejected');
  if (rejected) return { final: true, status: 'failure', message: `${name}: run ${rejected.id} of flow ${rejected.flow} was rejected by an operator` };
  const sum = (k: keyof RunStatus['rows']) => runs.reduce((n, r) => n + r.rows[k], 0);
  return {
    final: true, status: 'success',
    message: `${name}: ${what} by ${runs.length} run${runs.length === 1 ? '' : 's'}: ${sum('inserted')} inserted, ${sum('updated')} updated, `
      + `${sum('unchanged')} unchanged, ${sum('removed')} removed, ${sum('rejected')} rejected`,
  };
}

async function importStep(ctx: ImportContext, name: string): Promise<Answer & { final: boolean }> {
  const files = await onecTables(ctx.port).selectFrom('onec_files').selectAll().where('session_id', '=', ctx.session.id).orderBy('id').execute();
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
      return runsAnswer(name, await ctx.port.runs(target.run_ids.map(Number)), 'imported');
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
  // Files uploaded before this one and not imported would hold its runs back (a flow's runs merge in
  // order): their early reads are given up; they are read anew when imported.
  const files = await onecTables(ctx.port).selectFrom('onec_files').select(['id', 'generation', 'state', 'name']).where('session_id', '=', ctx.session.id).orderBy('id').execute();
  const target = files.find((f) => f.name === name);
  if (target) await abandonReads(ctx, files.filter((f) => f.id < target.id), (n) => `${n}: ${name} was imported before it; its early read was given up, it is read when imported`);
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
  const { port, session } = ctx;
  await onecTables(port).updateTable('onec_sessions').set({ closed_at: sql<Date>`coalesce(closed_at, now())` }).where('id', '=', session.id).execute();
  const files = await onecTables(port).selectFrom('onec_files').select(['id', 'generation', 'state', 'name']).where('session_id', '=', session.id).execute();
  await abandonReads(ctx, files, (n) => `${n}: the export was completed without importing it; nothing of it was loaded`);
  const ids = await port.snapshots.close(sessionGroup(session.id));
  if (!ids.length) return { status: 'success', message: 'exchange complete: nothing to remove' };
  const deadline = Date.now() + waitMs;
  for (;;) {
    const a = runsAnswer('exchange', await port.runs(ids), 'absent rows removed');
    if (a.final) return { status: a.status, message: a.message };
    if (Date.now() >= deadline) return { status: 'success', message: `exchange complete: removal of absent rows continues in runs ${ids.join(', ')}` };
    await sleep(100);
  }
}
