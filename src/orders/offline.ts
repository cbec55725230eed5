// Orders made outside the portal (by phone, by a manager in the ERP) that an ERP reports through its
// exchange: created here as offline orders so the buyer sees them in the cabinet with the portal's own.
// The buyer is resolved by the system's external id, then our code, then INN (+KPP); products by the
// system's id, our code, then article (SAP pads its numbers with zeros: the id without them counts too). Prices and sums are the ERP's: the order was priced there.
import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/index.ts';
import type { OfflineOrderDraft } from '../port/orders.ts';
import { applyOrderChange, type OrderChange } from './index.ts';

type Trx = Transaction<Database>;

export type OfflineOutcome = { created: true; id: number; number: string; warnings: string[] } | { created: false; reason: string };

const DECIMAL = /^-?[0-9]{1,14}(\.[0-9]{1,6})?$/;

/** CommerceML writes the currency as an ISO code, its number (643) or a short name (руб): ours is the ISO code. */
function currencyCode(v: string | null): string {
  const t = (v ?? '').trim().toLowerCase().replace(/\.$/, '');
  if (t === '' || t === '643' || t === 'руб' || t === 'rub' || t === 'рубль') return 'RUB';
  return /^[a-z]{3}$/.test(t) ? t.toUpperCase() : 'RUB';
}

/** Our offline order for the ERP's number, if one was created before (a second file about the same order). */
export async function findOfflineOrder(trx: Trx, draft: OfflineOrderDraft): Promise<{ id: number; inSync: boolean } | undefined> {
  const r = await sql<{ id: string; in_sync: boolean }>`
    SELECT id::text, (exported_at IS NOT NULL AND exported_at >= updated_at) AS in_sync FROM orders
    WHERE origin = 'offline' AND erp_number = ${draft.erpNumber} ORDER BY id DESC LIMIT 1 FOR UPDATE`.execute(trx);
  return r.rows[0] ? { id: Number(r.rows[0].id), inSync: r.rows[0].in_sync } : undefined;
}

async function resolveBuyer(trx: Trx, d: OfflineOrderDraft): Promise<{ le_id: number; client_id: number } | undefined> {
  const b = d.buyer;
  const r = await sql<{ le_id: string; client_id: string }>`
    SELECT le.id::text AS le_id, le.client_id::text FROM legal_entities le
    WHERE NOT le.deleted AND NOT le.placeholder AND le.client_id IS NOT NULL AND (
      (${b.externalId}::text IS NOT NULL AND (
        le.id IN (SELECT x.internal_id FROM external_ids x WHERE x.entity = 'legalEntity' AND x.system = ${d.system}
                  AND x.external_id IN (${b.externalId}, ltrim(${b.externalId}, '0')))
        OR le.code = ${b.externalId}))
      OR (${b.inn}::text IS NOT NULL AND le.inn = ${b.inn} AND (${b.kpp}::text IS NULL OR le.kpp IS NULL OR le.kpp = ${b.kpp})))
    ORDER BY
      (le.id IN (SELECT x.internal_id FROM external_ids x WHERE x.entity = 'legalEntity' AND x.system = ${d.system} AND x.external_id = ${b.externalId ?? ''})) DESC,
      (le.code = ${b.externalId ?? ''}) DESC, (le.kpp IS NOT DISTINCT FROM ${b.kpp}) DESC, le.id
    LIMIT 1`.execute(trx);
  const x = r.rows[0];
  return x ? { le_id: Number(x.le_id), client_id: Number(x.client_id) } : undefined;
}

interface ResolvedLine {
  i: number;
  product_id: string | null;
  sku: string | null;
  unit: string | null;
}

/**
 * Creates the offline order of a draft with the change applied on top (status, payment, shipment: each an
 * order_events row like any change from the ERP). A buyer the portal does not know, or no product it
 * knows, creates nothing and says why; a line with an unknown product (a delivery service) is left out
 * with a warning.
 */
export async function createOfflineOrder(trx: Trx, draft: OfflineOrderDraft, change: OrderChange, source: string): Promise<OfflineOutcome> {
  const buyer = await resolveBuyer(trx, draft);
  const who = [draft.buyer.externalId && `id ${draft.buyer.externalId}`, draft.buyer.inn && `INN ${draft.buyer.inn}`].filter(Boolean).join(', ');
  if (!buyer) return { created: false, reason: `buyer ${draft.buyer.name ?? ''} (${who}) is not a legal entity of the portal`.replace('  ', ' ') };

  const lines = draft.lines;
  const bad = lines.findIndex((l) => !DECIMAL.test(l.quantity) || !DECIMAL.test(l.price) || !DECIMAL.test(l.amount) || Number(l.quantity) <= 0);
  if (bad >= 0) return { created: false, reason: `line ${bad + 1} has no valid quantity, price and sum` };
  const resolved = (await sql<ResolvedLine>`
    SELECT r.i::int, p.id::text AS product_id, p.code AS sku, u.code AS unit
    FROM unnest(${sql.val(lines.map((_, i) => i))}::int[], ${sql.val(lines.map((l) => l.externalId))}::text[], ${sql.val(lines.map((l) => l.article))}::text[]) AS r(i, ext, article)
    LEFT JOIN LATERAL (
      SELECT p.id, p.code, p.unit_id FROM products p WHERE NOT p.placeholder AND (
        p.id IN (SELECT x.internal_id FROM external_ids x WHERE x.entity = 'product' AND x.system = ${draft.system}
                 AND x.external_id IN (r.ext, split_part(r.ext, '#', 1), ltrim(r.ext, '0')))
        OR p.code = r.ext OR (r.article IS NOT NULL AND p.article = r.article))
      ORDER BY (p.id IN (SELECT x.internal_id FROM external_ids x WHERE x.entity = 'product' AND x.system = ${draft.system} AND x.external_id = r.ext)) DESC,
        (p.code = r.ext) DESC, p.deleted, p.id
      LIMIT 1) p ON true
    LEFT JOIN units u ON u.id = p.unit_id
    ORDER BY r.i`.execute(trx)).rows;
  const warnings: string[] = [];
  const kept = resolved.filter((r) => {
    if (r.product_id !== null) return true;
    const l = lines[r.i]!;
    warnings.push(`${draft.label}: line ${r.i + 1} '${l.name}' (${l.externalId ?? l.article ?? '?'}) is not a product of the portal; left out of the offline order`);
    return false;
  });
  if (!kept.length) return { created: false, reason: 'none of its products is known to the portal' };

  const lineTotal = kept.reduce((n, r) => n + Math.round(Number(lines[r.i]!.amount) * 100), 0);
  const contact = draft.contactExternalId === null ? undefined : (await sql<{ id: string }>`
    SELECT c.id::text FROM contacts c WHERE c.client_id = ${buyer.client_id} AND NOT c.deleted AND (c.code = ${draft.contactExternalId}
      OR c.id IN (SELECT x.internal_id FROM external_ids x WHERE x.entity = 'contact' AND x.system = ${draft.system} AND x.external_id = ${draft.contactExternalId}))
    ORDER BY c.id LIMIT 1`.execute(trx)).rows[0];
  const order = await trx.insertInto('orders').values({
    number: sql<string>`'M-' || lpad(nextval('order_number_seq')::text, 6, '0')`,
    client_id: buyer.client_id, legal_entity_id: buyer.le_id, contact_id: contact ? Number(contact.id) : null,
    currency: currencyCode(draft.currency),
    // The ERP's sum of the document when it gives one (it may include a delivery line left out above).
    total: draft.total !== null && DECIMAL.test(draft.total) ? draft.total : (lineTotal / 100).toFixed(2),
    comment: draft.comment, origin: 'offline', erp_number: draft.erpNumber, erp_date: draft.erpDate,
  }).returning(['id', 'number']).executeTakeFirstOrThrow();
  await trx.insertInto('order_lines').values(kept.map((r, n) => {
    const l = lines[r.i]!;
    return { order_id: order.id, line_no: n + 1, product_id: Number(r.product_id), sku: r.sku as string, name: l.name || (r.sku as string), quantity: l.quantity, unit: l.unit ?? r.unit, price: l.price, amount: l.amount };
  })).execute();
  await trx.insertInto('order_events').values({
    order_id: order.id, source, change: JSON.stringify({ offline: { system: draft.system, erpNumber: draft.erpNumber, lines: kept.length, leftOut: lines.length - kept.length } }),
  }).execute();
  const { erpNumber: _n, erpDate: _d, ...rest } = change;
  await applyOrderChange(trx, { id: Number(order.id) }, rest, source);
  return { created: true, id: Number(order.id), number: order.number, warnings };
}

/** Keeps the documents the ERP names for an order (portal and offline orders alike), once each by kind and number. */
export async function recordOrderDocuments(trx: Trx, orderId: number, docs: ReadonlyArray<{ kind: string; number: string; date: Date | null; amount: string | null }>, source: string | null = null): Promise<void> {
  for (const d of docs) {
    await sql`
      INSERT INTO order_documents (order_id, kind, number, date, amount, source)
      SELECT ${orderId}, ${d.kind}, ${d.number}, ${d.date}::timestamptz::date, ${d.amount}::numeric, ${source}
      WHERE NOT EXISTS (SELECT 1 FROM order_documents WHERE order_id = ${orderId} AND kind = ${d.kind} AND number = ${d.number})`.execute(trx);
  }
}
