// Placing an order from the portal: prices are resolved here from the store (the client's agreement
// or city), never taken from the request; amounts and the total are computed in PostgreSQL on
// numeric; reservations are recorded for the ERP and stock is left alone. The back office's rules hold
// here, so the pages and the portal API obey them alike: ordering on credit needs stage 2 rights and a
// credit line with room (checked under a lock per agreement, so two orders cannot both pass the limit),
// and a subordinate's order above the head's threshold waits for the head's approval.
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError, type Problem } from '../errors/index.ts';
import { resolvePricing } from '../portal/pricing.ts';
import { priceAtSql, tierValueSql } from '../portal/price-at.ts';
import { getOrder, type OrderView } from './read.ts';
import { countedUnitText } from './units.ts';
import { inTransaction } from './tx.ts';
import { CREDIT_PAYMENT_KIND, CreditBlockedError, creditStatus } from '../backoffice/credit.ts';
import { creditAlerts } from '../backoffice/credit-notices.ts';
import { assertCredit, contactActor, loadRights } from '../backoffice/rights.ts';
import { requestApproval } from '../backoffice/approvals.ts';
import type { Actor } from '../backoffice/audit.ts';

type Db = Kysely<Database>;

export interface PlaceOrderInput {
  clientId: number;
  contactId: number | null;
  cityId: number | null;
  /** Code of a legal entity of the client the order is for. */
  legalEntity: string;
  /** Quantities as exact decimal strings. */
  lines: Array<{ sku: string; quantity: string }>;
  comment?: string;
  /** Where to deliver (the cabinet's checkout: the legal entity's address or one typed in). */
  deliveryAddress?: string;
  /** How the buyer pays («Безналичный расчёт», «Оплата при получении» …). */
  paymentKind?: string;
  idempotencyKey?: string;
  apiKeyId?: number;
  /** A manager working as the client placed it (the cabinet's checkout while impersonating). */
  placedBy?: { managerId: number; impersonationId: number };
  /** Where the request's lines sit, for problem paths (`/body/lines`). */
  linesPath?: string;
  /** Who asks (for the audit of a refusal); by default the contact, or the client's API key. */
  actor?: Actor;
}

export interface PlacedOrder {
  order: OrderView;
  /** false: the idempotency key named an order placed before with the same request. */
  created: boolean;
}

/** The price of a line's product in the order's price type, in force as the order is placed. */
const ORDER_PRICE_AT = priceAtSql('r.pt', 'p.id', 'now()');

const QUANTITY = /^[0-9]{1,14}(\.[0-9]{1,6})?$/;

function requestHash(input: PlaceOrderInput): string {
  const parts: unknown[] = [input.legalEntity, input.contactId, input.comment ?? null, input.lines.map((l) => [l.sku, l.quantity])];
  // Only when given, so the digests of API orders placed before these fields existed stay the same.
  if (input.deliveryAddress !== undefined || input.paymentKind !== undefined) parts.push(input.deliveryAddress ?? null, input.paymentKind ?? null);
  const canonical = JSON.stringify(parts);
  return createHash('sha256').update(canonical).digest('hex');
}

interface PricedLine {
  line_no: number;
  sku: string;
  quantity: string;
  product_id: number | null;
  name: string | null;
  unit: string | null;
  counted: boolean;
  base_price: string | null;
  currency: string | null;
  price: string | null;
  amount: string | null;
}

export async function placeOrder(db: Db, input: PlaceOrderInput): Promise<PlacedOrder> {
  const at = input.linesPath ?? '/lines';
  const hash = requestHash(input);

  const replay = async (): Promise<PlacedOrder | undefined> => {
    if (input.idempotencyKey === undefined) return undefined;
    const prior = await db.selectFrom('orders').select(['number', 'request_hash'])
      .where('client_id', '=', input.clientId).where('idempotency_key', '=', input.idempotencyKey).executeTakeFirst();
    if (!prior) return undefined;
    if (prior.request_hash !== hash) {
      throw new MagistralError('MAG_ERR_CONFLICT', `Idempotency-Key '${input.idempotencyKey}' was used for a different order (${prior.number}); use a new key for a new order`);
    }
    const order = await getOrder(db, { clientId: input.clientId, contactId: null }, prior.number);
    return order && { order, created: false };
  };
  const prior = await replay();
  if (prior) return prior;

  const client = await db.selectFrom('clients').select(['id', 'blocked', 'pending']).where('id', '=', input.clientId).executeTakeFirst();
  if (!client) throw new MagistralError('MAG_ERR_NOT_FOUND', 'no such client');
  if (client.blocked) throw new MagistralError('MAG_ERR_FORBIDDEN', 'the client is blocked from placing orders; contact your manager');
  // Registered on the portal and not approved yet (migration 0021): it sees base prices, it does not order.
  if (client.pending) throw new MagistralError('MAG_ERR_FORBIDDEN', 'the client registered on the portal and awaits approval by a manager; it cannot place orders yet');
  // The legal entity must be the client's, and the contact's to order for: anything else looks absent.
  let le = db.selectFrom('legal_entities as le').select(['le.id']).where('le.code', '=', input.legalEntity)
    .where('le.client_id', '=', input.clientId).where('le.deleted', '=', false).where('le.placeholder', '=', false);
  if (input.contactId !== null) {
    le = le.innerJoin('contact_legal_entities as cl', (j) => j.onRef('cl.legal_entity_id', '=', 'le.id').on('cl.contact_id', '=', input.contactId as number));
  }
  const legalEntity = await le.orderBy('le.id').executeTakeFirst();
  if (!legalEntity) {
    throw new MagistralError('MAG_ERR_NOT_FOUND', `no legal entity '${input.legalEntity}' to order for`,
      [{ path: '/body/legalEntity', rule: 'legal-entity', message: `'${input.legalEntity}' is not a legal entity you may order for` }]);
  }

  const problems: Problem[] = [];
  input.lines.forEach((l, i) => {
    if (!QUANTITY.test(l.quantity) || !/[1-9]/.test(l.quantity)) {
      problems.push({ path: `${at}/${i}/quantity`, rule: 'quantity', message: `${JSON.stringify(l.quantity)} is not a positive decimal quantity (up to 14 integer and 6 fraction digits)` });
    }
  });
  if (problems.length) throw new MagistralError('MAG_ERR_BAD_REQUEST', `invalid order lines: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);

  // Ordering on credit is a stage 2 right (a head, or a contact whose authority a head confirmed).
  const onCredit = input.paymentKind === CREDIT_PAYMENT_KIND;
  const rights = await loadRights(db, { clientId: input.clientId, contactId: input.contactId });
  if (onCredit) await assertCredit(db, { clientId: input.clientId, contactId: input.contactId }, legalEntity.id, input.actor ?? contactActor({ clientId: input.clientId, contactId: input.contactId }), rights);

  const pricing = await resolvePricing(db, { clientId: input.clientId, legalEntityId: legalEntity.id, cityId: input.cityId });
  if (pricing.priceTypeId === null) {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', 'no prices apply to this client: it has no agreement with a price type and its city has no price type');
  }
  // One statement prices every line: product by code, the price in force now (validity periods
  // included, without waiting for the price roll), the quantity's tier, the discount and amounts on
  // numeric, rounded to kopecks like every listing.
  const priced = (await sql<PricedLine>`
    WITH req AS (SELECT r.*, ${pricing.priceTypeId}::int AS pt
      FROM unnest(${input.lines.map((l) => l.sku)}::text[], ${input.lines.map((l) => l.quantity)}::numeric[]) WITH ORDINALITY AS r(sku, qty, line_no))
    SELECT r.line_no::int, r.sku, r.qty::text AS quantity, p.id AS product_id, p.name, coalesce(x.unit, u.code) AS unit,
      ${sql.raw(countedUnitText('u'))} AS counted, e.base::text AS base_price, x.currency, e.price::text, round(e.price * r.qty, 2)::text AS amount
    FROM req r
    LEFT JOIN LATERAL (
      SELECT id, name, unit_id FROM products WHERE code = r.sku AND NOT deleted AND NOT placeholder ORDER BY id LIMIT 1
    ) p ON true
    LEFT JOIN units u ON u.id = p.unit_id
    LEFT JOIN LATERAL ${sql.raw(ORDER_PRICE_AT)} x ON x.value > 0
    LEFT JOIN LATERAL (SELECT t.base, round(t.base * (1 - ${pricing.discountPercent}::numeric / 100), 2) AS price
      FROM (SELECT ${sql.raw(tierValueSql('x', 'r.qty'))} AS base) t) e ON true
    ORDER BY r.line_no`.execute(db)).rows;

  for (const l of priced) {
    const path = `${at}/${l.line_no - 1}/sku`;
    if (l.product_id === null) problems.push({ path, rule: 'unknown-sku', message: `no product with SKU '${l.sku}'` });
    else if (l.price === null) problems.push({ path, rule: 'no-price', message: `SKU '${l.sku}' has no price for you: it is not on sale` });
    else if (l.counted && !/^[0-9]+(\.0*)?$/.test(l.quantity)) {
      problems.push({ path: `${at}/${l.line_no - 1}/quantity`, rule: 'whole-pieces', message: `SKU '${l.sku}' is sold in whole pieces (unit '${l.unit}'): ${l.quantity} is not a whole number` });
    }
  }
  const currencies = new Set(priced.map((l) => l.currency).filter((c): c is string => c !== null));
  const currency = pricing.currency ?? [...currencies][0] ?? null;
  if (!problems.length && (currencies.size > 1 || (currency !== null && currencies.size === 1 && !currencies.has(currency)))) {
    problems.push({ path: at, rule: 'currency', message: `the lines are priced in ${[...currencies].join(', ')}; one order takes one currency` });
  }
  if (problems.length || currency === null) {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', `the order cannot be placed: ${problems.map((p) => p.message).join('; ')}`, problems);
  }

  try {
    const number = await inTransaction(db, async (trx) => {
      if (onCredit) {
        // One credit decision per agreement at a time: a second order waits here for the first to
        // commit, then counts it among the open orders.
        const total = (await sql<{ t: string }>`SELECT coalesce(sum(a), 0)::text AS t FROM unnest(${priced.map((l) => l.amount as string)}::numeric[]) a`.execute(trx)).rows[0]!.t;
        if (pricing.agreementId !== null) await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`credit:${pricing.agreementId}`}, 0))`.execute(trx);
        const st = await creditStatus(trx, { clientId: input.clientId, legalEntityId: legalEntity.id, agreementId: pricing.agreementId, orderTotal: total });
        if (st.blocked) throw new CreditBlockedError(st);
      }
      const order = await trx.insertInto('orders').values({
        number: sql<string>`'M-' || lpad(nextval('order_number_seq')::text, 6, '0')`,
        client_id: input.clientId, legal_entity_id: legalEntity.id, contact_id: input.contactId, agreement_id: pricing.agreementId,
        city_id: input.cityId, price_type_id: pricing.priceTypeId, currency, total: sql<string>`0`, comment: input.comment ?? null,
        delivery_address: input.deliveryAddress ?? null, payment_kind: input.paymentKind ?? null,
        idempotency_key: input.idempotencyKey ?? null, request_hash: hash, api_key_id: input.apiKeyId ?? null,
        placed_by_manager_id: input.placedBy?.managerId ?? null, impersonation_id: input.placedBy?.impersonationId ?? null,
      }).returning(['id', 'number']).executeTakeFirstOrThrow();
      await trx.insertInto('order_lines').values(priced.map((l) => ({
        order_id: order.id, line_no: l.line_no, product_id: l.product_id as number, sku: l.sku, name: l.name as string,
        quantity: l.quantity, unit: l.unit, price: l.price as string, base_price: l.base_price, discount_percent: pricing.discountPercent,
        amount: l.amount as string,
      }))).execute();
      await sql`UPDATE orders SET total = (SELECT sum(amount) FROM order_lines WHERE order_id = ${order.id}) WHERE id = ${order.id}`.execute(trx);
      // A subordinate's order above the head's threshold waits for the head (not sent to the ERP meanwhile).
      const threshold = rights.entities.find((e) => e.legalEntityId === legalEntity.id)?.approvalAbove ?? null;
      if (threshold !== null && input.contactId !== null) await requestApproval(trx, order.id, threshold);
      // The warehouse of the order's city holding the most of the product; none when nothing is there.
      await sql`
        INSERT INTO reservations (order_id, line_no, product_id, warehouse_id, quantity)
        SELECT l.order_id, l.line_no, l.product_id, (
          SELECT s.warehouse_id FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
          WHERE s.product_id = l.product_id AND w.city_id = ${input.cityId} AND s.quantity > 0
          ORDER BY s.quantity DESC, s.warehouse_id LIMIT 1), l.quantity
        FROM order_lines l WHERE l.order_id = ${order.id}`.execute(trx);
      await trx.insertInto('order_events').values({
        order_id: order.id, source: 'portal', change: JSON.stringify({ placed: { lines: priced.length, priceType: pricing.priceTypeId, source: pricing.source, ...(input.placedBy ? { byManager: input.placedBy.managerId } : {}) } }),
      }).execute();
      // A limit crossed by this order is notified in its transaction (once per crossing).
      if (onCredit && pricing.agreementId !== null) await creditAlerts(trx, [pricing.agreementId]);
      return order.number;
    });
    const order = await getOrder(db, { clientId: input.clientId, contactId: null }, number);
    if (!order) throw new Error(`order ${number} vanished after it was placed`);
    return { order, created: true };
  } catch (e) {
    // Two retries with one Idempotency-Key raced: the loser answers the winner's order.
    if ((e as { code?: string }).code === '23505' && input.idempotencyKey !== undefined) {
      const again = await replay();
      if (again) return again;
    }
    throw e;
  }
}
