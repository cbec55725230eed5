// A manager confirms an order of one of own clients (the manager's page calls this): the same change
// the ERP's exchange makes (applyOrderChange, source 'manager:<id>'), so the invoice job and the
// e-mails follow the same path. Refusals are audited; the order of another manager's client is 403.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { applyOrderChange } from '../orders/index.ts';
import { audit, type Actor } from './audit.ts';
import { assertOwnClient } from './managers.ts';

type Db = Kysely<Database>;

export interface ConfirmOutcome {
  orderId: number;
  number: string;
  /** false: it was confirmed (or further) already; nothing changed. */
  changed: boolean;
}

/** Statuses from which a manager may confirm (before 'confirmed' in the statuses' order). */
const CONFIRMABLE = new Set(['new', 'accepted']);

export async function confirmOrder(db: Db, manager: { id: number; name?: string | null; ip?: string | null; userAgent?: string | null }, orderNumber: string): Promise<ConfirmOutcome> {
  const actor: Actor = { kind: 'manager', id: manager.id, name: manager.name ?? null, ip: manager.ip ?? null, userAgent: manager.userAgent ?? null };
  const o = (await sql<{ id: number; number: string; status: string; cancelled: boolean; approval: string | null; client_id: number; manager_id: number | null }>`
    SELECT o.id, o.number, o.status, o.cancelled, o.approval, o.client_id, c.manager_id
    FROM orders o JOIN clients c ON c.id = o.client_id WHERE o.number = ${orderNumber}`.execute(db)).rows[0];
  if (!o) throw new CabinetError(404, `Заказ ${orderNumber} не найден`);
  // Another manager's client: 403, the refusal audited (assertOwnClient).
  await assertOwnClient(db, actor as Actor & { kind: 'manager' }, Number(o.client_id), 'order.confirm');
  if (o.cancelled || o.status === 'cancelled') throw new CabinetError(409, `Заказ ${o.number} отменён: подтвердить его нельзя`);
  if (o.approval === 'waiting') throw new CabinetError(409, `Заказ ${o.number} ждёт согласования руководителя клиента: подтвердить его можно после согласования`);
  if (o.approval === 'rejected') throw new CabinetError(409, `Заказ ${o.number} отклонён руководителем клиента: подтвердить его нельзя`);
  if (!CONFIRMABLE.has(o.status)) return { orderId: Number(o.id), number: o.number, changed: false };
  return db.transaction().execute(async (trx) => {
    const r = await applyOrderChange(trx, { id: Number(o.id) }, { status: 'confirmed' }, `manager:${manager.id}`);
    await audit(trx, actor, { action: 'order.confirm', clientId: Number(o.client_id), details: { order: o.number, from: o.status } });
    return { orderId: Number(o.id), number: o.number, changed: r.changed.includes('status') };
  });
}
