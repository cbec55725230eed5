// Statements about a run's staging table itself: whether it survived (UNLOGGED tables come back empty
// after a crash) and how many rows it holds for writing.
import { statement, type CountRow, type Statement } from './statement.ts';

export function stagingExists(table: string): Statement<{ ok: boolean }> {
  return statement(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
}

/** Rows to write: every staged row but the rejected ones (whose keys only protect live rows). */
export function stagedRows(table: string): Statement<CountRow> {
  return statement(`SELECT count(*)::bigint AS n FROM ${table} WHERE NOT _reject`);
}

/** Drops a staging table (merged, or its keys no longer needed), with its fingerprint tombstones. */
export function dropStaging(table: string): Statement {
  return statement(`DROP TABLE IF EXISTS ${table}, ${table}_gone`);
}
