// The UNLOGGED staging table of a run: its name and its removal. Kept apart from runs.ts so the
// lifecycle and the extract engine can use it without importing the runs' read and admin API.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';

export function stagingTable(runId: number): string {
  return `staging.run_${runId}`;
}

export async function dropStaging(db: Kysely<Database>, runId: number): Promise<void> {
  await sql.raw(`DROP TABLE IF EXISTS ${stagingTable(runId)}`).execute(db);
}
