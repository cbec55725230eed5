// The extract stage of a run: stream the stored payload through the connector's parser, the compiled
// mapping and canonical validation, and COPY good rows into an UNLOGGED staging table with
// back-pressure. Rejected rows go to `rejects` with reason and position. Restartable from scratch.
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PayloadError, isMagistralError } from '../errors/index.ts';
import type { Flow } from '../schemas/index.ts';
import { compileMapping, dbLookups, loadMapping, type CompiledMapping } from '../mapping/index.ts';
import type { Connector } from './connector.ts';
import { directLoad } from './direct-load.ts';
import { extractTogether } from './read-together.ts';
import type { PipelineDeps } from './deps.ts';
import { openPayload } from './inbox.ts';
import { autoCreates, mappingRefs } from './flows.ts';
import { dropStaging, stagingTable } from './runs.ts';
import { keyFields, refsOf, stagingColumnList, stagingColumnsSql, targetSpec, type TargetSpec } from './targets.ts';
import { runLogger } from '../telemetry/logger.ts';

export type ExtractOutcome = 'staged' | 'merged' | 'skipped' | 'paused' | 'failed' | 'busy' | 'waiting';

export type RunMode = 'delta' | 'snapshot';

/**
 * The mode a run merges with: what its files declared (CommerceML `СодержитТолькоИзменения`), else the
 * flow's. A file that says it holds changes only wins over one that says it is complete: removing rows
 * on a wrong "complete" would lose data, keeping them on a wrong "changes only" loses nothing.
 */
export function effectiveMode(flowMode: RunMode, declared: readonly RunMode[]): RunMode {
  if (declared.includes('delta')) return 'delta';
  return declared.length ? 'snapshot' : flowMode;
}

/** Escapes a value for PostgreSQL COPY text format; null becomes \N. */
export function copyText(v: string | boolean | undefined | null): string {
  if (v === undefined || v === null) return '\\N';
  const s = typeof v === 'string' ? v : v ? 'true' : 'false';
  // Fast path: most values need no escaping.
  if (!/[\\\t\n\r]/.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

const ADVISORY_EXTRACT = 0x4d41_0000_0000; // namespace for per-run extract locks
/** How long a fact run waits in its job for the runs it depends on before giving the slot back. */
const DEPENDENCY_WAIT_MS = 3000;

interface RejectRow {
  file: string;
  line: number | null;
  path: string | null;
  field: string;
  rule: string;
  reason: string;
  record: string;
}

/** Buffers rejects and writes them in batches on a separate connection, so the COPY never stalls. */
export class RejectWriter {
  private buf: RejectRow[] = [];
  private pending: Promise<unknown> = Promise.resolve();
  count = 0;
  constructor(private readonly pool: pg.Pool, private readonly runId: number) {}

  add(r: RejectRow): void {
    this.buf.push(r);
    this.count++;
    if (this.buf.length >= 1000) this.flush();
  }

  flush(): void {
    if (!this.buf.length) return;
    const rows = this.buf;
    this.buf = [];
    this.pending = this.pending.then(() =>
      this.pool.query(
        `INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason, record)
         SELECT $1, * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
        [
          this.runId,
          rows.map((r) => r.file), rows.map((r) => r.line), rows.map((r) => r.path), rows.map((r) => r.field),
          rows.map((r) => r.rule), rows.map((r) => r.reason), rows.map((r) => r.record),
        ],
      ),
    );
  }

  async done(): Promise<void> {
    this.flush();
    await this.pending;
  }

  /** Forgets what was counted (the rows were deleted with a rolled-back attempt). */
  reset(): void {
    this.buf = [];
    this.count = 0;
  }
}

type Entry = { fn: CompiledMapping; keyFn?: CompiledMapping };

/** Everything needed to read a run's payload into canonical rows. */
export interface PayloadScan {
  files: Array<{ id: number; file_name: string; path: string }>;
  connector: Connector;
  options: Record<string, unknown>;
  pick(kind: string | undefined): Entry | undefined;
  /** Mapping names: the document kinds a multi-kind connector should emit. */
  kinds: ReadonlySet<string>;
  rejects: RejectWriter;
  /** Modes the payload's files declared (ParseContext.setMode), in order. */
  declared: RunMode[];
}

/**
 * Streams every file of the payload through parser, mapping and validation. `format` turns a valid
 * row (or, with `reject` set, the key of a rejected row) into a COPY line ('' to skip); lines are
 * written batch by batch with back-pressure. `beforeBatch` may prepare for a batch of n records.
 */
export async function scanPayload(
  scan: PayloadScan,
  copy: Writable,
  format: (v: Record<string, string | boolean>, line: number | undefined, fi: number, reject: boolean, path: string | undefined) => string,
  beforeBatch?: (n: number) => Promise<void>,
): Promise<{ read: number; staged: number }> {
  const { files, connector, pick, rejects } = scan;
  let read = 0;
  let staged = 0;
  for (let fi = 0; fi < files.length; fi++) {
    const file = files[fi]!;
    const input = openPayload(file.path);
    try {
      const setMode = (m: RunMode) => { scan.declared.push(m); };
      for await (const batch of connector.parse(input, { fileName: file.file_name, options: scan.options, kinds: scan.kinds, setMode })) {
        if (beforeBatch) await beforeBatch(batch.length);
        let out = '';
        for (const rec of batch) {
          read++;
          const entry = pick(rec.kind);
          if (!entry) {
            rejects.add({ file: file.file_name, line: rec.line ?? null, path: rec.path ?? null, field: '', rule: 'mapping', reason: `no mapping for document kind '${rec.kind}'`, record: JSON.stringify(rec.data) });
            continue;
          }
          const r = entry.fn(rec.data);
          if (!r.ok) {
            rejects.add({ file: file.file_name, line: rec.line ?? null, path: rec.path ?? null, field: r.field, rule: r.rule, reason: r.reason, record: JSON.stringify(rec.data) });
            const k = entry.keyFn?.(rec.data);
            if (k?.ok) out += format(k.value, rec.line, fi, true, rec.path);
            continue;
          }
          out += format(r.value, rec.line, fi, false, rec.path);
          staged++;
        }
        if (out) await writeWithBackpressure(copy, out);
      }
    } finally {
      input.destroy();
    }
  }
  return { read, staged };
}

export async function writeWithBackpressure(stream: Writable, chunk: string | Buffer): Promise<void> {
  if (stream.write(chunk)) return;
  // Wait for drain, but fail fast if the server aborts the COPY meanwhile. Both listeners go once
  // either fires: racing two events.once() left an 'error' listener (and its promise) on the stream
  // at every wait — thousands on one COPY of a big file.
  if (stream.errored) throw stream.errored;
  await new Promise<void>((resolve, reject) => {
    const settle = (e?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = () => settle();
    const onError = (e: unknown) => settle(e);
    const onClose = () => settle(stream.errored ?? new Error('the stream closed before it drained'));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/**
 * Compiles a flow's mappings once per run: a plain function per mapping, picked by record kind. A
 * fact's (or keyed row's) mapping also gets a key-only twin: it reads the key of a rejected row so that,
 * in a snapshot, the live row it speaks of is kept rather than removed. (Compiled whatever the flow's
 * mode: the payload itself may declare that it is a snapshot.)
 */
export async function compileRunMappings(deps: PipelineDeps, flow: Flow, spec: TargetSpec): Promise<{ pick: PayloadScan['pick']; kinds: ReadonlySet<string> }> {
  const snapshot = spec.kind === 'fact' || spec.kind === 'keyed';
  const keys = keyFields(spec);
  const mappings: Entry[] = [];
  const byName = new Map<string, Entry>();
  for (const ref of mappingRefs(flow)) {
    const m = await loadMapping(ref);
    const opts = { system: flow.source.system ?? 'local', lookups: dbLookups(deps.db) };
    const entry = { fn: await compileMapping(m, opts), keyFn: snapshot ? await compileMapping(m, { ...opts, only: keys }) : undefined };
    mappings.push(entry);
    byName.set(m.name, entry);
  }
  const pick = (kind: string | undefined) =>
    mappings.length === 1 ? mappings[0] : kind !== undefined ? byName.get(kind) : mappings[0];
  return { pick, kinds: new Set(byName.keys()) };
}

/** Codes a reference may hold before its set is not worth keeping in memory to tell rows apart. */
const PATH_HINT_CODES = 100_000;

/**
 * Which staged rows carry their element path. The merge rejects a row whose reference the run cannot
 * create (a price type 1C never declared) and names its file and line; the path says which element that
 * is (one-line files have a single line). Writing every row's path would double a price's staged bytes,
 * so the codes of those references are read when the extract starts (what the run depends on has merged
 * by then) and only a row naming another code gets its path. A reference with more codes than
 * PATH_HINT_CODES is not checked: its rejects name file and line only.
 */
export class PathHints {
  private constructor(private readonly checks: Array<{ field: string; known: Set<string> }>) {}

  static async load(pool: Pick<pg.Pool, 'query'>, flow: Flow, spec: TargetSpec): Promise<PathHints> {
    const system = flow.source.system ?? 'local';
    const checks: Array<{ field: string; known: Set<string> }> = [];
    for (const ref of refsOf(spec)) {
      if (autoCreates(flow, ref.entity)) continue;
      // Counted first (an index-only scan), so a reference with too many codes costs no transfer.
      const n = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM external_ids WHERE entity = $1 AND system = $2 LIMIT $3) x`, [ref.entity, system, PATH_HINT_CODES + 1]);
      if (Number(n.rows[0]!.n) > PATH_HINT_CODES) continue;
      const r = await pool.query<{ c: string }>(`SELECT external_id AS c FROM external_ids WHERE entity = $1 AND system = $2`, [ref.entity, system]);
      checks.push({ field: ref.field, known: new Set(r.rows.map((x) => x.c)) });
    }
    return new PathHints(checks);
  }

  /** Whether the merge will likely reject this row for a reference. */
  unknown(v: Record<string, string | boolean>): boolean {
    for (let i = 0; i < this.checks.length; i++) {
      const c = this.checks[i]!;
      const code = v[c.field];
      if (typeof code === 'string' && code !== '' && !c.known.has(code)) return true;
    }
    return false;
  }
}

/**
 * A staging COPY line of a canonical row: its fields as text, then its position, `_reject`, and the
 * element path when `hints` expect the merge to reject the row.
 */
export function stagingLine(spec: TargetSpec, hints?: PathHints): (v: Record<string, string | boolean>, line: number | undefined, fi: number, reject: boolean, path?: string) => string {
  const fields = spec.fields;
  return (v, line, fi, reject, path) => {
    let out = '';
    for (let i = 0; i < fields.length; i++) out += copyText(v[fields[i]!]) + '\t';
    const p = path !== undefined && !reject && hints?.unknown(v) ? copyText(path) : '\\N';
    return `${out}${line ?? '\\N'}\t${fi}\t${reject ? 't' : 'f'}\t${p}\n`;
  };
}

/**
 * Runs the extract stage for one run. Returns 'skipped' when the run is past this stage, 'busy' when
 * another worker holds it, 'paused' when its flow is paused. A PayloadError fails the run for good.
 */
export async function extractRun(deps: PipelineDeps, runId: number): Promise<ExtractOutcome> {
  const run = await deps.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id')
    .select(['runs.id', 'runs.state', 'runs.inbox_ids', 'runs.mode', 'runs.kind', 'runs.depends_on', 'runs.read_with', 'flows.name', 'flows.definition', 'flows.paused', 'flows.id as flow_id'])
    .where('runs.id', '=', runId).executeTakeFirst();
  if (!run) return 'skipped';
  if (run.state !== 'received' && run.state !== 'extracting') return 'skipped';
  if (run.kind !== 'payload') return 'skipped'; // a snapshot group's finalize run has nothing to read
  if (run.paused) return 'paused';
  // Runs made from one file together read it once, for all of them (see read-together.ts).
  if (run.read_with !== null) return extractTogether(deps, runId);
  const flow = run.definition;
  const log = runLogger(deps.log, run.name, runId);
  const spec = targetSpec(flow.target);
  // A fact run may write the live table while it reads (the direct path): the runs it depends on (the
  // price types, warehouses … of the same file) must have merged first, so their codes are known.
  // They are quick (a few declarations): wait for them here a little rather than give the slot to the
  // next job, which may be a long read that would then hold it.
  if (spec.kind === 'fact' && run.depends_on.length) {
    const deadline = Date.now() + DEPENDENCY_WAIT_MS;
    while (!(await dependenciesSettled(deps, run.depends_on))) {
      if (Date.now() >= deadline) return 'waiting';
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const connector = deps.registry.connector(flow.source.connector);
  if (!connector) {
    await failRun(deps, runId, 'MAG_ERR_CONNECTOR_UNKNOWN', `connector '${flow.source.connector}' is not available in this worker`);
    return 'failed';
  }

  const client = await deps.pool.connect();
  let released = false;
  try {
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [ADVISORY_EXTRACT + runId]);
    if (!lock.rows[0]?.ok) return 'busy';
    const started = Date.now();
    await deps.db.updateTable('runs').set((eb) => ({ state: 'extracting', attempts: eb('attempts', '+', 1), started_at: new Date() }))
      .where('id', '=', runId).execute();

    const { pick, kinds } = await compileRunMappings(deps, flow, spec);

    const files = await deps.db.selectFrom('inbox').select(['id', 'file_name', 'path']).where('id', 'in', run.inbox_ids).execute();
    files.sort((a, b) => run.inbox_ids.indexOf(a.id) - run.inbox_ids.indexOf(b.id));

    const rejects = new RejectWriter(deps.pool, runId);
    const scan: PayloadScan = { files, connector, options: (flow.source.options ?? {}) as Record<string, unknown>, pick, kinds, rejects, declared: [] };

    // A first load into an empty table skips staging: rows are COPY'd straight into the live
    // table inside one transaction (see direct-load.ts). Anything unusual falls back to staging.
    if (spec.kind === 'fact') {
      const direct = await directLoad(deps, { runId, flowId: run.flow_id, flow, flowMode: run.mode, spec, scan, log, started });
      if (direct === 'done') return 'merged';
      if (direct === 'fallback') {
        // The direct attempt was rolled back: start the staged path from scratch.
        await client.query(`DELETE FROM rejects WHERE run_id = $1`, [runId]);
        rejects.reset();
        scan.declared.length = 0;
      }
    }

    // A retry starts from scratch: nothing of an earlier attempt survives.
    const table = stagingTable(runId);
    await client.query(`DELETE FROM rejects WHERE run_id = $1`, [runId]);
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(`CREATE UNLOGGED TABLE ${table} (${stagingColumnsSql(spec)}) WITH (autovacuum_enabled = false)`);

    const stageLine = stagingLine(spec, await PathHints.load(client, flow, spec));
    const copy = client.query(copyFrom(`COPY ${table} (${stagingColumnList(spec)}) FROM STDIN`));
    let read = 0;
    let staged = 0;
    try {
      ({ read, staged } = await scanPayload(scan, copy, stageLine));
      copy.end();
      await finished(copy);
    } catch (e) {
      // The connection is mid-COPY: discard it now (the server aborts the COPY and frees the
      // staging table) before anything else touches the run.
      released = true;
      client.on('error', () => {});
      copy.on('error', () => {});
      client.release(true);
      await rejects.done().catch(() => {});
      throw e;
    }
    await rejects.done();
    // Fresh tables have no statistics: without them the merge's joins get nested-loop plans that
    // take minutes instead of seconds on a few hundred thousand rows.
    await client.query(`ANALYZE ${table}`);
    const extractMs = Date.now() - started;
    await deps.db.updateTable('runs').set({
      state: 'staged', rows_read: read, rows_staged: staged, rows_rejected: rejects.count, staged_at: new Date(), extract_ms: extractMs,
      error: null, error_code: null, mode: effectiveMode(run.mode, scan.declared), mode_declared: scan.declared.length > 0,
    }).where('id', '=', runId).where('state', '=', 'extracting').execute();
    deps.metrics?.stageDuration.observe({ stage: 'extract', flow: run.name }, extractMs / 1000);
    deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'read' }, read);
    deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'staged' }, staged);
    deps.metrics?.rowsProcessed.inc({ flow: run.name, outcome: 'rejected' }, rejects.count);
    log.info({ read, staged, rejected: rejects.count, ms: extractMs }, 'run staged');
    return 'staged';
  } catch (e) {
    if (e instanceof PayloadError || (isMagistralError(e) && (e.code === 'MAG_ERR_MAPPING_INVALID'))) {
      log.warn({ err: e.message, code: e.code }, 'run failed: payload cannot be read');
      await failRun(deps, runId, e.code, e.message);
      return 'failed';
    }
    throw e;
  } finally {
    if (!released) {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [ADVISORY_EXTRACT + runId]).catch(() => {});
      client.release();
    }
  }
}

/** Whether every run in `ids` has ended (done, failed, rejected): a dependent run may then write. */
export async function dependenciesSettled(deps: PipelineDeps, ids: readonly (number | string)[]): Promise<boolean> {
  if (!ids.length) return true;
  const open = await deps.pool.query(`SELECT 1 FROM runs WHERE id = ANY($1::bigint[]) AND state NOT IN ('done', 'failed', 'rejected') LIMIT 1`, [ids.map(Number)]);
  return !open.rowCount;
}

/** Fails a run for good: its staging and partial rejects are removed, the store is untouched. */
export async function failRun(deps: PipelineDeps, runId: number, code: string, message: string): Promise<void> {
  await dropStaging(deps.db, runId);
  await deps.pool.query('DELETE FROM rejects WHERE run_id = $1', [runId]);
  await deps.db.updateTable('runs').set({
    state: 'failed', error_code: code, error: message, finished_at: new Date(), rows_rejected: 0, rows_staged: 0,
  }).where('id', '=', runId).where('state', 'not in', ['done', 'rejected']).execute();
}
