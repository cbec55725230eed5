// Settlement notifications (kinds 'debt' and 'credit-limit'), to the client's heads, the contacts whose
// authority a head confirmed for the legal entity, and the responsible manager:
// - a document owed appeared, and it became overdue: once per document. The receivables row carries
//   markers (noticed_at, overdue_noticed_at) set in the same transaction as the e-mails, and each e-mail
//   has a dedupe key. `debtNotices` runs right after a receivables merge commits (src/pipeline/merge.ts)
//   and on the workers' timer (a document becomes overdue by the calendar, with no merge to say so).
// - a limit ≥ 90 % used, and exhausted: once per crossing. credit_alerts keeps the level notified;
//   usage falling below a level deletes its marker, so the next crossing notifies again. Checked in the
//   transaction of an order placed on credit, and after receivables change.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { notify } from './notify.ts';
import { creditStatus, rub } from './credit.ts';

type Db = Kysely<Database>;

/** The contacts told about a legal entity's settlements: heads of the client and confirmed contacts of the entity. */
export async function settlementContacts(db: Db, clientId: number, legalEntityId: number | null): Promise<number[]> {
  const r = await sql<{ id: number }>`
    SELECT DISTINCT c.id::int FROM contacts c
    WHERE c.client_id = ${clientId} AND NOT c.deleted AND (
      EXISTS (SELECT 1 FROM contact_legal_entities h JOIN legal_entities le ON le.id = h.legal_entity_id
              WHERE h.contact_id = c.id AND h.role = 'head' AND le.client_id = ${clientId})
      OR EXISTS (SELECT 1 FROM contact_rights cr JOIN contact_legal_entities l ON l.contact_id = cr.contact_id AND l.legal_entity_id = cr.legal_entity_id
              WHERE cr.contact_id = c.id AND cr.legal_entity_id = ${legalEntityId} AND cr.authority_confirmed_at IS NOT NULL))
    ORDER BY 1`.execute(db);
  return r.rows.map((x) => x.id);
}

async function managerOf(db: Db, clientId: number): Promise<number | null> {
  const r = await sql<{ id: number | null }>`SELECT manager_id::int AS id FROM clients WHERE id = ${clientId}`.execute(db);
  return r.rows[0]?.id ?? null;
}

const ruDate = (iso: string | null): string => (iso ? iso.split('-').reverse().join('.') : '—');

interface DocRow {
  legal_entity_id: number; document: string; client_id: number; client_name: string; le_name: string; kind: string | null; number: string | null;
  date: string | null; owed: string; currency: string | null; due: string | null; late: number; agreement_id: number | null;
  noticed: boolean; overdue_noticed: boolean;
}

/**
 * Writes the debt notifications not written yet (one transaction: markers and e-mails together; rows
 * another worker is writing are skipped). Answers how many documents were noticed.
 */
export async function debtNotices(db: Db, limit = 500): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const docs = (await sql<DocRow>`
      SELECT r.legal_entity_id::int, r.document, le.client_id::int, cl.name AS client_name, le.name AS le_name, r.kind, r.number,
        to_char(r.doc_date, 'YYYY-MM-DD') AS date, r.owed::text, coalesce(r.currency, a.currency, 'RUB') AS currency,
        to_char(coalesce(r.due_date, r.doc_date + coalesce(t.payment_delay_days, a.payment_delay_days, 0)), 'YYYY-MM-DD') AS due,
        greatest(0, current_date - coalesce(r.due_date, r.doc_date + coalesce(t.payment_delay_days, a.payment_delay_days, 0)))::int AS late,
        r.agreement_id::int, r.noticed_at IS NOT NULL AS noticed, r.overdue_noticed_at IS NOT NULL AS overdue_noticed
      FROM receivables r JOIN legal_entities le ON le.id = r.legal_entity_id JOIN clients cl ON cl.id = le.client_id
      LEFT JOIN agreements a ON a.id = r.agreement_id LEFT JOIN credit_terms t ON t.agreement_id = a.id
      WHERE r.owed > 0 AND r.overdue_noticed_at IS NULL
        AND (r.noticed_at IS NULL OR current_date > coalesce(r.due_date, r.doc_date + coalesce(t.payment_delay_days, a.payment_delay_days, 0)))
      ORDER BY r.legal_entity_id, r.document
      LIMIT ${limit}
      FOR UPDATE OF r SKIP LOCKED`.execute(trx)).rows;
    for (const d of docs) {
      const overdue = d.late > 0;
      // A document first seen already overdue is one message (overdue), not two.
      const kind = overdue ? 'overdue' : 'new';
      const what = `${d.kind ?? 'Документ'}${d.number ? ` № ${d.number}` : ''}${d.date ? ` от ${ruDate(d.date)}` : ''}`;
      const subject = overdue ? `Просрочена оплата: ${what}` : `Задолженность по документу ${what}`;
      const text = overdue
        ? `${d.le_name}: оплата по документу «${what}» просрочена на ${d.late} дн. (срок оплаты ${ruDate(d.due)}). Задолженность: ${rub(d.owed, d.currency ?? 'RUB')}.\n\n`
          + 'Пока есть просроченная задолженность, заказы с отсрочкой платежа могут быть недоступны. Баланс и документы — в личном кабинете, раздел «Баланс».\n'
        : `${d.le_name}: по документу «${what}» к оплате ${rub(d.owed, d.currency ?? 'RUB')}, срок оплаты ${ruDate(d.due)}.\n\nБаланс и документы — в личном кабинете, раздел «Баланс».\n`;
      const key = `debt:${kind}:${d.legal_entity_id}:${d.document}`;
      for (const contactId of await settlementContacts(trx, d.client_id, d.legal_entity_id)) {
        await notify(trx, { kind: 'debt', to: { contactId }, subject, text, dedupeKey: `${key}:c${contactId}` });
      }
      const manager = await managerOf(trx, d.client_id);
      if (manager !== null) {
        await notify(trx, { kind: 'debt', to: { managerId: manager }, subject: `${d.client_name}: ${subject}`, text, dedupeKey: `${key}:m${manager}` });
      }
      await sql`UPDATE receivables SET noticed_at = coalesce(noticed_at, now()), overdue_noticed_at = CASE WHEN ${overdue} THEN now() END
        WHERE legal_entity_id = ${d.legal_entity_id} AND document = ${d.document}`.execute(trx);
    }
    return docs.length;
  });
}

/**
 * Checks the limit usage of agreements (all with a limit when none named) against the levels already
 * notified, and notifies a crossing once. Runs in the caller's transaction when given one.
 */
export async function creditAlerts(db: Db, agreementIds?: readonly number[]): Promise<number> {
  const ags = (await sql<{ id: number; client_id: number; legal_entity_id: number | null }>`
    SELECT a.id::int, a.client_id::int, coalesce(a.legal_entity_id, (SELECT min(le.id) FROM legal_entities le WHERE le.client_id = a.client_id AND NOT le.deleted))::int AS legal_entity_id
    FROM agreements a LEFT JOIN credit_terms t ON t.agreement_id = a.id
    WHERE NOT a.deleted AND NOT a.placeholder AND a.client_id IS NOT NULL AND coalesce(t.credit_limit, a.credit_limit) IS NOT NULL
      AND (${agreementIds === undefined}::boolean OR a.id = ANY(${[...(agreementIds ?? [])]}::bigint[]))
    ORDER BY a.id`.execute(db)).rows;
  let sent = 0;
  for (const a of ags) {
    if (a.legal_entity_id === null) continue;
    const st = await creditStatus(db, { clientId: a.client_id, legalEntityId: a.legal_entity_id, agreementId: a.id });
    if (st.limit === null) continue;
    // Nothing left (available ≤ 0, read from the exact text).
    const exhausted = st.available !== null && (st.available.startsWith('-') || !/[1-9]/.test(st.available));
    const level = exhausted ? 100 : (st.usedPercent ?? 0) >= 90 ? 90 : 0;
    // Usage fell below a level: its marker goes, so the next crossing notifies again.
    await sql`DELETE FROM credit_alerts WHERE agreement_id = ${a.id} AND level > ${level}`.execute(db);
    if (level === 0) continue;
    const marker = (await sql<{ id: string }>`INSERT INTO credit_alerts (agreement_id, level) VALUES (${a.id}, ${level})
      ON CONFLICT (agreement_id, level) DO NOTHING RETURNING id::text`.execute(db)).rows[0];
    if (!marker) continue;
    const client = (await sql<{ name: string }>`SELECT name FROM clients WHERE id = ${a.client_id}`.execute(db)).rows[0]?.name ?? '';
    const subject = level === 100 ? `Кредитный лимит исчерпан: ${st.agreement?.name ?? ''}` : `Кредитный лимит почти исчерпан (${st.usedPercent} %): ${st.agreement?.name ?? ''}`;
    const text = `По договору «${st.agreement?.name ?? ''}» использовано ${rub(st.used, st.currency)} из ${rub(st.limit, st.currency)} `
      + `(задолженность ${rub(st.debt, st.currency)}, неоплаченные заказы ${rub(st.openOrders, st.currency)}). Доступно: ${rub(st.available ?? '0', st.currency)}.\n\n`
      + (level === 100 ? 'Новые заказы с отсрочкой платежа будут отклонены до оплаты задолженности.\n' : 'Когда лимит будет исчерпан, заказы с отсрочкой платежа станут недоступны.\n');
    const key = `credit-limit:${a.id}:${level}:${marker.id}`;
    for (const contactId of await settlementContacts(db, a.client_id, a.legal_entity_id)) {
      await notify(db, { kind: 'credit-limit', to: { contactId }, subject, text, dedupeKey: `${key}:c${contactId}` });
    }
    const manager = await managerOf(db, a.client_id);
    if (manager !== null) await notify(db, { kind: 'credit-limit', to: { managerId: manager }, subject: `${client}: ${subject}`, text, dedupeKey: `${key}:m${manager}` });
    sent++;
  }
  return sent;
}

/**
 * After receivables changed (a merge committed: `runId` limits the limit check to the agreements that
 * run wrote, a crossing up; a payment's fall below a level waits for the timer) or on the timer (every
 * agreement with a limit): debt notices, then limit crossings.
 */
export async function settlementNotices(db: Db, opts: { runId?: number } = {}): Promise<{ documents: number; alerts: number }> {
  const documents = await debtNotices(db);
  const agreements = opts.runId === undefined ? undefined : (await sql<{ id: number }>`
    SELECT DISTINCT agreement_id::int AS id FROM receivables WHERE run_id = ${opts.runId} AND agreement_id IS NOT NULL`.execute(db)).rows.map((r) => r.id);
  const alerts = agreements !== undefined && !agreements.length ? 0 : await db.transaction().execute((trx) => creditAlerts(trx, agreements));
  return { documents, alerts };
}
