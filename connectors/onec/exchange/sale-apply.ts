// Order documents from 1C applied to our orders through the orders port (an order_events row per change).
// The whole file is read before anything is applied, so a malformed file changes nothing; an unknown order
// or status is reported and the rest still applies.
import type { OrderStatus } from '../../../src/port/index.ts';
import { mapIncomingOrder, statusResolver, type IncomingOrder, type MappedOrderChange } from './sale-changes.ts';

/** Reads every document (a malformed file throws here, before any change) and maps it. */
export async function collectChanges(docs: AsyncIterable<IncomingOrder>, statuses: readonly OrderStatus[], opts: { timeZone: string; statusMap: Record<string, string>; system?: string }): Promise<MappedOrderChange[]> {
  const resolver = statusResolver(statuses, opts.statusMap);
  const out: MappedOrderChange[] = [];
  for await (const doc of docs) out.push(mapIncomingOrder(doc, resolver, opts.timeZone, opts.system));
  return out;
}
