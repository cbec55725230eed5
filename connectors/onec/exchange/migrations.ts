// The 1C exchange's own tables, applied after the core's migrations and recorded in the connector's own
// bookkeeping table. Installations made before the connector brought its migrations already have them.
import { sql, type Kysely, type Migration } from 'kysely';

const m0001: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    // IF NOT EXISTS: until the tables moved here, the core's migration 0005 created them.
    await sql`
    CREATE TABLE IF NOT EXISTS onec_sessions (
      id           text PRIMARY KEY,               -- public id: logs, runs.snapshot_group = 'onec:' || id
      exchange     text NOT NULL,
      token_hash   bytea NOT NULL UNIQUE,          -- sha256 of the cookie value handed to 1C
      sessid_hash  bytea NOT NULL UNIQUE,          -- sha256 of the sessid handed to 1C
      user_name    text NOT NULL,
      remote_addr  text,
      dir          text NOT NULL,                  -- the session's files, under the inbox directory
      zip          boolean NOT NULL DEFAULT false, -- what init announced
      file_limit   bigint NOT NULL,
      data         jsonb NOT NULL DEFAULT '{}',    -- per exchange type state (e.g. what a sale query sent)
      created_at   timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at   timestamptz NOT NULL,
      closed_at    timestamptz,                    -- deactivate/complete: the session's snapshot was closed
      abandoned_at timestamptz                     -- expired before it was closed: nothing removed
    );
    CREATE INDEX IF NOT EXISTS onec_sessions_open ON onec_sessions(expires_at) WHERE closed_at IS NULL AND abandoned_at IS NULL;

    CREATE TABLE IF NOT EXISTS onec_files (
      id           bigserial PRIMARY KEY,
      session_id   text NOT NULL REFERENCES onec_sessions(id) ON DELETE CASCADE,
      name         text NOT NULL,                  -- relative name as 1C sent it, separators normalised to '/'
      path         text NOT NULL,
      size_bytes   bigint NOT NULL DEFAULT 0,
      chunks       integer NOT NULL DEFAULT 0,
      archive      text,                           -- the zip this file was unpacked from
      state        text NOT NULL DEFAULT 'receiving'
                   CHECK (state IN ('receiving', 'unpacking', 'unpacked', 'preparing', 'imported', 'failed')),
      lease_until  timestamptz,                    -- a background task (unpack, start runs) holds the file until then
      sha256       char(64),
      error        text,
      run_ids      bigint[] NOT NULL DEFAULT '{}',
      created_at   timestamptz NOT NULL DEFAULT now(),
      updated_at   timestamptz NOT NULL DEFAULT now(),
      UNIQUE (session_id, name)
    );
    `.execute(db);
  },
  async down(db: Kysely<any>): Promise<void> {
    await sql`DROP TABLE IF EXISTS onec_files, onec_sessions`.execute(db);
  },
};

// A file sent again after its import is a new generation: its runs are received under a new key.
const m0002: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await sql`ALTER TABLE onec_files ADD COLUMN generation integer NOT NULL DEFAULT 0`.execute(db);
  },
  async down(db: Kysely<any>): Promise<void> {
    await sql`ALTER TABLE onec_files DROP COLUMN IF EXISTS generation`.execute(db);
  },
};

export const onecMigrations: Readonly<Record<string, Migration>> = {
  '0001-exchange-sessions-and-files': m0001,
  '0002-file-generation': m0002,
};
