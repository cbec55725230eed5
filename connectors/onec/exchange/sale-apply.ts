// Applies order documents from 1C to our orders through the orders module (an order_events row per
// change). The whole file is read before anything is applied, so a malformed file changes nothing; an
// unknown order or status is reported and the rest still applies.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../src/db/index.ts';
import { isMagistralError } from '../../../src/errors/index.ts';
import { applyOrderChange, listOrderStatuses } from '../../../src/orders/index.ts';
import { mapIncomingOrder, statusResolver, type IncomingOrder, type MappedOrderChange } from './sale-changes.ts';

type Db = Kysely<Database>;

export interface SaleApplyReport {
  documents: number;
  /** Orders that changed. */
  changed: number;
  /** Orders found whose fields were already as 1C says. */
  unchanged: number;
  notFound: number;
  /** One line per problem, as answered to 1C after `success`. */
  warnings: string[];
}

/** Reads every document (a malformed file throws here, before any change) and maps it. */
export async function collectChanges(docs: AsyncIterable<IncomingOrder>, db: Db, opts: { timeZone: string; statusMap: Record<string, string> }): Promise<MappedOrderChange[]> {
  const resolver = statusResolver(await listOrderStatuses(db), opts.statusMap);
  const out: MappedOrderChange[] = [];
  for await (const doc of docs) out.push(mapIncomingOrder(doc, resolver, opts.timeZone));
  return out;
}

/**
 * Our order for a document, locked: by portal number (Номер, then Ид), else by the 1C number we keep;
 * with whether 1C already had its latest version (exported at or after its last change).
 */
async function findOrder(db: Db, m: MappedOrderChange): Promise<{ id: number; inSync: boolean } | undefined> {
  const pick = (rows: Array<{ id: number; in_sync: boolean }>) => (rows[0] ? { id: Number(rows[0].id), inSync: rows[0].in_sync } : undefined);
  if (m.refs.numbers.length) {
    const r = await sql<{ id: number; in_sync: boolean }>`
      SELECT id, (exported_at IS NOT NULL AND exported_at >= updated_at) AS in_sync FROM orders
      WHERE number = ANY(${sql.val(m.refs.numbers)}::text[])
      ORDER BY array_position(${sql.val(m.refs.numbers)}::text[], number) LIMIT 1 FOR UPDATE`.execute(db);
    if (r.rows.length) return pick(r.rows);
  }
  if (!m.refs.erpNumber) return undefined;
  const r = await sql<{ id: number; in_sync: boolean }>`
    SELECT id, (exported_at IS NOT NULL AND exported_at >= updated_at) AS in_sync FROM orders
    WHERE erp_number = ${m.refs.erpNumber} ORDER BY id DESC LIMIT 1 FOR UPDATE`.execute(db);
  return pick(r.rows);
}

/**
 * Applies the mapped documents in file order, in one transaction (a savepoint per document, so a
 * document the orders module refuses is reported and the others still apply; one commit per file).
 * A change 1C makes to an order it already had in full leaves the order exported: like 1C-Bitrix's
 * UPDATED_1C flag, what came from 1C is not sent back to it.
 */
export async function applyChanges(db: Db, mapped: readonly MappedOrderChange[], source: string): Promise<SaleApplyReport> {
  const report: SaleApplyReport = { documents: mapped.length, changed: 0, unchanged: 0, notFound: 0, warnings: [] };
  await db.transaction().execute(async (trx) => {
    for (const m of mapped) {
      report.warnings.push(...m.warnings);
      const label = m.refs.numbers[0] ?? m.refs.erpNumber ?? '?';
      const found = await findOrder(trx, m);
      if (!found) {
        report.notFound++;
        report.warnings.push(`order ${label} not found`);
        continue;
      }
      await sql`SAVEPOINT sale_document`.execute(trx);
      try {
        const r = await applyOrderChange(trx, { id: found.id }, m.change, source);
        if (r.changed.length && found.inSync) await sql`UPDATE orders SET exported_at = updated_at WHERE id = ${found.id}`.execute(trx);
        await sql`RELEASE SAVEPOINT sale_document`.execute(trx);
        if (r.changed.length) report.changed++;
        else report.unchanged++;
      } catch (e) {
        // The orders module refuses a value (a status removed meanwhile): this order is reported, the rest goes on.
        if (!isMagistralError(e)) throw e;
        await sql`ROLLBACK TO SAVEPOINT sale_document`.execute(trx);
        report.warnings.push(`order ${label}: ${e.message}`);
      }
    }
  });
  return report;
}
