// Settlements and credit lines: what the client owes (receivables: open documents per legal entity and
// agreement, a snapshot from the ERP), the movements a reconciliation act is built from
// (settlement_entries), the responsible manager's overrides of an agreement's limit and delay and the
// client's overdue rule (credit_terms, credit_rules), and the markers that make a limit notification go
// out once per crossing (credit_alerts). Amounts are numeric; overdue days are computed, never stored.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One open document owed (a sale, an act) as the ERP reports it. Key: the legal entity and the ERP's
    -- document key. A paid document disappears from a snapshot or arrives with owed = 0 in a delta.
    CREATE TABLE receivables (
      legal_entity_id bigint NOT NULL REFERENCES legal_entities(id) ON DELETE CASCADE,
      document        text NOT NULL,
      agreement_id    bigint REFERENCES agreements(id) ON DELETE SET NULL,
      kind            text,
      number          text,
      doc_date        date,
      amount          numeric(20, 2),
      owed            numeric(20, 2) NOT NULL,
      currency        text,
      due_date        date,
      order_ref       text,
      -- The notifications already written for this document ("debt appeared", "became overdue"):
      -- set in the transaction that writes them, so each goes out once (credit-notices.ts).
      noticed_at         timestamptz,
      overdue_noticed_at timestamptz,
      flow_id         integer,
      run_id          bigint,
      updated_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (legal_entity_id, document)
    );
    CREATE INDEX receivables_agreement ON receivables(agreement_id) WHERE owed > 0;
    CREATE INDEX receivables_order_ref ON receivables(order_ref) WHERE order_ref IS NOT NULL;
    CREATE INDEX receivables_unnoticed ON receivables(legal_entity_id) WHERE owed > 0 AND overdue_noticed_at IS NULL;

    -- Movements of mutual settlements (debit: the client owes more; credit: a payment, a return).
    CREATE TABLE settlement_entries (
      legal_entity_id bigint NOT NULL REFERENCES legal_entities(id) ON DELETE CASCADE,
      entry           text NOT NULL,
      agreement_id    bigint REFERENCES agreements(id) ON DELETE SET NULL,
      entry_date      date NOT NULL,
      document_kind   text,
      document_number text,
      debit           numeric(20, 2) NOT NULL DEFAULT 0,
      credit          numeric(20, 2) NOT NULL DEFAULT 0,
      currency        text,
      flow_id         integer,
      run_id          bigint,
      updated_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (legal_entity_id, entry)
    );
    CREATE INDEX settlement_entries_date ON settlement_entries(legal_entity_id, entry_date);

    -- The responsible manager's terms of an agreement: a set value wins over the ERP's (NULL: the ERP's).
    CREATE TABLE credit_terms (
      agreement_id       bigint PRIMARY KEY REFERENCES agreements(id) ON DELETE CASCADE,
      credit_limit       numeric(20, 2) CHECK (credit_limit >= 0),
      payment_delay_days integer CHECK (payment_delay_days BETWEEN 0 AND 9999),
      set_by_manager_id  integer REFERENCES managers(id) ON DELETE SET NULL,
      updated_at         timestamptz NOT NULL DEFAULT now()
    );

    -- What overdue debt does to ordering on credit, per client: 'any' blocks on any overdue document,
    -- 'grace' allows grace_days past the due date, 'never' does not block.
    CREATE TABLE credit_rules (
      client_id         bigint PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
      overdue_rule      text NOT NULL CHECK (overdue_rule IN ('any', 'grace', 'never')),
      grace_days        integer NOT NULL DEFAULT 0 CHECK (grace_days BETWEEN 0 AND 365),
      set_by_manager_id integer REFERENCES managers(id) ON DELETE SET NULL,
      updated_at        timestamptz NOT NULL DEFAULT now()
    );

    -- A limit's usage level already notified (90 % or 100 %): deleted when usage falls below it, so the
    -- next crossing notifies again; its id names the crossing in the e-mail's dedupe key.
    CREATE TABLE credit_alerts (
      id           bigserial UNIQUE,
      agreement_id bigint NOT NULL REFERENCES agreements(id) ON DELETE CASCADE,
      level        smallint NOT NULL CHECK (level IN (90, 100)),
      at           timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (agreement_id, level)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS credit_alerts, credit_rules, credit_terms, settlement_entries, receivables CASCADE`.execute(db);
}
