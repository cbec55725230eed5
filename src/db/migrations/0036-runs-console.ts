// The console's runs (issue 15). What a held run would change (src/pipeline/held-sample.ts): a few rows of each kind with old → new,
// taken in the merge's transaction before the guard rolls it back, for the person who approves it; and
// that person's decision (approved or rejected, by whom, when, with the comment and the reason the run
// was held for), which approving used to erase with held_reason.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN held_sample jsonb, ADD COLUMN decision jsonb`.execute(db);
  // The console's runs page filters a million runs by state and by period, newest first, a page at a
  // time: each filter needs an index in id order (a rare state walked on the primary key read every row).
  await sql`CREATE INDEX runs_state_id ON runs(state, id)`.execute(db);
  await sql`CREATE INDEX runs_received ON runs(received_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS runs_state_id; DROP INDEX IF EXISTS runs_received`.execute(db);
  await sql`ALTER TABLE runs DROP COLUMN held_sample, DROP COLUMN decision`.execute(db);
}
