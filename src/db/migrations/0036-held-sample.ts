// What a held run would change (src/pipeline/held-sample.ts): a few rows of each kind with old → new,
// taken in the merge's transaction before the guard rolls it back, for the person who approves it; and
// that person's decision (approved or rejected, by whom, when, with the comment and the reason the run
// was held for), which approving used to erase with held_reason.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN held_sample jsonb, ADD COLUMN decision jsonb`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs DROP COLUMN held_sample, DROP COLUMN decision`.execute(db);
}
