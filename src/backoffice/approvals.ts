// A head's approval of a subordinate's orders above the threshold the head set (contact_rights
// .approval_above): such an order is placed with approval 'waiting' and is not sent to the ERP
// (src/orders/outbound.ts RELEASED) until a head of the client approves it; a rejected one is cancelled.
// The heads are told when an order waits, the subordinate when it is decided (kind 'order-approval').
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';
import { audit, type Actor } from './audit.ts';
import { notify } from './notify.ts';
import { rub } from './credit.ts';
import { assertHead, type Viewer } from './rights.ts';

type Db = Kysely<Database>;

/** A refusal with a Russian text for pages (and English for the API). */
export class ApprovalError extends MagistralError {
  constructor(code: 'MAG_ERR_CONFLICT' | 'MAG_ERR_NOT_FOUND' | 'MAG_ERR_BAD_REQUEST', message: string, readonly russian: string) {
    super(code, message);
    this.name = 'ApprovalError';
  }
}

/** Holds the order for approval when its total is above `threshold`; tells the client's heads. In the placing transaction. */
export async function requestApproval(trx: Db, orderId: number, threshold: string): Promise<boolean> {
  const o = (await sql<{ number: string; total: string; currency: string; client_id: number; le_name: string; contact_name: string | null }>`
    UPDATE orders o SET approval = 'waiting' FROM legal_entities le
    WHERE o.id = ${orderId} AND le.id = o.legal_entity_id AND o.total > ${threshold}::numeric
    RETURNING o.number, o.total::text, o.currency, o.client_id::int, le.name AS le_name,
      (SELECT name FROM contacts WHERE id = o.contact_id) AS contact_name`.execute(trx)).rows[0];
  if (!o) return false;
  await sql`INSERT INTO order_events (order_id, source, change) VALUES (${orderId}, 'portal', ${JSON.stringify({ approval: { from: null, to: 'waiting' } })}::jsonb)`.execute(trx);
  const heads = (await sql<{ id: number }>`
    SELECT DISTINCT h.contact_id::int AS id FROM contact_legal_entities h JOIN legal_entities le ON le.id = h.legal_entity_id
    JOIN contacts c ON c.id = h.contact_id AND NOT c.deleted
    WHERE h.role = 'head' AND le.client_id = ${o.client_id} ORDER BY 1`.execute(trx)).rows;
  for (const h of heads) {
    await notify(trx, {
      kind: 'order-approval', to: { contactId: h.id }, dedupeKey: `approval:wait:${orderId}:c${h.id}`,
      subject: `Заказ ${o.number} ждёт вашего согласования`,
      text: `${o.contact_name ?? 'Сотрудник'} оформил(а) заказ ${o.number} для «${o.le_name}» на ${rub(o.total, o.currency)} — больше порога согласования ${rub(threshold, o.currency)}.\n\n`
        + 'Заказ не передан поставщику, пока вы его не согласуете. Согласовать или отклонить: личный кабинет, раздел «Согласование».\n',
    });
  }
  return true;
}

export interface WaitingOrder {
  number: string;
  createdAt: Date;
  legalEntity: string;
  contactName: string | null;
  total: string;
  currency: string;
  threshold: string | null;
}

/** Orders of the client waiting for approval (heads only: the refusal is audited). */
export async function waitingApprovals(db: Db, v: Viewer, actor: Actor): Promise<WaitingOrder[]> {
  await assertHead(db, v, actor, 'approval.list');
  const rows = (await sql<{ number: string; created_at: Date; le_name: string; contact_name: string | null; total: string; currency: string; threshold: string | null }>`
    SELECT o.number, o.created_at, le.name AS le_name, c.name AS contact_name, o.total::text, o.currency, cr.approval_above::text AS threshold
    FROM orders o JOIN legal_entities le ON le.id = o.legal_entity_id LEFT JOIN contacts c ON c.id = o.contact_id
    LEFT JOIN contact_rights cr ON cr.contact_id = o.contact_id AND cr.legal_entity_id = o.legal_entity_id
    WHERE o.client_id = ${v.clientId} AND o.approval = 'waiting' ORDER BY o.id`.execute(db)).rows;
  return rows.map((r) => ({ number: r.number, createdAt: r.created_at, legalEntity: r.le_name, contactName: r.contact_name, total: r.total, currency: r.currency, threshold: r.threshold }));
}

/** A head approves (the order goes to the ERP at the next sweep) or rejects (it is cancelled) a waiting order. */
export async function decideApproval(db: Db, v: Viewer, number: string, d: { approve: boolean; comment?: string }, actor: Actor): Promise<void> {
  await assertHead(db, v, actor, d.approve ? 'order.approve' : 'order.reject');
  const comment = (d.comment ?? '').trim();
  if (comment.length > 1000) throw new ApprovalError('MAG_ERR_BAD_REQUEST', 'comment longer than 1000 characters', 'Комментарий длиннее 1000 символов.');
  if (!d.approve && !comment) throw new ApprovalError('MAG_ERR_BAD_REQUEST', 'a rejection needs a comment', 'Напишите, почему заказ отклонён: сотрудник увидит комментарий.');
  await db.transaction().execute(async (trx) => {
    const o = (await sql<{ id: number; approval: string | null; contact_id: number | null; total: string; currency: string }>`
      SELECT id::int, approval, contact_id::int, total::text, currency FROM orders WHERE client_id = ${v.clientId} AND number = ${number} FOR UPDATE`.execute(trx)).rows[0];
    if (!o) throw new ApprovalError('MAG_ERR_NOT_FOUND', `no order ${number}`, `Заказ ${number} не найден.`);
    if (o.approval !== 'waiting') {
      throw new ApprovalError('MAG_ERR_CONFLICT', `order ${number} is not waiting for approval (${o.approval ?? 'none needed'})`,
        o.approval === 'approved' ? `Заказ ${number} уже согласован.` : o.approval === 'rejected' ? `Заказ ${number} уже отклонён.` : `Заказ ${number} не требует согласования.`);
    }
    const to = d.approve ? 'approved' : 'rejected';
    // clock_timestamp: the outbound sweep compares updated_at with what it sent (an approved order is new to it).
    await sql`UPDATE orders SET approval = ${to}, approval_by = ${v.contactId}, approval_at = now(), approval_comment = ${comment || null},
      cancelled = cancelled OR ${!d.approve}, updated_at = clock_timestamp() WHERE id = ${o.id}`.execute(trx);
    await sql`INSERT INTO order_events (order_id, source, change) VALUES (${o.id}, 'portal',
      ${JSON.stringify({ approval: { from: 'waiting', to }, ...(comment ? { approvalComment: { to: comment } } : {}) })}::jsonb)`.execute(trx);
    await audit(trx, actor, { action: d.approve ? 'order.approve' : 'order.reject', clientId: v.clientId, details: { order: number, comment: comment || null } });
    if (o.contact_id !== null) {
      await notify(trx, {
        kind: 'order-approval', to: { contactId: o.contact_id }, dedupeKey: `approval:${to}:${o.id}`,
        subject: d.approve ? `Заказ ${number} согласован` : `Заказ ${number} отклонён руководителем`,
        text: (d.approve
          ? `Руководитель согласовал ваш заказ ${number} на ${rub(o.total, o.currency)}; он передан поставщику.\n`
          : `Руководитель отклонил ваш заказ ${number} на ${rub(o.total, o.currency)}; заказ отменён.\n`)
          + (comment ? `\nКомментарий: ${comment}\n` : ''),
      });
    }
  });
}
