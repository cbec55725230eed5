// First load into an empty fact table (prices, stock) without staging: external codes are resolved
// in the worker and rows are COPY'd straight into the live table, all in one transaction that also
// creates the placeholders and finishes the run. Nothing is visible until it commits.
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Flow } from '../schemas/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { PipelineDeps } from './deps.ts';
import { copyText, effectiveMode, scanPayload, type PayloadScan, type RunMode } from './extract.ts';
import { autoCreates } from './flows.ts';
import type { FactSpec, RefSpec } from './targets.ts';

/**
 * done: merged and committed. skip: not a first load (use staging). fallback: tried and rolled
 * back (duplicate keys in the payload, too many codes), staging must handle it.
 */
export type DirectOutcome = 'done' | 'skip' | 'fallback';

/** Above this many codes per entity the maps would cost too much worker memory: use staging. */
const MAX_CODES = 500_000;
const ID_BLOCK = 2048;

/** Codes → ids of one referenced entity: known ones preloaded, new ones numbered from its sequence. */
/**
 * ANALYZE inside the loading transaction, so the codes it created and their statistics become visible
 * together. Taken after COMMIT, a merge starting in between (the sweeper may enqueue one at once)
 * planned its joins on external_ids as if it still held a hundred rows: nested loops over 100,000
 * staged stock rows took 13 s instead of 0.6 s. ANALYZE counts the transaction's own new rows. A
 * failure leaves the load intact (savepoint); the statistics then come with the next ANALYZE.
 */
export async function analyzeWithin(client: pg.PoolClient, table: string): Promise<void> {
  await client.query('SAVEPOINT analyze_within');
  try {
    await client.query(`ANALYZE ${table}`);
    await client.query('RELEASE SAVEPOINT analyze_within');
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT analyze_within');
  }
}

export class Resolver {
  readonly known = new Map<string, number>();
  readonly fresh: Array<[string, number]> = [];
  private ids: number[] = [];

  /** `creatable`: unknown codes get new ids (placeholders); else `id` answers undefined for them. */
  constructor(readonly ref: RefSpec, private readonly pool: pg.Pool, private readonly sequence: string, readonly creatable = true) {}

  async load(client: pg.PoolClient, system: string): Promise<boolean> {
    const n = Number((await client.query(`SELECT count(*)::bigint AS n FROM external_ids WHERE entity = $1 AND system = $2`, [this.ref.entity, system])).rows[0].n);
    if (n > MAX_CODES) return false;
    const r = await client.query({ text: `SELECT external_id, internal_id FROM external_ids WHERE entity = $1 AND system = $2`, values: [this.ref.entity, system], rowMode: 'array' });
    for (const [code, id] of r.rows as Array<[string, number]>) this.known.set(code, Number(id));
    return true;
  }

  /** Makes sure `n` new codes can be numbered without waiting (sequence values are never rolled back: gaps are harmless). */
  async reserve(n: number): Promise<void> {
    if (!this.creatable || this.ids.length >= n) return;
    const r = await this.pool.query({ text: `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, values: [this.sequence, Math.max(n, ID_BLOCK)], rowMode: 'array' });
    for (const [id] of r.rows as Array<[string]>) this.ids.push(Number(id));
  }

  private lastCode = '';
  private lastId = 0;

  id(code: string): number | undefined {
    // Exports come grouped (all prices of one price type, all stock of one warehouse): the same
    // code as the row before skips the map.
    if (code === this.lastCode) return this.lastId;
    let id = this.known.get(code);
    if (id === undefined) {
      if (!this.creatable) return undefined;
      id = this.ids.pop()!;
      // Parsers hand out slices of their decoded chunks: a kept slice would keep its whole chunk
      // alive. Copy the code into a string of its own before the map holds on to it.
      const own = Buffer.from(code, 'utf8').toString('utf8');
      this.known.set(own, id);
      this.fresh.push([own, id]);
    }
    this.lastCode = code;
    this.lastId = id;
    return id;
  }

  get overflow(): boolean {
    return this.known.size > MAX_CODES;
  }
}

export interface DirectContext {
  runId: number;
  flowId: number;
  flow: Flow;
  /** The mode the run was received with (the flow's); the payload may declare another. */
  flowMode: RunMode;
  spec: FactSpec;
  scan: PayloadScan;
  log: Logger;
  started: number;
}

class Overflow extends Error {}

/**
 * Tries the direct path on a connection of its own, so that whatever happens to it the caller's
 * connection (which holds the run's extract lock) can go on with staging.
 */
export async function directLoad(deps: PipelineDeps, ctx: DirectContext): Promise<DirectOutcome> {
  const { spec, flow, runId } = ctx;
  // Cheap pre-checks outside the transaction; the emptiness is checked again under the locks.
  if ((await deps.pool.query(`SELECT EXISTS (SELECT 1 FROM ${spec.table}) AS e`)).rows[0].e) return 'skip';
  const earlier = await deps.pool.query(`SELECT 1 FROM runs WHERE flow_id = $1 AND id < $2 AND state NOT IN ('done', 'failed', 'rejected') LIMIT 1`, [ctx.flowId, runId]);
  if (earlier.rowCount) return 'skip';

  const system = flow.source.system ?? 'local';
  const client = await deps.pool.connect();
  let copying = false;
  let discard = false;
  let copy: ReturnType<typeof copyFrom> | undefined;
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL work_mem = '${deps.config.MAGISTRAL_MERGE_WORK_MEM}'`);
    await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`magistral:merge:${spec.name}`]);
    for (const ref of spec.keys) await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`magistral:create:${ref.entity}:${system}`]);
    if ((await client.query(`SELECT EXISTS (SELECT 1 FROM ${spec.table}) AS e`)).rows[0].e) {
      await client.query('ROLLBACK');
      return 'skip';
    }
    const resolvers: Resolver[] = [];
    for (const ref of spec.keys) {
      const seq = (await client.query(`SELECT pg_get_serial_sequence($1, 'id') AS s`, [ref.table])).rows[0].s as string;
      const r = new Resolver(ref, deps.pool, seq, autoCreates(flow, ref.entity));
      if (!(await r.load(client, system))) {
        await client.query('ROLLBACK');
        return 'skip';
      }
      resolvers.push(r);
    }
    const [part, item] = resolvers as [Resolver, Resolver];
    const partField = spec.keys[0].field;
    const itemField = spec.keys[1].field;
    const direct = spec.direct;
    const tail = `\t${ctx.flowId}\t${runId}\n`;
    // A code the flow may not create (a price type never declared) rejects its row, as the staged merge does.
    let unknownRef = 0;
    const rejectUnknown = (r: Resolver, code: string, line: number | undefined, fi: number, path: string | undefined): string => {
      unknownRef++;
      ctx.scan.rejects.add({
        file: ctx.scan.files[fi]!.file_name, line: line ?? null, path: path ?? null, field: r.ref.field, rule: 'reference',
        reason: `unknown ${r.ref.label} '${code}' (system ${system})`, record: JSON.stringify({ [r.ref.field]: code }),
      });
      return '';
    };
    const format = (v: Record<string, string | boolean>, line: number | undefined, fi: number, reject: boolean, path: string | undefined): string => {
      if (reject) return ''; // nothing live to protect in an empty table
      const partId = part.id(v[partField] as string);
      if (partId === undefined) return rejectUnknown(part, v[partField] as string, line, fi, path);
      const itemId = item.id(v[itemField] as string);
      if (itemId === undefined) return rejectUnknown(item, v[itemField] as string, line, fi, path);
      let out = `${partId}\t${itemId}`;
      for (let i = 0; i < direct.length; i++) {
        const d = direct[i]!;
        const x = v[d.field];
        out += '\t' + (x === undefined ? (d.default ?? '\\N') : copyText(x));
      }
      return out + tail;
    };
    const beforeBatch = async (n: number) => {
      if (part.overflow || item.overflow) throw new Overflow('too many distinct codes for a direct load');
      await part.reserve(n);
      await item.reserve(n);
    };

    const cols = [spec.keys[0].column, spec.keys[1].column, ...direct.map((d) => d.column), 'flow_id', 'run_id'];
    copy = client.query(copyFrom(`COPY ${spec.table} (${cols.join(', ')}) FROM STDIN`));
    copying = true;
    const scanned = await scanPayload(ctx.scan, copy, format, beforeBatch);
    const read = scanned.read;
    const staged = scanned.staged - unknownRef;
    copy.end();
    await finished(copy);
    copying = false;
    await ctx.scan.rejects.done();

    // The placeholders for codes met first here, in code order, and their external ids.
    const created: Record<string, number> = {};
    for (const r of resolvers) {
      if (!r.fresh.length) continue;
      r.fresh.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (let i = 0; i < r.fresh.length; i += 50_000) {
        const chunk = r.fresh.slice(i, i + 50_000);
        const ids = chunk.map((c) => c[1]);
        const codes = chunk.map((c) => c[0]);
        await client.query(`INSERT INTO ${r.ref.table} (id, code, name, placeholder) SELECT id, code, code, true FROM unnest($1::bigint[], $2::text[]) AS t(id, code)`, [ids, codes]);
        await client.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $3, $4, code, id FROM unnest($1::bigint[], $2::text[]) AS t(id, code)`, [ids, codes, r.ref.entity, system]);
      }
      created[r.ref.entity] = r.fresh.length;
      ctx.log.info({ entity: r.ref.entity, created: r.fresh.length }, 'placeholders created for unknown codes');
    }

    const ms = Date.now() - ctx.started;
    await client.query(`INSERT INTO change_log (run_id, entity, inserted, updated, removed) VALUES ($1, $2, $3, 0, 0)`, [runId, spec.name, staged]);
    for (const [entity, n] of Object.entries(created)) await client.query(`INSERT INTO change_log (run_id, entity, inserted) VALUES ($1, $2, $3)`, [runId, entity, n]);
    await client.query(`UPDATE runs SET state = 'done', load_path = 'direct', rows_read = $2, rows_staged = $3, rows_rejected = $4, rows_inserted = $3,
        rows_updated = 0, rows_unchanged = 0, rows_removed = 0, rows_in_scope = 0, staged_at = clock_timestamp(), finished_at = clock_timestamp(),
        extract_ms = $5, merge_ms = 0, error = NULL, error_code = NULL, mode = $6, mode_declared = $7 WHERE id = $1`,
    [runId, read, staged, ctx.scan.rejects.count, ms, effectiveMode(ctx.flowMode, ctx.scan.declared), ctx.scan.declared.length > 0]);
    await analyzeWithin(client, 'external_ids');
    await client.query('COMMIT');
    deps.metrics?.stageDuration.observe({ stage: 'extract', flow: flow.name }, ms / 1000);
    deps.metrics?.rowsProcessed.inc({ flow: flow.name, outcome: 'read' }, read);
    deps.metrics?.rowsProcessed.inc({ flow: flow.name, outcome: 'inserted' }, staged);
    deps.metrics?.rowsProcessed.inc({ flow: flow.name, outcome: 'rejected' }, ctx.scan.rejects.count);
    deps.metrics?.runsFinished.inc({ flow: flow.name, state: 'done' });
    ctx.log.info({ read, inserted: staged, rejected: ctx.scan.rejects.count, ms }, 'run loaded directly into an empty table');
    // The next merges plan their joins on this table: give the planner its new size now.
    await client.query(`ANALYZE ${spec.table}`).catch(() => {});
    return 'done';
  } catch (e) {
    await ctx.scan.rejects.done().catch(() => {});
    if (copying) {
      // Mid-COPY the connection cannot be reused: discard it (the server rolls everything back).
      discard = true;
      client.on('error', () => {});
      copy?.on('error', () => {});
    } else {
      await client.query('ROLLBACK').catch(() => {
        discard = true;
      });
    }
    const code = (e as { code?: string }).code;
    if (e instanceof Overflow || code === '23505') {
      ctx.log.info({ reason: e instanceof Overflow ? e.message : 'duplicate keys in the payload' }, 'direct load rolled back; staging instead');
      return 'fallback';
    }
    throw e;
  } finally {
    client.release(discard ? true : undefined);
  }
}
