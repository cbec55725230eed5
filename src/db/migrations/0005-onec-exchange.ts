// The 1C "exchange with site" protocol: sessions and the files received in them, and what runs need so
// that one session of several files behaves as one export (dependency order, a session-wide snapshot).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- What the payload itself declared (CommerceML СодержитТолькоИзменения) overrides the flow's mode;
    -- runs.mode then holds the effective mode and mode_declared says where it came from.
    ALTER TABLE runs ADD COLUMN mode_declared boolean NOT NULL DEFAULT false;
    -- Runs of one file merge in dependency order: a run waits for these runs to end first.
    ALTER TABLE runs ADD COLUMN depends_on bigint[] NOT NULL DEFAULT '{}';
    -- Runs of one snapshot group (a 1C session split over several files) upsert only; what none of
    -- them carried is removed once, by the group's 'finalize' run, when the group ends.
    ALTER TABLE runs ADD COLUMN snapshot_group text;
    ALTER TABLE runs ADD COLUMN kind text NOT NULL DEFAULT 'payload' CHECK (kind IN ('payload', 'finalize'));
    -- The staging table of a group run is kept (its keys) until the group's finalize run has used it.
    ALTER TABLE runs ADD COLUMN staging_kept boolean NOT NULL DEFAULT false;
    -- Runs made from one file read it in one pass of the parser (the id of the file's first such run).
    ALTER TABLE runs ADD COLUMN read_with bigint;
    CREATE INDEX runs_snapshot_group ON runs(snapshot_group, flow_id) WHERE snapshot_group IS NOT NULL;
    CREATE TABLE snapshot_groups (
      id           text PRIMARY KEY,
      opened_at    timestamptz NOT NULL DEFAULT now(),
      closed_at    timestamptz,   -- its finalize runs were made: removal of what no run carried
      abandoned_at timestamptz    -- ended without closing (session expired): nothing is removed
    );

    CREATE TABLE onec_sessions (
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
    CREATE INDEX onec_sessions_open ON onec_sessions(expires_at) WHERE closed_at IS NULL AND abandoned_at IS NULL;

    CREATE TABLE onec_files (
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
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS onec_files, onec_sessions, snapshot_groups;
    DROP INDEX IF EXISTS runs_snapshot_group;
    ALTER TABLE runs DROP COLUMN IF EXISTS read_with, DROP COLUMN IF EXISTS staging_kept, DROP COLUMN IF EXISTS kind, DROP COLUMN IF EXISTS snapshot_group,
      DROP COLUMN IF EXISTS depends_on, DROP COLUMN IF EXISTS mode_declared;
  `.execute(db);
}
