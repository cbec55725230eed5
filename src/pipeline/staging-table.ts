// The UNLOGGED staging table of a run: its name and its removal. Kept apart from runs.ts so the
// lifecycle and the extract engine can use it without importing the runs' read and admin API.
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import { TERMINAL_STATES, type Database } from '../db/index.ts';

export function stagingTable(runId: number): string {
  return `staging.run_${runId}`;
}

export async function dropStaging(db: Kysely<Database>, runId: number): Promise<void> {
  await sql.raw(`DROP TABLE IF EXISTS ${stagingTable(runId)}, ${stagingTable(runId)}_gone`).execute(db);
}

/**
 * Drops the staging tables of runs that have ended (done, failed, rejected) and keep none for a snapshot
 * group's finalize run. A merge drops its staging after its commit, best effort: PostgreSQL restarted
 * between the two (the fault suite's "after the merge's commit, before its staging is dropped") left
 * the table for good, 200,000 staged prices of it, with nothing to drop it later. The sweeper calls
 * this. A table someone still holds a lock on waits for the next sweep rather than the sweep for it.
 * Returns the runs whose tables were dropped.
 */
export async function dropEndedStaging(pool: pg.Pool): Promise<number[]> {
  const left = await pool.query<{ id: string }>(`
    SELECT r.id FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN runs r ON r.id = substring(c.relname FROM '^run_([0-9]+)(_gone)?$')::bigint
    WHERE n.nspname = 'staging' AND c.relkind = 'r' AND r.state = ANY($1::text[]) AND NOT r.staging_kept
    GROUP BY r.id ORDER BY r.id`, [TERMINAL_STATES]);
  const dropped: number[] = [];
  for (const row of left.rows) {
    const id = Number(row.id);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '100ms'`);
      await client.query(`DROP TABLE IF EXISTS ${stagingTable(id)}, ${stagingTable(id)}_gone`);
      await client.query('COMMIT');
      dropped.push(id);
    } catch {
      await client.query('ROLLBACK').catch(() => {});
    } finally {
      client.release();
    }
  }
  return dropped;
}
