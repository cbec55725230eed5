// State of pulled (scheduled) sources, one row per flow: the connector's cursor as of the last accepted
// run, the cursor of the pull whose run is still open (kept only once that run is done), and how
// the last pull went — what an operator asks first when a scheduled source goes quiet.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE poll_state (
      flow_id          integer PRIMARY KEY REFERENCES flows(id) ON DELETE CASCADE,
      cursor           jsonb,
      cursor_run_id    bigint REFERENCES runs(id) ON DELETE SET NULL,
      pending_run_id   bigint REFERENCES runs(id) ON DELETE SET NULL,
      pending_cursor   jsonb,
      last_pull_at     timestamptz,
      last_outcome     text CHECK (last_outcome IN ('received', 'unchanged', 'failed')),
      last_records     integer,
      last_error_code  text,
      last_error       text,
      failures         integer NOT NULL DEFAULT 0,
      updated_at       timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS poll_state`.execute(db);
}
