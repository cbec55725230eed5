// What runs need so that one export of several files behaves as one (dependency order, a snapshot group,
// one read of a file for several runs). First written for the 1C exchange, whose own tables (sessions,
// files) now come with the connector's migrations (connectors/onec/exchange/migrations.ts).
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

  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS snapshot_groups;
    DROP INDEX IF EXISTS runs_snapshot_group;
    ALTER TABLE runs DROP COLUMN IF EXISTS read_with, DROP COLUMN IF EXISTS staging_kept, DROP COLUMN IF EXISTS kind, DROP COLUMN IF EXISTS snapshot_group,
      DROP COLUMN IF EXISTS depends_on, DROP COLUMN IF EXISTS mode_declared;
  `.execute(db);
}
