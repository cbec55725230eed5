// Repeat order: an order's lines go into the current cart of the shopper's legal entity, priced now
// (carts never keep prices); products since removed or no longer on sale are reported and left out.
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { getOrder } from '../orders/read.ts';
import { addToCart, type AddResult, type Shopper } from './cart.ts';
import { notFound } from './errors.ts';

export async function repeatOrder(db: Kysely<Database>, who: Shopper, number: string): Promise<AddResult & { order: string }> {
  const order = await getOrder(db, { clientId: who.clientId, contactId: who.contactId }, number);
  if (!order) throw notFound(`Заказ ${number} не найден`);
  // The same product on two lines (an offline order may have it) adds up, as in any cart.
  const result = await addToCart(db, who, order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })));
  return { ...result, order: order.number };
}
