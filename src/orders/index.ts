// Orders: the portal places them (src/api/portal), flows change them (the 1C sale exchange, file
// flows). Every change runs in one transaction, bumps updated_at only when something changed and
// leaves an order_events row, so the sale exchange sees exactly the orders that moved.
import { sql, type Kysely, type Updateable } from 'kysely';
import type { Database, OrdersTable } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';
import { inTransaction } from './tx.ts';
import { onOrderStatusChanged } from '../backoffice/order-events.ts';

export { inTransaction } from './tx.ts';
export { placeOrder, type PlaceOrderInput, type PlacedOrder } from './place.ts';
export { getOrder, listOrders, type OrderView, type OrderSummary, type OrderLineView, type OrderListQuery, type OrderListPage, type OrderViewer } from './read.ts';


export interface OrderRef {
  id?: number;
  number?: string;
}

export interface OrderChange {
  status?: string;
  erpNumber?: string;
  erpDate?: Date;
  paid?: boolean;
  /** Explicit payment date; `null` clears it. Absent: kept, or now() when the order becomes paid. */
  paidAt?: Date | null;
  shipped?: boolean;
  shippedAt?: Date | null;
  cancelled?: boolean;
  comment?: string;
}

export interface OrderChangeResult {
  found: boolean;
  /** Names of the changed fields (as in OrderChange); empty when the change matched the order. */
  changed: string[];
}

export interface OrderStatus {
  code: string;
  name: string;
  final: boolean;
  sort: number | null;
}

type Db = Kysely<Database>;


export async function listOrderStatuses(db: Db): Promise<OrderStatus[]> {
  return db.selectFrom('order_statuses').select(['code', 'name', 'final', 'sort']).orderBy('sort').orderBy('code').execute();
}

const sameInstant = (a: Date | null, b: Date | null): boolean => (a === null || b === null ? a === b : a.getTime() === b.getTime());

/**
 * Applies a change coming from a flow (1C sale exchange, status file) to one order, found by id or
 * portal number. An unknown status code throws MAG_ERR_BAD_REQUEST naming the value; an unknown
 * order answers `{ found: false }` so the caller can report it and go on with the next document.
 */
export async function applyOrderChange(db: Db, ref: OrderRef, change: OrderChange, source: string): Promise<OrderChangeResult> {
  if (ref.id === undefined && ref.number === undefined) throw new MagistralError('MAG_ERR_BAD_REQUEST', 'an order is referred to by id or number');
  return inTransaction(db, async (trx) => {
    if (change.status !== undefined) {
      const known = await trx.selectFrom('order_statuses').select('code').where('code', '=', change.status).executeTakeFirst();
      if (!known) {
        const codes = (await listOrderStatuses(trx)).map((s) => s.code);
        throw new MagistralError('MAG_ERR_BAD_REQUEST', `unknown order status '${change.status}' (known: ${codes.join(', ')})`,
          [{ path: '/status', rule: 'enum', message: `'${change.status}' is not an order status` }]);
      }
    }
    let q = trx.selectFrom('orders')
      .select(['id', 'status', 'erp_number', 'erp_date', 'paid', 'paid_at', 'shipped', 'shipped_at', 'cancelled', 'comment'])
      .forUpdate();
    q = ref.id !== undefined ? q.where('id', '=', ref.id) : q.where('number', '=', ref.number as string);
    const order = await q.executeTakeFirst();
    if (!order) return { found: false, changed: [] };

    const set: Updateable<OrdersTable> & Record<string, unknown> = {};
    const diff: Record<string, { from: unknown; to: unknown }> = {};
    const put = (field: string, column: string, from: unknown, to: unknown, same: boolean) => {
      if (same) return;
      set[column] = to;
      diff[field] = { from, to };
    };
    if (change.status !== undefined) put('status', 'status', order.status, change.status, order.status === change.status);
    if (change.erpNumber !== undefined) put('erpNumber', 'erp_number', order.erp_number, change.erpNumber, order.erp_number === change.erpNumber);
    if (change.erpDate !== undefined) put('erpDate', 'erp_date', order.erp_date, change.erpDate, sameInstant(order.erp_date, change.erpDate));
    if (change.comment !== undefined) put('comment', 'comment', order.comment, change.comment, order.comment === change.comment);
    if (change.cancelled !== undefined) put('cancelled', 'cancelled', order.cancelled, change.cancelled, order.cancelled === change.cancelled);
    // A flag and its date move together: becoming paid without a date stamps now, unpaid clears the date.
    const flag = (field: 'paid' | 'shipped', value: boolean | undefined, at: Date | null | undefined, oldValue: boolean, oldAt: Date | null) => {
      if (value !== undefined) put(field, field, oldValue, value, oldValue === value);
      const effective = value ?? oldValue;
      let newAt: Date | null;
      if (at !== undefined) newAt = at;
      else if (value === undefined) return;
      else newAt = effective ? (oldAt ?? new Date()) : null;
      put(`${field}At`, `${field}_at`, oldAt, newAt, sameInstant(oldAt, newAt));
    };
    flag('paid', change.paid, change.paidAt, order.paid, order.paid_at);
    flag('shipped', change.shipped, change.shippedAt, order.shipped, order.shipped_at);

    const changed = Object.keys(diff);
    if (!changed.length) return { found: true, changed };
    // clock_timestamp, not the transaction's start: the sale exchange compares updated_at with exported_at.
    await trx.updateTable('orders').set({ ...set, updated_at: sql<Date>`clock_timestamp()` }).where('id', '=', order.id).execute();
    const event = await trx.insertInto('order_events').values({ order_id: order.id, source, change: JSON.stringify(diff) }).returning('id').executeTakeFirstOrThrow();
    // In this transaction: the invoice job and the status e-mail exist exactly when the change does.
    if (diff.status) await onOrderStatusChanged(trx, { orderId: Number(order.id), eventId: Number(event.id), from: order.status, to: String(change.status) });
    return { found: true, changed };
  });
}
