// Orders going out to an ERP and the ERP's changes coming back, as the connector port offers them
// (OrdersPort): which orders are pending, their documents with one system's external ids, the versions the
// system confirmed, and the changes it reports — so no connector reads or writes the orders tables itself.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { isMagistralError } from '../errors/index.ts';
import type { ExternalChangesReport, ExternalOrderChange, OrdersPort, OrderVersion, OutboundOrder } from '../port/port.ts';
import { applyOrderChange, listOrderStatuses } from './index.ts';
import { createOfflineOrder, findOfflineOrder, recordOrderDocuments } from './offline.ts';

type Db = Kysely<Database>;

/**
 * An order goes out only when no head's approval holds it: 'waiting' stays on the portal until a head
 * approves it (approving bumps updated_at, so the next sweep sends it), 'rejected' never goes.
 */
export const RELEASED = `coalesce(o.approval, 'approved') = 'approved'`;

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
  le_system_id: string | null;
  le_code: string;
  le_name: string;
  le_full_name: string | null;
  inn: string | null;
  kpp: string | null;
  address: string | null;
  bank_name: string | null;
  bik: string | null;
  account: string | null;
  corr_account: string | null;
  client_system_id: string | null;
  client_email: string | null;
  client_phone: string | null;
  contact_system_id: string | null;
  contact_code: string | null;
  contact_name: string | null;
  contact_email: string | null;
  contact_phone: string | null;
}

interface LineRow {
  order_id: number;
  line_no: number;
  xml_id: string;
  system_id: string | null;
  sku: string;
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
 * The pending orders (never handed out, or changed since), oldest change first, with the version handed
 * out (never one a head's approval holds: see RELEASED): `updated_at` to the microsecond as JSON text (a JS Date would drop the microseconds, and an order
 * changed within the same millisecond would then be marked exported with a change the system never saw).
 */
async function pending(db: Db, limit: number): Promise<OrderVersion[]> {
  const r = await sql<{ id: number; version: string }>`
    SELECT id, to_json(updated_at) #>> '{}' AS version FROM orders o
    WHERE (exported_at IS NULL OR updated_at > exported_at) AND ${sql.raw(RELEASED)}
    ORDER BY updated_at, id
    LIMIT ${limit}`.execute(db);
  return r.rows.map((x) => ({ id: Number(x.id), version: x.version }));
}

/** The versions the system has: exported at that version, so an order changed after it stays pending. */
async function markExported(db: Db, sent: readonly OrderVersion[]): Promise<number> {
  if (!sent.length) return 0;
  const r = await sql`
    UPDATE orders o SET exported_at = s.version
    FROM unnest(${sql.val(sent.map((x) => x.id))}::bigint[], ${sql.val(sent.map((x) => x.version))}::timestamptz[]) AS s(id, version)
    WHERE o.id = s.id AND (o.exported_at IS NULL OR o.exported_at < s.version)`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

async function documents(db: Db, ids: readonly number[], system: string): Promise<OutboundOrder[]> {
  if (!ids.length) return [];
  const orders = (await sql<OrderRow>`
    SELECT o.id, o.number, o.created_at, o.currency, o.total::text AS total, o.comment, o.status,
      st.name AS status_name, st.final AS status_final,
      coalesce((SELECT max(ev.at) FROM order_events ev WHERE ev.order_id = o.id AND ev.change ? 'status'), o.created_at) AS status_at,
      o.erp_number, o.erp_date, o.paid, o.paid_at, o.shipped, o.shipped_at, o.cancelled,
      (SELECT min(x.external_id) FROM external_ids x
       WHERE x.entity = 'legalEntity' AND x.system = ${system} AND x.internal_id = le.id) AS le_system_id, le.code AS le_code,
      le.name AS le_name, le.full_name AS le_full_name, le.inn, le.kpp, le.address, le.bank_name, le.bik, le.account, le.corr_account,
      (SELECT min(x.external_id) FROM external_ids x
       WHERE x.entity = 'client' AND x.system = ${system} AND x.internal_id = cl.id) AS client_system_id,
      cl.email AS client_email, cl.phone AS client_phone,
      (SELECT min(x.external_id) FROM external_ids x
       WHERE x.entity = 'contact' AND x.system = ${system} AND x.internal_id = ct.id) AS contact_system_id,
      ct.code AS contact_code, ct.name AS contact_name, ct.email AS contact_email, ct.phone AS contact_phone
    FROM orders o
    JOIN order_statuses st ON st.code = o.status
    JOIN legal_entities le ON le.id = o.legal_entity_id
    LEFT JOIN clients cl ON cl.id = o.client_id
    LEFT JOIN contacts ct ON ct.id = o.contact_id
    WHERE o.id = ANY(${sql.val([...ids])}::bigint[])`.execute(db)).rows;

  // A product's id in the system; an offer id with a characteristic (`guid#char`) only when the product
  // has no plain one; the product code when the system never sent an id for it.
  const lines = (await sql<LineRow>`
    SELECT l.order_id, l.line_no, coalesce(x.external_id, p.code, l.sku) AS xml_id, x.external_id AS system_id, l.sku, l.name,
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
    return o ? [toOutbound(o, linesByOrder.get(id) ?? [])] : [];
  });
}

function toOutbound(o: OrderRow, lines: LineRow[]): OutboundOrder {
  return {
    id: Number(o.id), number: o.number, createdAt: o.created_at, currency: o.currency, total: o.total, comment: o.comment,
    status: { code: o.status, name: o.status_name, final: o.status_final, at: o.status_at },
    erpNumber: o.erp_number, erpDate: o.erp_date, paid: o.paid, paidAt: o.paid_at, shipped: o.shipped, shippedAt: o.shipped_at, cancelled: o.cancelled,
    legalEntity: {
      externalId: o.le_system_id ?? o.le_code, systemId: o.le_system_id, code: o.le_code, name: o.le_name, fullName: o.le_full_name, inn: o.inn, kpp: o.kpp, address: o.address,
      bankName: o.bank_name, bik: o.bik, account: o.account, corrAccount: o.corr_account,
    },
    client: { systemId: o.client_system_id, email: o.client_email, phone: o.client_phone },
    contact: o.contact_name ? { externalId: o.contact_system_id ?? o.contact_code, systemId: o.contact_system_id, name: o.contact_name, email: o.contact_email, phone: o.contact_phone } : null,
    lines: lines.map((l) => ({
      lineNo: Number(l.line_no), externalId: l.xml_id, systemId: l.system_id, sku: l.sku, name: l.name, quantity: l.quantity, price: l.price, amount: l.amount, unit: l.line_unit,
      product: { unitCode: l.unit_code, unitName: l.unit_name, unitOkei: l.unit_okei },
    })),
  };
}

/**
 * Our order for a change, locked: by portal number (in the order given), else by the ERP number we keep;
 * with whether the system already had its latest version (exported at or after its last change).
 */
async function findOrder(db: Db, c: ExternalOrderChange): Promise<{ id: number; inSync: boolean } | undefined> {
  const pick = (rows: Array<{ id: number; in_sync: boolean }>) => (rows[0] ? { id: Number(rows[0].id), inSync: rows[0].in_sync } : undefined);
  if (c.refs.numbers.length) {
    const r = await sql<{ id: number; in_sync: boolean }>`
      SELECT id, (exported_at IS NOT NULL AND exported_at >= updated_at) AS in_sync FROM orders
      WHERE number = ANY(${sql.val(c.refs.numbers)}::text[])
      ORDER BY array_position(${sql.val(c.refs.numbers)}::text[], number) LIMIT 1 FOR UPDATE`.execute(db);
    if (r.rows.length) return pick(r.rows);
  }
  if (!c.refs.erpNumber) return undefined;
  const r = await sql<{ id: number; in_sync: boolean }>`
    SELECT id, (exported_at IS NOT NULL AND exported_at >= updated_at) AS in_sync FROM orders
    WHERE erp_number = ${c.refs.erpNumber} ORDER BY id DESC LIMIT 1 FOR UPDATE`.execute(db);
  return pick(r.rows);
}

/**
 * Applies the changes in order, in one transaction (a savepoint per change, so one the orders module
 * refuses is reported and the others still apply). A change the system makes to an order it already had
 * in full leaves the order exported: like 1C-Bitrix's UPDATED_1C flag, what came from it is not sent back
 * (to 1C through exported_at, to the outbound flows that had it through order_exports).
 */
async function applyChanges(db: Db, changes: readonly ExternalOrderChange[], source: string): Promise<ExternalChangesReport> {
  const report: ExternalChangesReport = { documents: changes.length, changed: 0, unchanged: 0, notFound: 0, created: 0, warnings: [] };
  await db.transaction().execute(async (trx) => {
    for (const c of changes) {
      report.warnings.push(...c.warnings);
      const label = c.refs.numbers[0] ?? c.refs.erpNumber ?? '?';
      const found = await findOrder(trx, c) ?? (c.offline ? await findOfflineOrder(trx, c.offline) : undefined);
      if (!found && c.offline) {
        // An order made in the ERP: created as an offline order (a savepoint, so a refusal leaves the rest).
        await sql`SAVEPOINT offline_order`.execute(trx);
        try {
          const made = await createOfflineOrder(trx, c.offline, c.change, source);
          if (made.created) {
            if (c.documents?.length) await recordOrderDocuments(trx, made.id, c.documents, source);
            // The ERP has it already: not pending for it (exported at its version).
            await sql`UPDATE orders SET exported_at = updated_at WHERE id = ${made.id}`.execute(trx);
            await sql`RELEASE SAVEPOINT offline_order`.execute(trx);
            report.created++;
            report.warnings.push(...made.warnings);
          } else {
            await sql`ROLLBACK TO SAVEPOINT offline_order`.execute(trx);
            report.notFound++;
            report.warnings.push(`order ${label} not found; not created as an offline order: ${made.reason}`);
          }
        } catch (e) {
          if (!isMagistralError(e)) throw e;
          await sql`ROLLBACK TO SAVEPOINT offline_order`.execute(trx);
          report.notFound++;
          report.warnings.push(`order ${label} not found; not created as an offline order: ${e.message}`);
        }
        continue;
      }
      if (!found) {
        report.notFound++;
        report.warnings.push(`order ${label} not found`);
        continue;
      }
      if (c.documents?.length) await recordOrderDocuments(trx, found.id, c.documents, source);
      await sql`SAVEPOINT external_change`.execute(trx);
      try {
        // Outbound flows that had the order's latest version (order_exports, migration 0013) keep having it:
        // a status coming back from SAP is not a change to send to SAP again.
        const inSyncFlows = (await sql<{ flow_id: number }>`
          SELECT e.flow_id FROM order_exports e JOIN orders o ON o.id = e.order_id
          WHERE e.order_id = ${found.id} AND e.state = 'sent' AND e.version >= o.updated_at`.execute(trx)).rows.map((x) => Number(x.flow_id));
        let change = c.change;
        if (c.forwardOnly && change.status !== undefined) {
          const back = await sql<{ back: boolean }>`
            SELECT coalesce(n.sort < cur.sort, false) AS back FROM orders o
            JOIN order_statuses cur ON cur.code = o.status LEFT JOIN order_statuses n ON n.code = ${change.status}
            WHERE o.id = ${found.id}`.execute(trx);
          if (back.rows[0]?.back) {
            const { status: _older, ...rest } = change;
            change = rest;
          }
        }
        const r = await applyOrderChange(trx, { id: found.id }, change, source);
        if (r.changed.length && found.inSync) await sql`UPDATE orders SET exported_at = updated_at WHERE id = ${found.id}`.execute(trx);
        if (r.changed.length && inSyncFlows.length) {
          await sql`UPDATE order_exports e SET version = o.updated_at, sent_version = o.updated_at, updated_at = now() FROM orders o
            WHERE o.id = e.order_id AND e.order_id = ${found.id} AND e.flow_id = ANY(${sql.val(inSyncFlows)}::int[])`.execute(trx);
        }
        await sql`RELEASE SAVEPOINT external_change`.execute(trx);
        if (r.changed.length) report.changed++;
        else report.unchanged++;
      } catch (e) {
        // The orders module refuses a value (a status removed meanwhile): this order is reported, the rest goes on.
        if (!isMagistralError(e)) throw e;
        await sql`ROLLBACK TO SAVEPOINT external_change`.execute(trx);
        report.warnings.push(`order ${label}: ${e.message}`);
      }
    }
  });
  return report;
}

export function ordersPort(db: Db): OrdersPort {
  return {
    statuses: () => listOrderStatuses(db),
    pending: (limit) => pending(db, limit),
    documents: (ids, system) => documents(db, ids, system),
    markExported: (sent) => markExported(db, sent),
    applyChanges: (changes, source) => applyChanges(db, changes, source),
  };
}
