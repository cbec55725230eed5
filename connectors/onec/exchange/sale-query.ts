// The orders 1C asks for with `type=sale&mode=query`: new and changed orders (never exported, or changed
// since), read with their lines, legal entity and contact, turned into CommerceML documents. Which
// version of each order was sent is remembered per session, so `mode=success` marks exactly those.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../src/db/index.ts';
import type { CmlCounterparty, CmlOrderDocument, CmlOrderLine, CmlUnit } from '../commerceml/order-writer.ts';
import { toLocal } from './sale-time.ts';
import type { SaleSettings } from './sale-options.ts';

type Db = Kysely<Database>;

interface OrderRow {
  id: number;
  number: string;
  created_at: Date;
  currency: string;
  total: string;
  comment: string | null;
  status: string;
  status_name: string;
  status_final: boolean;
  status_at: Date;
  erp_number: string | null;
  erp_date: Date | null;
  paid: boolean;
  paid_at: Date | null;
  shipped: boolean;
  shipped_at: Date | null;
  cancelled: boolean;
  le_xml_id: string;
  le_name: string;
  le_full_name: string | null;
  inn: string | null;
  kpp: string | null;
  address: string | null;
  bank_name: string | null;
  bik: string | null;
  account: string | null;
  corr_account: string | null;
  client_email: string | null;
  client_phone: string | null;
  contact_xml_id: string | null;
  contact_name: string | null;
  contact_email: string | null;
  contact_phone: string | null;
}

interface LineRow {
  order_id: number;
  line_no: number;
  xml_id: string;
  name: string;
  quantity: string;
  price: string;
  amount: string;
  line_unit: string | null;
  unit_code: string | null;
  unit_name: string | null;
  unit_okei: string | null;
}

/**
 * Picks the pending orders (oldest change first, at most `limit`) and records in the session which
 * version (updated_at, to the microsecond) of each is about to be sent — in the same statement, so the
 * pick and the record see one snapshot. The documents are read afterwards and are never older than the
 * recorded version: an order changed in between is at worst sent again, never marked exported with a
 * change 1C did not see.
 */
export async function recordPendingOrders(db: Db, sessionId: string, limit: number): Promise<number[]> {
  const r = await sql<{ id: number }>`
    WITH pending AS (
      SELECT id, updated_at FROM orders
      WHERE exported_at IS NULL OR updated_at > exported_at
      ORDER BY updated_at, id
      LIMIT ${limit}
    ), remember AS (  -- a data-modifying CTE runs whether or not it is read
      UPDATE onec_sessions
      SET data = data || jsonb_build_object('saleSent',
        coalesce((SELECT jsonb_agg(jsonb_build_array(id, updated_at) ORDER BY updated_at, id) FROM pending), '[]'::jsonb))
      WHERE id = ${sessionId}
    )
    SELECT id FROM pending ORDER BY updated_at, id`.execute(db);
  return r.rows.map((x) => Number(x.id));
}

/**
 * `mode=success`: the orders the session's last query sent become exported at the version that was
 * sent, so an order changed after the query stays pending. Answers how many orders were marked; the
 * session forgets what it sent (a second `success` marks nothing).
 */
export async function markSentOrdersExported(db: Db, sessionId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const r = await sql`
      UPDATE orders o SET exported_at = (s.v ->> 1)::timestamptz
      FROM onec_sessions ses, jsonb_array_elements(coalesce(ses.data -> 'saleSent', '[]'::jsonb)) AS s(v)
      WHERE ses.id = ${sessionId} AND o.id = (s.v ->> 0)::bigint
        AND (o.exported_at IS NULL OR o.exported_at < (s.v ->> 1)::timestamptz)`.execute(trx);
    await sql`UPDATE onec_sessions SET data = data - 'saleSent' WHERE id = ${sessionId}`.execute(trx);
    return Number(r.numAffectedRows ?? 0);
  });
}

/** Reads the orders as CommerceML documents, in the order of the ids given. */
export async function loadOrderDocuments(db: Db, ids: readonly number[], settings: SaleSettings): Promise<CmlOrderDocument[]> {
  if (!ids.length) return [];
  const system = settings.system;
  const orders = (await sql<OrderRow>`
    SELECT o.id, o.number, o.created_at, o.currency, o.total::text AS total, o.comment, o.status,
      st.name AS status_name, st.final AS status_final,
      coalesce((SELECT max(ev.at) FROM order_events ev WHERE ev.order_id = o.id AND ev.change ? 'status'), o.created_at) AS status_at,
      o.erp_number, o.erp_date, o.paid, o.paid_at, o.shipped, o.shipped_at, o.cancelled,
      coalesce((SELECT min(x.external_id) FROM external_ids x
                WHERE x.entity = 'legalEntity' AND x.system = ${system} AND x.internal_id = le.id), le.code) AS le_xml_id,
      le.name AS le_name, le.full_name AS le_full_name, le.inn, le.kpp, le.address, le.bank_name, le.bik, le.account, le.corr_account,
      cl.email AS client_email, cl.phone AS client_phone,
      coalesce((SELECT min(x.external_id) FROM external_ids x
                WHERE x.entity = 'contact' AND x.system = ${system} AND x.internal_id = ct.id), ct.code) AS contact_xml_id,
      ct.name AS contact_name, ct.email AS contact_email, ct.phone AS contact_phone
    FROM orders o
    JOIN order_statuses st ON st.code = o.status
    JOIN legal_entities le ON le.id = o.legal_entity_id
    LEFT JOIN clients cl ON cl.id = o.client_id
    LEFT JOIN contacts ct ON ct.id = o.contact_id
    WHERE o.id = ANY(${sql.val([...ids])}::bigint[])`.execute(db)).rows;

  // A product's 1C id for the flow's system; an offer id with a characteristic (`guid#char`) only when
  // the product has no plain one; the product code when 1C never sent an id for it.
  const lines = (await sql<LineRow>`
    SELECT l.order_id, l.line_no, coalesce(x.external_id, p.code, l.sku) AS xml_id, l.name,
      l.quantity::text AS quantity, l.price::text AS price, l.amount::text AS amount, l.unit AS line_unit,
      u.code AS unit_code, u.name AS unit_name, u.okei AS unit_okei
    FROM order_lines l
    LEFT JOIN products p ON p.id = l.product_id
    LEFT JOIN units u ON u.id = p.unit_id
    LEFT JOIN LATERAL (
      SELECT e.external_id FROM external_ids e
      WHERE e.entity = 'product' AND e.system = ${system} AND e.internal_id = l.product_id
      ORDER BY (strpos(e.external_id, '#') > 0), e.created_at, e.external_id
      LIMIT 1) x ON true
    WHERE l.order_id = ANY(${sql.val([...ids])}::bigint[])
    ORDER BY l.order_id, l.line_no`.execute(db)).rows;

  const linesByOrder = new Map<number, LineRow[]>();
  for (const l of lines) {
    const list = linesByOrder.get(Number(l.order_id)) ?? [];
    list.push(l);
    linesByOrder.set(Number(l.order_id), list);
  }
  const byId = new Map(orders.map((o) => [Number(o.id), o]));
  return ids.flatMap((id) => {
    const o = byId.get(id);
    return o ? [toDocument(o, linesByOrder.get(id) ?? [], settings)] : [];
  });
}

const OKEI = /^[0-9]{3,4}$/;

/** The line's unit: OKEI code, full and short names; a piece (796) when the catalog does not say. */
function unitOf(l: LineRow): CmlUnit {
  const code = l.unit_okei ?? (l.unit_code && OKEI.test(l.unit_code) ? l.unit_code : null);
  const short = l.line_unit ?? (l.unit_code && !OKEI.test(l.unit_code) ? l.unit_code : null);
  if (!code && !short && !l.unit_name) return { code: '796', fullName: 'Штука', shortName: 'шт', intl: 'PCE' };
  const c = code ?? '796';
  return { code: c, fullName: l.unit_name ?? short ?? 'Штука', shortName: short ?? l.unit_name ?? 'шт', ...(c === '796' ? { intl: 'PCE' } : {}) };
}

function isCompany(inn: string | null, kpp: string | null): boolean {
  return !!kpp || (!!inn && /^[0-9]{10}$/.test(inn));
}

function toDocument(o: OrderRow, lines: LineRow[], s: SaleSettings): CmlOrderDocument {
  const local = (d: Date): { date: string; time: string } => toLocal(d, s.timeZone);
  const stamp = (d: Date): string => {
    const l = local(d);
    return `${l.date} ${l.time}`;
  };
  const created = local(o.created_at);
  const counterparty: CmlCounterparty = {
    id: o.le_xml_id,
    name: o.le_name,
    fullName: o.le_full_name ?? o.le_name,
    company: isCompany(o.inn, o.kpp),
    inn: o.inn,
    kpp: o.kpp,
    address: o.address ? { text: o.address } : null,
    bank: o.account ? { account: o.account, bankName: o.bank_name, bik: o.bik, corrAccount: o.corr_account } : null,
    phone: o.contact_phone ?? o.client_phone,
    email: o.contact_email ?? o.client_email,
    representative: o.contact_name ? { id: o.contact_xml_id ?? '', name: o.contact_name } : null,
  };
  const docLines: CmlOrderLine[] = lines.map((l) => ({
    id: l.xml_id,
    ...(s.catalogId ? { catalogId: s.catalogId } : {}),
    name: l.name,
    unit: unitOf(l),
    price: l.price,
    quantity: l.quantity,
    amount: l.amount,
    kind: 'Товар',
  }));
  // The requisites 1C-Bitrix sends, in its order (samples 06 and 08).
  const req: Array<[string, string]> = [];
  if (o.paid && o.paid_at) req.push(['Дата оплаты', stamp(o.paid_at)]);
  if (s.paymentMethod) req.push(['Метод оплаты', s.paymentMethod]);
  if (o.shipped && o.shipped_at) req.push(['Дата разрешения доставки', stamp(o.shipped_at)]);
  req.push(['Заказ оплачен', String(o.paid)]);
  req.push(['Доставка разрешена', String(o.shipped)]);
  req.push(['Отменен', String(o.cancelled)]);
  req.push(['Финальный статус', String(o.status_final)]);
  req.push(['Статус заказа', `[${o.status}] ${o.status_name}`]);
  req.push(['Статуса заказа ИД', o.status]);
  req.push(['Дата изменения статуса', stamp(o.status_at)]);
  if (o.erp_number) req.push(['Номер по 1С', o.erp_number]);
  if (o.erp_date) req.push(['Дата по 1С', stamp(o.erp_date)]);
  if (o.comment) req.push(['Комментарии покупателя', o.comment]);
  req.push(['Сайт', s.site]);
  return {
    id: o.number,
    number: o.number,
    date: created.date,
    time: created.time,
    currency: s.currencyNames[o.currency.trim()] ?? o.currency.trim(),
    rate: '1',
    total: o.total,
    comment: o.comment,
    counterparty,
    lines: docLines,
    requisites: req,
  };
}
