// Reconciliation acts asked of the ERP (a flow with `target: reconciliationActs`, src/backoffice/
// act-requests.ts): one row per request, the truth about it — a BullMQ job is only the nudge. One pending
// request per legal entity, agreement and period: a buyer who asks twice waits for the same act.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE act_requests (
      id              bigserial PRIMARY KEY,
      legal_entity_id bigint NOT NULL REFERENCES legal_entities(id) ON DELETE CASCADE,
      agreement_id    bigint REFERENCES agreements(id) ON DELETE SET NULL,
      period_from     date NOT NULL,
      period_to       date NOT NULL CHECK (period_from <= period_to),
      -- Who asked; a manager working as the client is recorded too (the impersonation).
      contact_id      bigint REFERENCES contacts(id) ON DELETE SET NULL,
      manager_id      integer REFERENCES managers(id) ON DELETE SET NULL,
      flow_id         integer NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
      state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
      attempts        integer NOT NULL DEFAULT 0,
      -- Technical (English, for on-call) and the buyer's words (Russian) for why it failed.
      last_error      text,
      last_error_code text,
      reason          text,
      sha256          char(64) REFERENCES stored_files(sha256),
      number          text,
      act_date        date,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      done_at         timestamptz,
      CHECK (state <> 'done' OR sha256 IS NOT NULL)
    );
    CREATE UNIQUE INDEX act_requests_one_pending ON act_requests(legal_entity_id, coalesce(agreement_id, 0), period_from, period_to) WHERE state = 'pending';
    CREATE INDEX act_requests_legal_entity ON act_requests(legal_entity_id, created_at);
    CREATE INDEX act_requests_pending ON act_requests(created_at) WHERE state = 'pending';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS act_requests`.execute(db);
}
