// Reading orders for the portal: one order with its lines, or a client's orders page by page.
// What a viewer sees: every order of its client, or for a contact heading the holding (a head of any
// of its legal entities) the same, for a subordinate its own orders only.
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';

type Db = Kysely<Database>;

export interface OrderViewer {
  clientId: number;
  contactId: number | null;
}

export interface OrderLineView {
  lineNo: number;
  sku: string;
  name: string;
  quantity: string;
  unit: string | null;
  price: string;
  basePrice: string | null;
  discountPercent: string | null;
  amount: string;
}

export interface OrderSummary {
  number: string;
  status: { code: string; name: string; final: boolean };
  legalEntity: { code: string; name: string; inn: string | null };
  contact: string | null;
  /** The contact's name, for pages. */
  contactName: string | null;
  /** 'portal': placed here; 'offline': made in the ERP and learnt from its exchange. */
  origin: 'portal' | 'offline';
  deliveryAddress: string | null;
  paymentKind: string | null;
  /** The name of the manager who placed it working as the client (the cabinet says so); null otherwise. */
  placedByManager: string | null;
  currency: string;
  total: string;
  comment: string | null;
  erpNumber: string | null;
  erpDate: string | null;
  paid: boolean;
  paidAt: string | null;
  shipped: boolean;
  shippedAt: string | null;
  cancelled: boolean;
  /** A head's approval of a subordinate's order: null none needed; 'waiting' holds it from the ERP. */
  approval: 'waiting' | 'approved' | 'rejected' | null;
  approvalComment: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface OrderView extends OrderSummary {
  agreement: string | null;
  priceType: string | null;
  city: string | null;
  lines: OrderLineView[];
}

export interface OrderListQuery {
  status?: string;
  legalEntity?: string;
  /** Placed (or, offline, made in the ERP) on or after this day, `YYYY-MM-DD` (UTC). */
  from?: string;
  /** … on or before this day. */
  to?: string;
  /** Part of the portal number or of the ERP's number. */
  number?: string;
  origin?: 'portal' | 'offline';
  limit: number;
  cursor?: string;
}

export interface OrderListPage {
  orders: OrderSummary[];
  nextCursor: string | null;
}

/** Orders the viewer may see (always within its client). */
function visibleTo(eb: ExpressionBuilder<Database & { o: Database['orders'] }, 'o'>, v: OrderViewer): Expression<SqlBool> {
  const ofClient = eb('o.client_id', '=', v.clientId);
  if (v.contactId === null) return ofClient;
  // A head of any legal entity of the client heads the holding: every order of its legal entities
  // (src/backoffice/rights.ts says the same); a subordinate sees the orders it placed.
  return eb.and([ofClient, eb.or([
    eb('o.contact_id', '=', v.contactId),
    eb.exists(eb.selectFrom('contact_legal_entities as h').innerJoin('legal_entities as hl', 'hl.id', 'h.legal_entity_id').select(sql<number>`1`.as('one'))
      .where('h.contact_id', '=', v.contactId).where('h.role', '=', 'head').where('hl.client_id', '=', v.clientId)),
  ])]);
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
/** numeric text without trailing fraction zeros beyond `min` decimals: `2.500000` → `2.5`, `3.000000` → `3`. */
const trimmed = (col: string, min = 0) =>
  sql<string>`CASE WHEN scale(trim_scale(${sql.ref(col)})) < ${min} THEN round(${sql.ref(col)}, ${min}) ELSE trim_scale(${sql.ref(col)}) END::text`;

function summaryQuery(db: Db) {
  return db.selectFrom('orders as o')
    .innerJoin('order_statuses as st', 'st.code', 'o.status')
    .innerJoin('legal_entities as le', 'le.id', 'o.legal_entity_id')
    .leftJoin('contacts as ct', 'ct.id', 'o.contact_id')
    .leftJoin('managers as pm', 'pm.id', 'o.placed_by_manager_id')
    .select([
      'pm.name as placed_by_manager',
      'o.approval', 'o.approval_comment',
      'o.id', 'o.number', 'o.status', 'st.name as status_name', 'st.final as status_final', 'le.code as le_code', 'le.name as le_name',
      'le.inn as le_inn', 'ct.code as contact_code', 'ct.name as contact_name', 'o.origin', 'o.delivery_address', 'o.payment_kind', 'o.currency', sql<string>`o.total::text`.as('total'), 'o.comment', 'o.erp_number',
      'o.erp_date', 'o.paid', 'o.paid_at', 'o.shipped', 'o.shipped_at', 'o.cancelled', 'o.created_at', 'o.updated_at',
    ]);
}

type SummaryRow = Awaited<ReturnType<ReturnType<typeof summaryQuery>['executeTakeFirstOrThrow']>>;

function toSummary(r: SummaryRow): OrderSummary {
  return {
    number: r.number,
    status: { code: r.status, name: r.status_name, final: r.status_final },
    legalEntity: { code: r.le_code, name: r.le_name, inn: r.le_inn },
    contact: r.contact_code,
    contactName: r.contact_name,
    origin: r.origin,
    deliveryAddress: r.delivery_address,
    paymentKind: r.payment_kind,
    placedByManager: r.placed_by_manager,
    currency: r.currency,
    total: r.total,
    comment: r.comment,
    erpNumber: r.erp_number,
    erpDate: iso(r.erp_date),
    paid: r.paid,
    paidAt: iso(r.paid_at),
    shipped: r.shipped,
    shippedAt: iso(r.shipped_at),
    cancelled: r.cancelled,
    approval: r.approval,
    approvalComment: r.approval_comment,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** One order by its portal number, or undefined when it does not exist or is not the viewer's. */
export async function getOrder(db: Db, viewer: OrderViewer, number: string): Promise<OrderView | undefined> {
  const r = await summaryQuery(db)
    .leftJoin('agreements as ag', 'ag.id', 'o.agreement_id')
    .leftJoin('price_types as pt', 'pt.id', 'o.price_type_id')
    .leftJoin('cities as ci', 'ci.id', 'o.city_id')
    .select(['ag.code as agreement_code', 'pt.code as price_type_code', 'ci.code as city_code'])
    .where('o.number', '=', number).where((eb) => visibleTo(eb, viewer)).executeTakeFirst();
  if (!r) return undefined;
  const lines = await db.selectFrom('order_lines').where('order_id', '=', r.id).orderBy('line_no')
    .select([
      'line_no', 'sku', 'name', trimmed('quantity').as('quantity'), 'unit', trimmed('price', 2).as('price'),
      sql<string | null>`CASE WHEN base_price IS NULL THEN NULL ELSE ${trimmed('base_price', 2)} END`.as('base_price'),
      sql<string | null>`trim_scale(discount_percent)::text`.as('discount_percent'), sql<string>`amount::text`.as('amount'),
    ]).execute();
  return {
    ...toSummary(r),
    agreement: r.agreement_code,
    priceType: r.price_type_code,
    city: r.city_code,
    lines: lines.map((l) => ({
      lineNo: l.line_no, sku: l.sku, name: l.name, quantity: l.quantity, unit: l.unit, price: l.price, basePrice: l.base_price,
      discountPercent: l.discount_percent, amount: l.amount,
    })),
  };
}

export function encodeCursor(id: number): string {
  return Buffer.from(`o:${id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const m = /^o:([0-9]{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new MagistralError('MAG_ERR_BAD_REQUEST', 'cursor is not one this API handed out', [{ path: '/querystring/cursor', rule: 'cursor', message: 'is not a cursor from a previous page' }]);
  return Number(m[1]);
}

/** The viewer's orders, newest first; `nextCursor` fetches the next page. */
export async function listOrders(db: Db, viewer: OrderViewer, q: OrderListQuery): Promise<OrderListPage> {
  let query = summaryQuery(db).where((eb) => visibleTo(eb, viewer));
  if (q.status !== undefined) query = query.where('o.status', '=', q.status);
  if (q.legalEntity !== undefined) {
    // Another client's legal entity looks absent, as in the cabinet and /me/balance, not like one without orders.
    const own = await db.selectFrom('legal_entities').select('id').where('code', '=', q.legalEntity).where('client_id', '=', viewer.clientId).executeTakeFirst();
    if (!own) {
      throw new MagistralError('MAG_ERR_NOT_FOUND', `no legal entity '${q.legalEntity}' of this client`,
        [{ path: '/querystring/legalEntity', rule: 'legal-entity', message: `'${q.legalEntity}' is not a legal entity of this client` }]);
    }
    query = query.where('le.code', '=', q.legalEntity);
  }
  // An offline order dates from the ERP's document; a portal order from its placing.
  for (const [k, v] of [['from', q.from], ['to', q.to]] as const) {
    if (v !== undefined && !(/^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v))) {
      throw new MagistralError('MAG_ERR_BAD_REQUEST', `${k} is not a date YYYY-MM-DD`, [{ path: `/querystring/${k}`, rule: 'date', message: 'is not a date YYYY-MM-DD' }]);
    }
  }
  const day = sql<Date>`coalesce(CASE WHEN o.origin = 'offline' THEN o.erp_date END, o.created_at)`;
  if (q.from !== undefined) query = query.where(day, '>=', sql<Date>`${q.from}::date::timestamptz`);
  if (q.to !== undefined) query = query.where(day, '<', sql<Date>`(${q.to}::date + 1)::timestamptz`);
  if (q.number !== undefined && q.number.trim() !== '') {
    const like = `%${q.number.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb('o.number', 'ilike', like), eb('o.erp_number', 'ilike', like)]));
  }
  if (q.origin !== undefined) query = query.where('o.origin', '=', q.origin);
  if (q.cursor !== undefined) query = query.where('o.id', '<', decodeCursor(q.cursor));
  const rows = await query.orderBy('o.id', 'desc').limit(q.limit + 1).execute();
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  return { orders: page.map(toSummary), nextCursor: more ? encodeCursor(page[page.length - 1]!.id) : null };
}
