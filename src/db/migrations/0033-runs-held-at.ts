// When a run was held (for the alert on a run held past an hour, magistral_run_held_age_seconds): the
// guard's hold is set by holdRun; runs held before this column existed count from when they were staged.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN held_at timestamptz`.execute(db);
  await sql`UPDATE runs SET held_at = coalesce(staged_at, started_at, received_at) WHERE state = 'held'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs DROP COLUMN IF EXISTS held_at`.execute(db);
}
