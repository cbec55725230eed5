// The events table (crm_bitrix24_events): an accepted event is one row, written before Bitrix24 is
// answered; the unique (flow, event, entity id, ts) makes a replayed event the same row.
import type { ConnectorPort } from '../../../../src/port/index.ts';
import type { Bitrix24Event } from './form.ts';

export interface PendingEvent {
  id: number;
  event: string;
  entity: string;
  entityId: string;
  ts: number;
  deleted: boolean;
}

/** Stores the event; `fresh` is false when the same event (event, id, ts) was stored before. */
export async function storeEvent(port: ConnectorPort, flow: string, e: Bitrix24Event): Promise<{ id: number; fresh: boolean }> {
  const r = await port.sql.query<{ id: string }>(
    `INSERT INTO crm_bitrix24_events (flow, event, entity, entity_id, ts, deleted, domain, handler_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (flow, event, entity_id, ts) DO NOTHING RETURNING id`,
    [flow, e.event, e.entity, e.id, e.ts, e.deleted, e.domain, e.handlerId]);
  if (r.rows[0]) return { id: Number(r.rows[0].id), fresh: true };
  const old = await port.sql.query<{ id: string }>(
    'SELECT id FROM crm_bitrix24_events WHERE flow = $1 AND event = $2 AND entity_id = $3 AND ts = $4', [flow, e.event, e.id, e.ts]);
  return { id: Number(old.rows[0]!.id), fresh: false };
}

/** The flows that have pending events, oldest first. */
export async function flowsWithPending(port: ConnectorPort): Promise<string[]> {
  const r = await port.sql.query<{ flow: string }>(
    `SELECT flow FROM crm_bitrix24_events WHERE state = 'pending' GROUP BY flow ORDER BY min(id)`);
  return r.rows.map((x) => x.flow);
}

export interface EventCounts { pending: number; done: number; failed: number }

export async function eventCounts(port: ConnectorPort, flow: string): Promise<EventCounts> {
  const r = await port.sql.query<{ state: string; n: string }>(
    'SELECT state, count(*) AS n FROM crm_bitrix24_events WHERE flow = $1 GROUP BY state', [flow]);
  const out: EventCounts = { pending: 0, done: 0, failed: 0 };
  for (const x of r.rows) out[x.state as keyof EventCounts] = Number(x.n);
  return out;
}
