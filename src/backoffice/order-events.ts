// What an order's status change sets off, in the transaction of the change (applyOrderChange): a move
// to 'confirmed' writes an invoice job (one per order, however often the ERP reports it; the invoice
// worker in order-documents.ts makes it) and any other move writes an 'order-status' e-mail (one per
// order_events row and recipient). Kept light: the orders module imports it.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/index.ts';
import { printMoney } from './money.ts';
import { notify } from './notify.ts';

type Db = Kysely<Database>;
type Trx = Transaction<Database> | Db;

const TZ = 'Europe/Moscow';

/** Who hears about an order: its contact; an order without one (made in the ERP) goes to the heads of its legal entity. */
export async function orderRecipients(db: Trx, orderId: number): Promise<number[]> {
  const r = await sql<{ id: number }>`
    SELECT o.contact_id AS id FROM orders o WHERE o.id = ${orderId} AND o.contact_id IS NOT NULL
    UNION
    SELECT cle.contact_id FROM orders o JOIN contact_legal_entities cle ON cle.legal_entity_id = o.legal_entity_id AND cle.role = 'head'
    JOIN contacts c ON c.id = cle.contact_id AND NOT c.deleted
    WHERE o.id = ${orderId} AND o.contact_id IS NULL`.execute(db);
  return r.rows.map((x) => Number(x.id));
}

/** Called by applyOrderChange inside its transaction when the status changed. */
export async function onOrderStatusChanged(trx: Trx, e: { orderId: number; eventId: number; from: string; to: string }): Promise<void> {
  if (e.to === 'confirmed') {
    await sql`INSERT INTO document_jobs (kind, order_id) VALUES ('invoice', ${e.orderId}) ON CONFLICT (kind, order_id) DO NOTHING`.execute(trx);
    // The invoice's e-mail says it is confirmed; a second "status changed" message would only repeat it.
    return;
  }
  const o = (await sql<{ number: string; total: string; currency: string; created_at: Date; to_name: string; from_name: string | null }>`
    SELECT o.number, o.total::text AS total, o.currency, o.created_at, st.name AS to_name, fr.name AS from_name
    FROM orders o JOIN order_statuses st ON st.code = ${e.to} LEFT JOIN order_statuses fr ON fr.code = ${e.from}
    WHERE o.id = ${e.orderId}`.execute(trx)).rows[0];
  if (!o) return;
  for (const contactId of await orderRecipients(trx, e.orderId)) {
    await notify(trx as Db, {
      kind: 'order-status', to: { contactId },
      subject: `Заказ ${o.number}: ${o.to_name}`,
      text: `Здравствуйте!\n\nСтатус заказа ${o.number} от ${o.created_at.toLocaleDateString('ru-RU', { timeZone: TZ })} на сумму ${printMoney(o.total)} ${o.currency === 'RUB' ? 'руб.' : o.currency} изменился: «${o.to_name}»${o.from_name ? ` (был «${o.from_name}»)` : ''}.\n\nЗаказ и его документы — в личном кабинете, раздел «Заказы».\n`,
      dedupeKey: `order-status:${e.eventId}:${contactId}`,
    });
  }
}
