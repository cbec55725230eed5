// What a held run would change (src/pipeline/held-sample.ts): a few rows of each kind with old → new,
// taken in the merge's transaction before the guard rolls it back, for the person who approves it.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN held_sample jsonb`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs DROP COLUMN held_sample`.execute(db);
}
