// Payloads still arriving (issue 16, target 4): a connector that receives a file in pieces (1C's
// `mode=file` POSTs) may make its runs at the first piece, so that the extract follows the bytes as they
// come instead of starting after the last one. One row per such receipt: how many bytes are final
// (committed pieces; never shrinks), and whether the sender said the file is whole (sealed) or gave it
// up (abandoned). Inbox rows of the file name it; a run whose file is not sealed never merges.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE inbox_growth (
    key text PRIMARY KEY,
    committed_bytes bigint NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'growing' CHECK (state IN ('growing', 'sealed', 'abandoned')),
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now())`.execute(db);
  await sql`ALTER TABLE inbox ADD COLUMN growth_key text REFERENCES inbox_growth(key)`.execute(db);
  await sql`CREATE INDEX inbox_growth_key ON inbox(growth_key) WHERE growth_key IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE inbox DROP COLUMN growth_key`.execute(db);
  await sql`DROP TABLE inbox_growth`.execute(db);
}
