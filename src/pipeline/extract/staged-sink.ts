// The staged sink: a run's rows COPY'd into its UNLOGGED staging table (no indexes, streamed,
// back-pressured); the set-based merge takes them from there. The run ends the extract 'staged'.
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PipelineDeps } from '../deps.ts';
import { markStaged, recordCompletion } from '../lifecycle/index.ts';
import { stagingTable } from '../staging-table.ts';
import { stagingColumnList, stagingColumnsSql, type FactSpec } from '../targets.ts';
import { CoalescedWrites, writeWithBackpressure } from './copy.ts';
import { effectiveMode, type RunMappings } from './mappings.ts';
import { PathHints, stagingLine } from './path-hints.ts';
import type { RejectWriter } from './rejects.ts';
import { Deferred, type Budget, type PassRun, type Sink } from './sink.ts';
import { goneTable } from '../fingerprints.ts';
import type { SinkFingerprint } from './fingerprint-sink.ts';

/**
 * Makes the run's staging table now (a run without rows merges an empty one); its COPY opens with the
 * first rows, on a connection of the pass's budget (most runs of a shared file get none).
 */
export async function openStagedSink(
  deps: PipelineDeps, run: PassRun, mappings: RunMappings, rejects: RejectWriter, budget: Budget, opts: { growing?: boolean; fingerprint?: SinkFingerprint } = {},
): Promise<Sink> {
  const fp = opts.fingerprint;
  const table = stagingTable(run.id);
  await deps.pool.query(`DROP TABLE IF EXISTS ${table}, ${goneTable(table)}`);
  await deps.pool.query(`CREATE UNLOGGED TABLE ${table} (${stagingColumnsSql(run.spec)}) WITH (autovacuum_enabled = false)`);
  // A file read while it arrives is read before the codes it declares (its price types, warehouses) are
  // merged: every row would look unknown and stage its element path (145 bytes on a 151-byte price,
  // bench:onec). Its rows keep file and line, which name the element in a 1C export (one per line).
  const line = stagingLine(run.spec, await PathHints.load(deps.pool, run.flow, run.spec, { refs: !opts.growing }));
  const copySql = `COPY ${table} (${stagingColumnList(run.spec)}) FROM STDIN`;
  let client: pg.PoolClient | undefined;
  let copy: ReturnType<typeof copyFrom> | undefined;
  let closed = false;
  const writes = new CoalescedWrites(() => copy!);
  const sink: Sink = {
    run, mappings, rejects, read: 0, staged: 0, n: 0, buf: [],
    format: line,
    async prepare() {
      if (copy) return;
      if (budget.open >= budget.max) throw new Deferred(`more runs with rows than the ${budget.max} connections a shared read may hold`);
      budget.open++;
      client = await deps.pool.connect();
      copy = client.query(copyFrom(copySql));
      copy.on('error', (e: unknown) => { sink.error ??= e; });
    },
    write: (chunk) => writes.write(chunk),
    async finish(declared, started) {
      if (copy) {
        await writes.flush();
        copy.end();
        await finished(copy);
        // Fresh tables have no statistics: without them the merge's joins get nested-loop plans that
        // take minutes instead of seconds on a few hundred thousand rows.
        await client!.query(`ANALYZE ${table}`);
        closed = true;
        client!.release();
      }
      await rejects.done();
      const mode = effectiveMode(run.mode, declared);
      const fingerprint = fp && run.spec.kind === 'fact' ? await finishFingerprint(deps, fp, table, mode, run.spec) : undefined;
      const ms = Date.now() - started;
      await markStaged(deps.pool, run.id, {
        read: sink.read, staged: sink.staged, rejected: rejects.count, extractMs: ms, mode, modeDeclared: declared.length > 0, ...(fingerprint ? { fingerprint } : {}),
      });
      recordCompletion(deps, { flow: run.name, stage: 'extract', ms, rows: { read: sink.read, staged: sink.staged, rejected: rejects.count } });
      run.log.info({ read: sink.read, staged: sink.staged, rejected: rejects.count, ms, ...(fingerprint ? { skipped: fingerprint.skipped, gone: fingerprint.gone, fingerprintOf: fingerprint.base } : {}) }, 'run staged');
      return 'staged';
    },
    discard() {
      if (closed || !client) return;
      closed = true;
      client.on('error', () => {});
      copy?.on('error', () => {});
      client.release(true);
    },
  };
  return sink;
}

/**
 * Ends a snapshot's fingerprint walk: the old rows it no longer holds are COPY'd as tombstones into the
 * run's `_gone` table (made only when there are any), its own file is kept for the merge to make it the
 * flow's. A payload that declared itself a delta removes nothing and keeps no file: its skipped rows
 * still hold (they equal the fingerprint, which the merge checks is still true).
 */
async function finishFingerprint(deps: PipelineDeps, fp: SinkFingerprint, table: string, mode: string, spec: FactSpec): Promise<{ skipped: number; gone: number; base: number | null; written: boolean; held?: Array<{ id: number; n: number }> | null }> {
  if (mode !== 'snapshot') {
    fp.walk.close();
    return { skipped: fp.walk.skipped, gone: 0, base: fp.base, written: false };
  }
  const gone = goneTable(table);
  let client: pg.PoolClient | undefined;
  let copy: ReturnType<typeof copyFrom> | undefined;
  try {
    const r = await fp.walk.finish(async (lines) => {
      if (!copy) {
        client = await deps.pool.connect();
        // Named as the staging table's key fields: the merge joins them to their ids as it does staged rows.
        const cols = `"${spec.keys[0].field}", "${spec.keys[1].field}"`;
        await client.query(`CREATE UNLOGGED TABLE ${gone} ("${spec.keys[0].field}" text NOT NULL, "${spec.keys[1].field}" text NOT NULL) WITH (autovacuum_enabled = false)`);
        copy = client.query(copyFrom(`COPY ${gone} (${cols}) FROM STDIN`));
      }
      await writeWithBackpressure(copy, lines);
    });
    if (copy) {
      copy.end();
      await finished(copy);
      await client!.query(`ANALYZE ${gone}`);
    }
    return { skipped: r.skipped, gone: r.gone, base: fp.base, written: true, held: (await fp.held) ?? null };
  } catch (e) {
    fp.walk.close();
    client?.release(true);
    client = undefined;
    throw e;
  } finally {
    client?.release();
  }
}
