// Checkout: the current cart becomes an order through the orders module (which prices it again in
// SQL; nothing from the form is a price) and the cart is emptied in the same transaction. The form
// carries an idempotency key, so a double submit (two clicks, a reload after a lost answer) makes one order.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { isMagistralError } from '../errors/index.ts';
import { placeOrder } from '../orders/place.ts';
import { getOrder, type OrderView } from '../orders/read.ts';
import { assertShopper, cartView, type Shopper } from './cart.ts';
import { ShopError, type FieldProblem } from './errors.ts';
import { lineProblem } from './priced-lines.ts';
import { CREDIT_PAYMENT_KIND } from '../backoffice/credit.ts';
import { assertCredit, contactActor, russianOf } from '../backoffice/rights.ts';
import type { Actor } from '../backoffice/audit.ts';

type Db = Kysely<Database>;

/**
 * The payment kinds the checkout offers; the chosen text is kept on the order and sent to the ERP.
 * «Отсрочка платежа» orders on credit: stage 2 rights and room in the credit line (src/backoffice/credit.ts).
 */
export const PAYMENT_KINDS = ['Безналичный расчёт', 'Оплата при получении', CREDIT_PAYMENT_KIND] as const;

export interface CheckoutInput {
  /** 'entity': the legal entity's address; 'other': `address` as typed. */
  delivery: 'entity' | 'other' | string;
  address?: string;
  paymentKind: string;
  comment?: string;
  /** From the checkout form (one per rendered form). */
  idempotencyKey: string;
}

export interface CheckoutResult {
  order: OrderView;
  /** false: the key named an order this form placed before (a double submit). */
  created: boolean;
}

const KEY = /^[A-Za-z0-9_-]{8,64}$/;

/** Why the shopper's client may not order, in words for the buyer, or null. */
export async function orderingRefusal(db: Db, clientId: number): Promise<string | null> {
  const c = await db.selectFrom('clients').select(['blocked', 'pending']).where('id', '=', clientId).executeTakeFirst();
  if (!c) return 'Компания не найдена';
  if (c.pending) return 'Ваша компания ещё не подтверждена менеджером: заказы можно будет оформлять после подтверждения';
  if (c.blocked) return 'Оформление заказов для вашей компании приостановлено — свяжитесь с вашим менеджером';
  return null;
}

export async function checkout(db: Db, who: Shopper, input: CheckoutInput, actor?: Actor): Promise<CheckoutResult> {
  await assertShopper(db, who);
  const refusal = await orderingRefusal(db, who.clientId);
  if (refusal) throw new ShopError(403, refusal);
  if (!KEY.test(input.idempotencyKey ?? '')) throw new ShopError(400, 'Форма оформления устарела — откройте корзину заново');

  const problems: FieldProblem[] = [];
  const paymentKind = String(input.paymentKind ?? '').trim();
  if (!(PAYMENT_KINDS as readonly string[]).includes(paymentKind)) problems.push({ field: 'paymentKind', message: 'Выберите способ оплаты' });
  const comment = String(input.comment ?? '').trim();
  if (comment.length > 2000) problems.push({ field: 'comment', message: 'Комментарий длиннее 2000 символов' });
  const le = await db.selectFrom('legal_entities').select(['code', 'address']).where('id', '=', who.legalEntityId).executeTakeFirstOrThrow();
  let address: string;
  if (input.delivery === 'other') {
    address = String(input.address ?? '').trim();
    if (address.length < 5) problems.push({ field: 'address', message: 'Укажите адрес доставки' });
    else if (address.length > 500) problems.push({ field: 'address', message: 'Адрес длиннее 500 символов' });
  } else {
    address = le.address?.trim() ?? '';
    if (!address) problems.push({ field: 'address', message: 'У юрлица не указан адрес — введите адрес доставки' });
  }
  if (problems.length) throw new ShopError(400, problems.map((p) => p.message).join('; '), problems);
  // Credit without stage 2 rights: refused (and audited) here, outside the order's transaction, so the
  // audit entry stays when the transaction rolls back.
  if (paymentKind === CREDIT_PAYMENT_KIND) {
    try {
      await assertCredit(db, { clientId: who.clientId, contactId: who.contactId }, who.legalEntityId, actor ?? contactActor({ clientId: who.clientId, contactId: who.contactId }));
    } catch (e) {
      const ru = russianOf(e);
      if (ru) throw new ShopError(403, ru, [{ field: 'paymentKind', message: ru }]);
      throw e;
    }
  }

  return db.transaction().execute(async (trx) => {
    // The cart's rows locked first: a second submit of the same form waits here, then finds the order.
    const cart = (await sql<{ product_id: string }>`SELECT product_id::text FROM cart_lines
      WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId} ORDER BY product_id FOR UPDATE`.execute(trx)).rows;
    const prior = await sql<{ number: string }>`SELECT number FROM orders WHERE client_id = ${who.clientId} AND idempotency_key = ${input.idempotencyKey}`.execute(trx);
    if (prior.rows[0]) {
      const order = await getOrder(trx, { clientId: who.clientId, contactId: who.contactId }, prior.rows[0].number);
      if (order) return { order, created: false };
    }
    if (!cart.length) throw new ShopError(400, 'Корзина пуста');
    const view = await cartView(trx, who);
    const bad = view.lines.filter((l) => l.state !== 'ok');
    if (bad.length) {
      throw new ShopError(400, 'Заказ нельзя оформить, пока в корзине есть строки с ошибками',
        bad.map((l) => ({ field: `product:${l.productId}`, message: `${l.sku} ${l.name}: ${lineProblem(l)}` })));
    }
    try {
      const placed = await placeOrder(trx, {
        clientId: who.clientId, contactId: who.contactId, cityId: who.cityId, legalEntity: le.code,
        lines: view.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
        ...(comment ? { comment } : {}), deliveryAddress: address, paymentKind, idempotencyKey: input.idempotencyKey,
        ...(who.impersonation ? { placedBy: who.impersonation } : {}),
      });
      await sql`DELETE FROM cart_lines WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId}`.execute(trx);
      return placed;
    } catch (e) {
      // The back office's refusals (credit blocked, no stage 2 rights) carry the buyer's words.
      const ru = russianOf(e);
      if (ru) throw new ShopError(403, ru, [{ field: 'paymentKind', message: ru }]);
      // The cart was checked line by line above; what remains is a change between the check and the order.
      if (isMagistralError(e)) throw new ShopError(e.statusCode === 404 ? 404 : 400, 'Заказ не оформлен: цены или товары только что изменились — проверьте корзину и повторите');
      throw e;
    }
  });
}
