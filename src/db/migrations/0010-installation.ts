// The installation: one row holding a random id created once per database. Queue jobs carry it, so a
// worker that shares a Redis queue prefix with another database can tell their jobs from its own.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // `one` is the primary key and can only be true: the table holds at most one row.
  await sql`
    CREATE TABLE installation (
      one         boolean PRIMARY KEY DEFAULT true CHECK (one),
      id          uuid NOT NULL DEFAULT gen_random_uuid(),
      created_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`INSERT INTO installation DEFAULT VALUES`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS installation`.execute(db);
}
