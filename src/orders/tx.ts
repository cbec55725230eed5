// Transactions that compose: a caller already in a transaction (the sale exchange applying a file)
// keeps its own; otherwise one is opened.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/index.ts';

export async function inTransaction<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Transaction<Database>);
  return db.transaction().execute(fn);
}
