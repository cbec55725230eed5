// Reading one file once for several runs. An exchange makes one run per flow from each file it gets;
// those that may read at the same time (runs.read_with) are read in one pass of the parser, each record
// going to the runs whose mappings take its kind. Parsing is the costly part of an extract, so a file
// of several flows costs one read instead of one per flow. Each run keeps its own outcome: staged (then
// merged alone, in dependency order) or, for a first load into an empty fact table, loaded directly.
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PayloadError, isMagistralError } from '../errors/index.ts';
import type { Flow } from '../schemas/index.ts';
import { runLogger, type Logger } from '../telemetry/logger.ts';
import type { SourceRecord } from './connector.ts';
import type { PipelineDeps } from './deps.ts';
import { analyzeWithin, Resolver } from './direct-load.ts';
import {
  compileRunMappings, copyText, dependenciesSettled, effectiveMode, failRun, PathHints, RejectWriter, stagingLine, writeWithBackpressure,
  type ExtractOutcome, type PayloadScan, type RunMode,
} from './extract.ts';
import { autoCreates } from './flows.ts';
import { openPayload } from './inbox.ts';
import { enqueueExtract, enqueueMerge, stagingTable } from './runs.ts';
import { stagingColumnList, stagingColumnsSql, targetSpec, type FactSpec, type TargetSpec } from './targets.ts';

const ADVISORY_EXTRACT = 0x4d41_0000_0000; // the per-run extract locks of extract.ts
const ADVISORY_CLAIM = 0x4d43_0000_0000; // + read_with: one pass at a time claims the runs of a file
const DEPENDENCY_WAIT_MS = 3000;
const MAX_CODES = 500_000;

interface Claimed {
  id: number;
  flowId: number;
  name: string;
  flow: Flow;
  spec: TargetSpec;
  mode: RunMode;
  log: Logger;
}

interface Sink {
  run: Claimed;
  pick: PayloadScan['pick'];
  kinds: ReadonlySet<string>;
  rejects: RejectWriter;
  /** Its connection and COPY: a staged run opens them with its first row (most runs of a file get none). */
  client?: pg.PoolClient;
  copy?: ReturnType<typeof copyFrom>;
  /** The COPY of a staged run (undefined for a direct one, opened with its transaction). */
  copySql?: string;
  format(v: Record<string, string | boolean>, line: number | undefined, reject: boolean, path: string | undefined): string;
  beforeBatch?(n: number): Promise<void>;
  read: number;
  staged: number;
  direct?: { resolvers: [Resolver, Resolver]; unknownRef: number; system: string };
  fileName: string;
  /** Set when the sink cannot go on (its COPY failed, too many codes): its run is read again alone. */
  error?: unknown;
  /** Its connection went back to the pool (finished or discarded). */
  closed?: boolean;
  /** Records of the current batch for it, and their COPY lines. */
  n: number;
  buf: string[];
}

class Overflow extends Error {}
/** More runs with rows than connections to spare: this one is read again alone. */
class Deferred extends Error {}

/** Connections the sinks of one pass may hold at once (the pool less room for the lock holder and other jobs). */
interface Budget { open: number; max: number }

const canon = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x));

/**
 * Extracts the run `leaderId` and, in the same pass over its file, every other run of the file that
 * nobody reads yet and may read now (same connector options, not paused, a fact's dependencies
 * merged). Returns the leader's outcome like extractRun.
 */
export async function extractTogether(deps: PipelineDeps, leaderId: number): Promise<ExtractOutcome> {
  const rows = await deps.db.selectFrom('runs as r').innerJoin('flows as f', 'f.id', 'r.flow_id').innerJoin('runs as l', 'l.read_with', 'r.read_with')
    .select(['r.id', 'r.flow_id', 'r.mode', 'r.depends_on', 'r.inbox_ids', 'r.state', 'r.read_with', 'f.name', 'f.definition', 'f.paused'])
    .where('l.id', '=', leaderId).where('r.state', 'in', ['received', 'extracting']).where('r.kind', '=', 'payload').orderBy('r.id').execute();
  const leaderRow = rows.find((r) => Number(r.id) === leaderId);
  if (!leaderRow) return 'skipped';
  if (leaderRow.paused) return 'paused';
  const leaderFlow = leaderRow.definition;
  const connector = deps.registry.connector(leaderFlow.source.connector);
  if (!connector) {
    await failRun(deps, leaderId, 'MAG_ERR_CONNECTOR_UNKNOWN', `connector '${leaderFlow.source.connector}' is not available in this worker`);
    return 'failed';
  }
  const options = canon(leaderFlow.source.options ?? {});
  const leaderFile = await deps.db.selectFrom('inbox').select(['file_name', 'path']).where('id', '=', Number(leaderRow.inbox_ids[0])).executeTakeFirstOrThrow();

  const lockClient = await deps.pool.connect();
  const claimed: Claimed[] = [];
  const sinks: Sink[] = [];
  try {
    const candidates = [leaderRow, ...rows.filter((x) => x !== leaderRow && !x.paused && x.definition.source.connector === leaderFlow.source.connector
      && canon(x.definition.source.options ?? {}) === options && x.inbox_ids.length === 1)];
    // A fact reads once what it refers to has merged (the price types of the same file: quick). Wait a
    // little for those of every candidate, so the facts of the file share this pass.
    const factDeps = candidates.filter((r) => targetSpec(r.definition.target).kind === 'fact').flatMap((r) => r.depends_on.map(Number));
    const deadline = Date.now() + DEPENDENCY_WAIT_MS;
    while (!(await dependenciesSettled(deps, factDeps)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    // Workers take several runs of the file at once (prices and stock are queued together): each
    // would lead a pass and claim what the other has not yet, and the file would be parsed two or
    // three times over, at the same time. Claiming is serialised per file, so the first pass takes
    // every run that may read now and the others find theirs taken ('busy').
    const claimKey = ADVISORY_CLAIM + Number(leaderRow.read_with);
    await lockClient.query('SELECT pg_advisory_lock($1::bigint)', [claimKey]);
    let early: ExtractOutcome | undefined;
    try {
      for (const r of candidates) {
        const flow = r.definition;
        const isLeader = r === leaderRow;
        const spec = targetSpec(flow.target);
        if (spec.kind === 'fact' && r.depends_on.length && !(await dependenciesSettled(deps, r.depends_on))) {
          if (isLeader) { early = 'waiting'; break; }
          continue; // read alone once its dependencies have merged
        }
        const lock = await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [ADVISORY_EXTRACT + Number(r.id)]);
        if (!lock.rows[0]?.ok) {
          if (isLeader) { early = 'busy'; break; }
          continue;
        }
        // Between the query above and the lock another worker may have read it already.
        const still = await deps.pool.query(`SELECT 1 FROM runs WHERE id = $1 AND state IN ('received', 'extracting')`, [r.id]);
        if (!still.rowCount) {
          await lockClient.query('SELECT pg_advisory_unlock($1::bigint)', [ADVISORY_EXTRACT + Number(r.id)]);
          if (isLeader) { early = 'skipped'; break; }
          continue;
        }
        claimed.push({ id: Number(r.id), flowId: r.flow_id, name: r.name, flow, spec, mode: r.mode, log: runLogger(deps.log, r.name, Number(r.id)) });
      }
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock($1::bigint)', [claimKey]);
    }
    if (early) return early;
    const ids = claimed.map((c) => c.id);
    await deps.pool.query(`UPDATE runs SET state = 'extracting', attempts = attempts + 1, started_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
    const started = Date.now();
    deps.log.info({ runs: ids, file: leaderFile.file_name }, 'reading one file for several runs');

    // One direct load at most: two would each hold the creation lock of the entity they share (products).
    // The pool is shared with the worker's other jobs (merges wait on the locks a direct load holds):
    // leave them room.
    const budget: Budget = { open: 0, max: Math.max(2, (deps.pool.options.max ?? 10) - 4) };
    // The direct path goes to the file's first fact run (the exchange makes prices before stock), whoever leads.
    const directFor = claimed.filter((c) => c.spec.kind === 'fact').sort((a, b) => a.id - b.id)[0]?.id;
    for (const c of claimed) {
      const sink = await openSink(deps, c, c.id === directFor, leaderFile.file_name);
      if (sink.direct) budget.open++;
      sinks.push(sink);
    }
    const kindSinks = new Map<string, Sink[]>();
    for (const s of sinks) for (const k of s.kinds) kindSinks.set(k, [...(kindSinks.get(k) ?? []), s]);
    const declared: RunMode[] = [];
    const input = openPayload(leaderFile.path);
    try {
      const ctx = { fileName: leaderFile.file_name, options: (leaderFlow.source.options ?? {}) as Record<string, unknown>, kinds: new Set(kindSinks.keys()), setMode: (m: RunMode) => { declared.push(m); } };
      for await (const batch of connector.parse(input, ctx)) await feed(deps, budget, sinks, kindSinks, batch);
    } finally {
      input.destroy();
    }
    const outcomes = new Map<number, ExtractOutcome>();
    for (const s of sinks) outcomes.set(s.run.id, await finish(deps, s, declared, started));
    const leaderOutcome = outcomes.get(leaderId) ?? 'skipped';
    for (const s of sinks) {
      if (s.run.id !== leaderId && outcomes.get(s.run.id) === 'staged') {
        await enqueueMerge(deps, s.run.id, s.run.flow).catch((e: unknown) => s.run.log.warn({ err: e }, 'merge not enqueued; the sweeper will'));
      }
    }
    return leaderOutcome;
  } catch (e) {
    const open = sinks.filter((s) => !s.closed);
    for (const s of open) {
      discard(s);
      await s.rejects.done().catch(() => {});
    }
    if (e instanceof PayloadError || (isMagistralError(e) && e.code === 'MAG_ERR_MAPPING_INVALID')) {
      const finished = new Set(sinks.filter((s) => !open.includes(s)).map((s) => s.run.id));
      for (const c of claimed.filter((x) => !finished.has(x.id))) {
        c.log.warn({ err: e.message, code: e.code }, 'run failed: payload cannot be read');
        await failRun(deps, c.id, e.code, e.message);
      }
      return 'failed';
    }
    throw e;
  } finally {
    for (const c of claimed) await lockClient.query('SELECT pg_advisory_unlock($1::bigint)', [ADVISORY_EXTRACT + c.id]).catch(() => {});
    lockClient.release();
  }
}

/** A connection mid-COPY cannot be reused: dropping it makes the server abort the COPY and roll back. */
function discard(s: Sink): void {
  if (s.closed) return;
  s.closed = true;
  if (!s.client) return;
  s.client.on('error', () => {});
  s.copy?.on('error', () => {});
  s.client.release(true);
}

async function openSink(deps: PipelineDeps, run: Claimed, directAllowed: boolean, fileName: string): Promise<Sink> {
  const { pick, kinds } = await compileRunMappings(deps, run.flow, run.spec);
  const rejects = new RejectWriter(deps.pool, run.id);
  await deps.pool.query(`DELETE FROM rejects WHERE run_id = $1`, [run.id]);
  if (directAllowed && run.spec.kind === 'fact') {
    const direct = await openDirect(deps, run, run.spec, pick, kinds, rejects, fileName);
    if (direct) return direct;
  }
  // The staging table exists from the start (a run without rows merges an empty one); its COPY opens
  // with the first row.
  const table = stagingTable(run.id);
  await deps.pool.query(`DROP TABLE IF EXISTS ${table}`);
  await deps.pool.query(`CREATE UNLOGGED TABLE ${table} (${stagingColumnsSql(run.spec)}) WITH (autovacuum_enabled = false)`);
  const line = stagingLine(run.spec, await PathHints.load(deps.pool, run.flow, run.spec));
  return {
    run, pick, kinds, rejects, fileName, read: 0, staged: 0, n: 0, buf: [], format: (v, l, reject, path) => line(v, l, 0, reject, path),
    copySql: `COPY ${table} (${stagingColumnList(run.spec)}) FROM STDIN`,
  };
}

/** The direct path of direct-load.ts, opened for a pass it does not drive. Undefined: use staging. */
async function openDirect(
  deps: PipelineDeps, run: Claimed, spec: FactSpec, pick: Sink['pick'], kinds: ReadonlySet<string>, rejects: RejectWriter, fileName: string,
): Promise<Sink | undefined> {
  if ((await deps.pool.query(`SELECT EXISTS (SELECT 1 FROM ${spec.table}) AS e`)).rows[0].e) return undefined;
  const earlier = await deps.pool.query(`SELECT 1 FROM runs WHERE flow_id = $1 AND id < $2 AND state NOT IN ('done', 'failed', 'rejected') LIMIT 1`, [run.flowId, run.id]);
  if (earlier.rowCount) return undefined;
  const system = run.flow.source.system ?? 'local';
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL work_mem = '${deps.config.MAGISTRAL_MERGE_WORK_MEM}'`);
    // Try-locks only: another sink of this same pass may hold a lock (prices and stock both create
    // products) while its COPY waits for this pass to feed it — waiting here would never end, and
    // PostgreSQL cannot see that deadlock. A lock taken elsewhere sends this run to staging instead.
    let ok = true;
    for (const key of [`magistral:merge:${spec.name}`, ...spec.keys.map((ref) => `magistral:create:${ref.entity}:${system}`)]) {
      if (!ok) break;
      ok = (await client.query(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok`, [key])).rows[0].ok as boolean;
    }
    const resolvers: Resolver[] = [];
    ok = ok && !(await client.query(`SELECT EXISTS (SELECT 1 FROM ${spec.table}) AS e`)).rows[0].e;
    for (const ref of spec.keys) {
      if (!ok) break;
      const seq = (await client.query(`SELECT pg_get_serial_sequence($1, 'id') AS s`, [ref.table])).rows[0].s as string;
      const r = new Resolver(ref, deps.pool, seq, autoCreates(run.flow, ref.entity));
      ok = await r.load(client, system);
      resolvers.push(r);
    }
    if (!ok) {
      await client.query('ROLLBACK');
      client.release();
      return undefined;
    }
    const [part, item] = resolvers as [Resolver, Resolver];
    const cols = [spec.keys[0].column, spec.keys[1].column, ...spec.direct.map((d) => d.column), 'flow_id', 'run_id'];
    const copy = client.query(copyFrom(`COPY ${spec.table} (${cols.join(', ')}) FROM STDIN`));
    const tail = `\t${run.flowId}\t${run.id}\n`;
    const direct = { resolvers: [part, item] as [Resolver, Resolver], unknownRef: 0, system };
    const unknown = (r: Resolver, code: string, line: number | undefined, path: string | undefined): string => {
      direct.unknownRef++;
      rejects.add({
        file: fileName, line: line ?? null, path: path ?? null, field: r.ref.field, rule: 'reference',
        reason: `unknown ${r.ref.label} '${code}' (system ${system})`, record: JSON.stringify({ [r.ref.field]: code }),
      });
      return '';
    };
    const partField = spec.keys[0].field;
    const itemField = spec.keys[1].field;
    const sink: Sink = {
      run, pick, kinds, rejects, client, copy, fileName, read: 0, staged: 0, n: 0, buf: [], direct,
      format(v, line, reject, path) {
        if (reject) return ''; // nothing live to protect in an empty table
        const p = part.id(v[partField] as string);
        if (p === undefined) return unknown(part, v[partField] as string, line, path);
        const i = item.id(v[itemField] as string);
        if (i === undefined) return unknown(item, v[itemField] as string, line, path);
        let out = `${p}\t${i}`;
        for (const d of spec.direct) {
          const x = v[d.field];
          out += '\t' + (x === undefined ? (d.default ?? '\\N') : copyText(x));
        }
        return out + tail;
      },
      async beforeBatch(n) {
        if (part.overflow || item.overflow || part.known.size > MAX_CODES || item.known.size > MAX_CODES) throw new Overflow('too many distinct codes for a direct load');
        await part.reserve(n);
        await item.reserve(n);
      },
    };
    copy.on('error', (e: unknown) => { sink.error ??= e; });
    return sink;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
    throw e;
  }
}

/** Opens a staged sink's COPY, within the pass's connection budget (past it the run is read alone). */
async function ensureOpen(deps: PipelineDeps, budget: Budget, s: Sink): Promise<void> {
  if (s.copy || s.error) return;
  if (budget.open >= budget.max) {
    s.error = new Deferred(`more runs with rows than the ${budget.max} connections a shared read may hold`);
    return;
  }
  budget.open++;
  s.client = await deps.pool.connect();
  s.copy = s.client.query(copyFrom(s.copySql!));
  s.copy.on('error', (e: unknown) => { s.error ??= e; });
}

/** Gives each sink the records of its kinds, mapped and validated, as one COPY write per batch. */
async function feed(deps: PipelineDeps, budget: Budget, sinks: Sink[], kindSinks: Map<string, Sink[]>, batch: SourceRecord[]): Promise<void> {
  for (const s of sinks) {
    s.n = 0;
    s.buf.length = 0;
  }
  for (const rec of batch) for (const s of kindSinks.get(rec.kind ?? '') ?? []) s.n++;
  for (const s of sinks) {
    if (s.error || !s.n) continue;
    try {
      await ensureOpen(deps, budget, s);
      if (s.error) continue;
      await s.beforeBatch?.(s.n);
    } catch (e) {
      s.error = e;
    }
  }
  for (const rec of batch) {
    const targets = kindSinks.get(rec.kind ?? '');
    if (!targets) continue;
    for (let t = 0; t < targets.length; t++) {
      const s = targets[t]!;
      if (s.error) continue;
      s.read++;
      const entry = s.pick(rec.kind);
      if (!entry) continue;
      const r = entry.fn(rec.data);
      if (r.ok) {
        const line = s.format(r.value, rec.line, false, rec.path);
        if (line) {
          s.staged++;
          s.buf.push(line);
        }
        continue;
      }
      s.rejects.add({ file: s.fileName, line: rec.line ?? null, path: rec.path ?? null, field: r.field, rule: r.rule, reason: r.reason, record: JSON.stringify(rec.data) });
      const k = entry.keyFn?.(rec.data);
      if (!k?.ok) continue;
      const line = s.format(k.value, rec.line, true, rec.path);
      if (line) s.buf.push(line);
    }
  }
  for (const s of sinks) {
    if (!s.buf.length || s.error) continue;
    try {
      // One flat string, encoded once: concatenating line by line builds a rope that is slow to encode.
      await writeWithBackpressure(s.copy!, Buffer.from(s.buf.join(''), 'utf8'));
    } catch (e) {
      s.error ??= e;
    }
    s.buf.length = 0;
  }
}

/** Ends one sink: a staged run is 'staged', a direct one 'merged'; a sink that broke is read again alone. */
async function finish(deps: PipelineDeps, s: Sink, declared: RunMode[], started: number): Promise<ExtractOutcome> {
  const { run } = s;
  const mode = effectiveMode(run.mode, declared);
  if (!s.error && s.copy) {
    try {
      s.copy.end();
      await finished(s.copy);
    } catch (e) {
      s.error ??= e;
    }
  }
  if (s.error) {
    // Duplicate keys (a direct load's primary key) or too many codes: this run goes through its own
    // extract again, which knows how to fall back to staging. Other errors fail the pass.
    discard(s);
    await s.rejects.done().catch(() => {});
    const code = (s.error as { code?: string }).code;
    if (!(s.error instanceof Overflow) && !(s.error instanceof Deferred) && code !== '23505') throw s.error;
    await deps.pool.query(`DELETE FROM rejects WHERE run_id = $1`, [run.id]);
    await deps.pool.query(`UPDATE runs SET state = 'received', read_with = NULL WHERE id = $1`, [run.id]);
    await enqueueExtract(deps, run.id, run.flow).catch(() => {});
    run.log.info({ reason: s.error instanceof Error && !('code' in s.error) ? s.error.message : 'duplicate keys in the payload' }, 'shared read rolled back for this run; reading it alone');
    // 'waiting': its job (if it is the one running) comes back soon and then reads the run alone.
    return 'waiting';
  }
  await s.rejects.done();
  const ms = Date.now() - started;
  if (s.direct) {
    const client = s.client!;
    const staged = s.staged; // rows a code could not be found for were not counted (their line is empty)
    const created: Record<string, number> = {};
    for (const r of s.direct.resolvers) {
      if (!r.fresh.length) continue;
      r.fresh.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (let i = 0; i < r.fresh.length; i += 50_000) {
        const chunk = r.fresh.slice(i, i + 50_000);
        await client.query(`INSERT INTO ${r.ref.table} (id, code, name, placeholder) SELECT id, code, code, true FROM unnest($1::bigint[], $2::text[]) AS t(id, code)`, [chunk.map((c) => c[1]), chunk.map((c) => c[0])]);
        await client.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $3, $4, code, id FROM unnest($1::bigint[], $2::text[]) AS t(id, code)`,
          [chunk.map((c) => c[1]), chunk.map((c) => c[0]), r.ref.entity, s.direct.system]);
      }
      created[r.ref.entity] = r.fresh.length;
    }
    const spec = run.spec as FactSpec;
    await client.query(`INSERT INTO change_log (run_id, entity, inserted, updated, removed) VALUES ($1, $2, $3, 0, 0)`, [run.id, spec.name, staged]);
    for (const [entity, n] of Object.entries(created)) await client.query(`INSERT INTO change_log (run_id, entity, inserted) VALUES ($1, $2, $3)`, [run.id, entity, n]);
    await client.query(`UPDATE runs SET state = 'done', load_path = 'direct', rows_read = $2, rows_staged = $3, rows_rejected = $4, rows_inserted = $3,
        rows_updated = 0, rows_unchanged = 0, rows_removed = 0, rows_in_scope = 0, staged_at = clock_timestamp(), finished_at = clock_timestamp(),
        extract_ms = $5, merge_ms = 0, error = NULL, error_code = NULL, mode = $6, mode_declared = $7 WHERE id = $1`,
    [run.id, s.read, staged, s.rejects.count, ms, mode, declared.length > 0]);
    if (Object.keys(created).length) await analyzeWithin(client, 'external_ids');
    await client.query('COMMIT');
    await client.query(`ANALYZE ${spec.table}`).catch(() => {});
    s.closed = true;
    client.release();
    deps.metrics?.stageDuration.observe({ stage: 'extract', flow: run.name }, ms / 1000);
    deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'read' }, s.read);
    deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'inserted' }, staged);
    deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'rejected' }, s.rejects.count);
    deps.metrics?.runsFinished.inc({ flow: run.name, state: 'done' });
    run.log.info({ read: s.read, inserted: staged, rejected: s.rejects.count, created, ms }, 'run loaded directly into an empty table (shared read)');
    return 'merged';
  }
  if (s.client) {
    await s.client.query(`ANALYZE ${stagingTable(run.id)}`);
    s.closed = true;
    s.client.release();
  }
  await deps.db.updateTable('runs').set({
    state: 'staged', rows_read: s.read, rows_staged: s.staged, rows_rejected: s.rejects.count, staged_at: new Date(), extract_ms: ms,
    error: null, error_code: null, mode, mode_declared: declared.length > 0,
  }).where('id', '=', run.id).where('state', '=', 'extracting').execute();
  deps.metrics?.stageDuration.observe({ stage: 'extract', flow: run.name }, ms / 1000);
  deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'read' }, s.read);
  deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'staged' }, s.staged);
  deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'rejected' }, s.rejects.count);
  run.log.info({ read: s.read, staged: s.staged, rejected: s.rejects.count, ms }, 'run staged (shared read)');
  return 'staged';
}
