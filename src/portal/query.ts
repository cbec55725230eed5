// Hot read paths of the portal as named prepared statements: PostgreSQL plans them once per
// connection instead of on every request (planning the context query costs more than running it).
import { CompiledQuery, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/index.ts';

export interface Queryable {
  db: Kysely<Database>;
  /** The pool behind `db`; without it statements run unnamed through kysely. */
  pool?: pg.Pool;
}

export async function prepared<R>(q: Queryable, name: string, text: string, values: unknown[]): Promise<R[]> {
  if (q.pool) return (await q.pool.query<R & pg.QueryResultRow>({ name, text, values })).rows;
  return (await q.db.executeQuery<R>(CompiledQuery.raw(text, values))).rows;
}
