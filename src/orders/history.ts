// What happened to an order (order_events: placed, created from the ERP, each change with its source)
// and its documents (order_documents), for the viewer of the order only.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { getOrder, type OrderView, type OrderViewer } from './read.ts';

type Db = Kysely<Database>;

export interface OrderEvent {
  at: Date;
  source: string | null;
  /** As recorded: `{placed: …}`, `{offline: …}`, or `{field: {from, to}}` per changed field. */
  change: Record<string, unknown>;
}

export interface OrderDocument {
  id: number;
  kind: string;
  number: string | null;
  date: string | null;
  amount: string | null;
  fileName: string | null;
  hasFile: boolean;
}

export interface OrderDetails extends OrderView {
  events: OrderEvent[];
  documents: OrderDocument[];
}

/** The order with its history and documents, or undefined when it is not the viewer's. */
export async function orderDetails(db: Db, viewer: OrderViewer, number: string): Promise<OrderDetails | undefined> {
  const order = await getOrder(db, viewer, number);
  if (!order) return undefined;
  const events = (await sql<{ at: Date; source: string | null; change: Record<string, unknown> | null }>`
    SELECT e.at, e.source, e.change FROM order_events e JOIN orders o ON o.id = e.order_id
    WHERE o.number = ${number} AND o.client_id = ${viewer.clientId} ORDER BY e.at, e.id`.execute(db)).rows;
  const documents = (await sql<{ id: string; kind: string; number: string | null; date: string | null; amount: string | null; file_name: string | null; has_file: boolean }>`
    SELECT d.id::text, d.kind, d.number, to_char(d.date, 'YYYY-MM-DD') AS date, d.amount::text, d.file_name, d.sha256 IS NOT NULL AS has_file
    FROM order_documents d JOIN orders o ON o.id = d.order_id
    WHERE o.number = ${number} AND o.client_id = ${viewer.clientId} ORDER BY d.date NULLS LAST, d.id`.execute(db)).rows;
  return {
    ...order,
    events: events.map((e) => ({ at: e.at, source: e.source, change: e.change ?? {} })),
    documents: documents.map((d) => ({ id: Number(d.id), kind: d.kind, number: d.number, date: d.date, amount: d.amount, fileName: d.file_name, hasFile: d.has_file })),
  };
}
