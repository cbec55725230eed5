// The Bitrix24 connector's own tables (module `crm`), applied after the core's and recorded in the
// module's bookkeeping table. Named from 0025 on: the numbers reserved for the events and deals work.
import { sql, type Kysely, type Migration } from 'kysely';

const events: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    // One row per event the endpoint accepted, written before Bitrix24 is answered: the claim check of
    // an event (it carries only an id). The unique key is the receipt key: the same event posted twice
    // (event, entity id, ts) is one row, so it is fetched and merged once. The drain fetches the pending
    // entities and hands them to port.receive; `runs` are the runs made of them.
    await sql`
    CREATE TABLE IF NOT EXISTS crm_bitrix24_events (
      id           bigserial PRIMARY KEY,
      flow         text NOT NULL,
      event        text NOT NULL,
      entity       text NOT NULL,
      entity_id    text NOT NULL,
      ts           bigint NOT NULL,
      deleted      boolean NOT NULL DEFAULT false,
      domain       text,
      handler_id   text,
      state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
      attempts     integer NOT NULL DEFAULT 0,
      last_error   text,
      runs         integer[] NOT NULL DEFAULT '{}',
      received_at  timestamptz NOT NULL DEFAULT now(),
      done_at      timestamptz,
      UNIQUE (flow, event, entity_id, ts)
    );
    CREATE INDEX IF NOT EXISTS crm_bitrix24_events_pending ON crm_bitrix24_events (flow, id) WHERE state = 'pending';
    -- The last copy of each entity an event fetched, per system: a DELETE event cannot fetch what is gone,
    -- and the merge needs the entity's fields (its name) to mark it deleted.
    CREATE TABLE IF NOT EXISTS crm_bitrix24_entities (
      system      text NOT NULL,
      entity      text NOT NULL,
      entity_id   text NOT NULL,
      record      jsonb NOT NULL,
      deleted     boolean NOT NULL DEFAULT false,
      updated_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (system, entity, entity_id)
    );
    `.execute(db);
  },
  async down(db: Kysely<any>): Promise<void> {
    await sql`DROP TABLE IF EXISTS crm_bitrix24_events, crm_bitrix24_entities`.execute(db);
  },
};

export const bitrix24EventMigrations: Readonly<Record<string, Migration>> = { '0025_crm_bitrix24_events': events };
