// Portal orders as Bitrix24 deals — connector kind `bitrix24.deals` (a flow with `target: orders`) — and
// the deals' stages back as order statuses (the statuses pull, and ONCRMDEALUPDATE events at
// /exchange/webhooks/<flow>, see ../events/).
//
// A send: look the deal up by ORIGIN_ID (our order number) and ORIGINATOR_ID (the flow's originator),
// so a repeated send (the crash window between Bitrix24's answer and our record, a retry after a timeout
// whose request did reach Bitrix24) finds the deal it made; only then `crm.deal.add`. Then
// `crm.deal.productrows.set` with the order's lines (it replaces the deal's rows, so setting them again is
// harmless). A new version of an order already sent updates its deal (`crm.deal.update` + the rows).
// The deal's id is kept as the export's externalRef, not as the order's ERP number (the CRM is not the ERP).
import type { Readable } from 'node:stream';
import {
  MagistralError, PullError, RetryableError, type Connector, type ExternalOrderChange, type OutboundContext, type OutboundOrder,
  type ParseContext, type SendContext, type SendResult, type SentOrder, type SourceRecord,
} from '../../../../src/port/index.ts';
import type { Bitrix24Client } from '../client.ts';
import { clientOf } from '../events/connection.ts';
import { connectionOneOf, connectionProperties } from '../events/options.ts';
import { ruleOf, stagesSchema, stageChange, type DealState, type StagesOption } from './stages.ts';

export interface DealsOptions extends Record<string, unknown> {
  /** ORIGINATOR_ID of the deals this flow makes (with ORIGIN_ID = the order number). @defaultValue 'magistral' */
  originatorId?: string;
  /** The deals' pipeline (CATEGORY_ID); absent: the default pipeline. */
  categoryId?: number;
  /** Deal stage → order status, over DEFAULT_STAGES. */
  stages?: StagesOption;
  /** Pull the sent orders' deal stages every N seconds (absent: only events bring them). */
  statusEverySeconds?: number;
  /** The stage a deal moves to when its order is cancelled in the portal. @defaultValue 'LOSE' (C<categoryId>:LOSE in another pipeline) */
  cancelledStage?: string;
}

export const dealsOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...connectionProperties,
    originatorId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'ORIGINATOR_ID of the deals (default magistral); with ORIGIN_ID = order number it finds a deal again.' },
    categoryId: { type: 'integer', minimum: 0, description: 'CATEGORY_ID: the pipeline new deals go to (default: the default pipeline).' },
    stages: stagesSchema,
    statusEverySeconds: { type: 'integer', minimum: 10, maximum: 86400 },
    cancelledStage: { type: 'string', pattern: '^[A-Za-z0-9_:-]{1,64}$', description: 'STAGE_ID a deal moves to when its order is cancelled in the portal (default LOSE; C<categoryId>:LOSE with a categoryId).' },
  },
  oneOf: connectionOneOf,
} as const;

const DEFAULT_ORIGINATOR = 'magistral';
/** Deals asked for per crm.deal.list call (Bitrix24's page). */
const PAGE = 50;

/** A Bitrix24 failure as the outbound queue reacts to it: limits, 5xx and the network retried; the rest refused. */
function asSendError(e: unknown, what: string): Error {
  if (e instanceof PullError) {
    const status = e.status;
    const remote = (e as PullError & { remoteCode?: string }).remoteCode;
    if (e.code === 'MAG_ERR_PULL_AUTH') return new MagistralError('MAG_ERR_SEND_REFUSED', `${what}: ${e.message} (check the webhook of the flow's webhookUrlEnv and its crm scope)`);
    if (status === undefined || status >= 500 || status === 429 || remote === 'QUERY_LIMIT_EXCEEDED' || remote === 'OPERATION_TIME_LIMIT') {
      return new RetryableError(`${what}: ${e.message}`, { cause: e });
    }
    return new MagistralError('MAG_ERR_SEND_REFUSED', `${what}: ${e.message}`);
  }
  return e as Error;
}

/** Bitrix24 numbers: decimal text as the portal keeps it (no float rounding on the way). */
const num = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

/** The deal's fields for add and update. */
export function dealFields(order: OutboundOrder, o: DealsOptions): Record<string, unknown> {
  const company = order.client.systemId;
  if (!company) {
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `order ${order.number}: its client has no Bitrix24 company id (an external id of the client in the flow's source.system); the deal would have no company`);
  }
  return {
    TITLE: `Заказ ${order.number} с портала`,
    COMPANY_ID: company,
    ...(order.contact?.systemId ? { CONTACT_ID: order.contact.systemId } : {}),
    ORIGIN_ID: order.number,
    ORIGINATOR_ID: o.originatorId ?? DEFAULT_ORIGINATOR,
    CURRENCY_ID: order.currency,
    OPPORTUNITY: num(order.total),
    ...(o.categoryId !== undefined ? { CATEGORY_ID: o.categoryId } : {}),
    // A cancellation made in the portal closes the deal as lost; other statuses are the CRM's to set.
    ...(order.cancelled ? { STAGE_ID: o.cancelledStage ?? (o.categoryId ? `C${o.categoryId}:LOSE` : 'LOSE') } : {}),
    ...(order.comment ? { COMMENTS: order.comment } : {}),
    SOURCE_DESCRIPTION: `Портал: заказ ${order.number}, юрлицо ${order.legalEntity.name}${order.legalEntity.inn ? ` (ИНН ${order.legalEntity.inn})` : ''}`,
  };
}

/** The order's lines as deal product rows (a product with a Bitrix24 id is linked by PRODUCT_ID). */
export function productRows(order: OutboundOrder): Array<Record<string, unknown>> {
  return order.lines.map((l) => ({
    ...(l.systemId && /^[0-9]+$/.test(l.systemId) ? { PRODUCT_ID: l.systemId } : {}),
    PRODUCT_NAME: l.name,
    PRICE: num(l.price),
    QUANTITY: num(l.quantity),
    ...(l.product.unitOkei && /^[0-9]+$/.test(l.product.unitOkei) ? { MEASURE_CODE: l.product.unitOkei } : {}),
    ...(l.product.unitName ?? l.unit ? { MEASURE_NAME: l.product.unitName ?? l.unit } : {}),
  }));
}

/** Deals made by this flow for an order number (crm.deal.list by ORIGIN_ID and ORIGINATOR_ID). */
async function findDeals(client: Bitrix24Client, number: string, o: DealsOptions): Promise<Array<{ ID: string; STAGE_ID?: string }>> {
  const r = await client.call('crm.deal.list', {
    filter: { ORIGIN_ID: number, ORIGINATOR_ID: o.originatorId ?? DEFAULT_ORIGINATOR },
    select: ['ID', 'STAGE_ID', 'ORIGIN_ID'],
    order: { ID: 'ASC' },
  });
  return Array.isArray(r.result) ? (r.result as Array<{ ID: string; STAGE_ID?: string }>) : [];
}

/** Per-command answers of a batch that Bitrix24 would serve if asked again later. */
const BATCH_RETRYABLE = new Set(['QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT', 'INTERNAL_SERVER_ERROR']);

/** A failed command of a send's batch as the queue reacts to it; `made` says what Bitrix24 has already. */
function commandFailure(what: string, command: string, e: { error: string; description: string }, made: string): Error {
  const text = `${what}: ${command} refused — ${e.error}${e.description ? `: ${e.description}` : ''}${made}`;
  return BATCH_RETRYABLE.has(e.error) ? new RetryableError(text) : new MagistralError('MAG_ERR_SEND_REFUSED', text);
}

/**
 * Two requests a send: the lookup, then one batch that writes the deal and its rows — `crm.deal.add` with
 * `crm.deal.productrows.set` on `$result[add]` (Bitrix24 puts the earlier command's answer in), or
 * `crm.deal.update` with the rows of the deal found. At the standard 2 requests/s that is one order a second.
 */
export async function sendDeal(order: OutboundOrder, ctx: SendContext): Promise<SendResult> {
  const o = ctx.options as DealsOptions;
  const what = `${ctx.flow}: Bitrix24 deal for order ${order.number}`;
  const fields = dealFields(order, o);
  const rows = productRows(order);
  // Few retries inside one send: the outbound queue retries the job with the flow's backoff.
  const client = clientOf(o, ctx, { retries: 2 });
  try {
    const found = await findDeals(client, order.number, o);
    if (found.length > 1) ctx.log.warn({ flow: ctx.flow, order: order.number, deals: found.map((d) => d.ID) }, 'Bitrix24 has several deals with our order number; the first is kept');
    const id = found[0]?.ID ? String(found[0].ID) : undefined;
    if (id) {
      // A new version of the order, or a repeat of a send that had added the deal: the deal takes the order as it is now.
      const { CATEGORY_ID: _pipeline, ...update } = fields;
      const r = await client.batch({
        update: { method: 'crm.deal.update', params: { id, fields: update, params: { REGISTER_SONET_EVENT: 'N' } } },
        rows: { method: 'crm.deal.productrows.set', params: { id, rows } },
      });
      if (r.errors.update) throw commandFailure(what, `crm.deal.update of deal ${id}`, r.errors.update, '');
      if (r.errors.rows) throw commandFailure(what, `crm.deal.productrows.set of deal ${id}`, r.errors.rows, ' (the deal is updated, its rows are not)');
      return { outcome: 'found', externalRef: id, note: ctx.previous ? `deal ${id} updated to version ${ctx.version}` : `Bitrix24 already had deal ${id} (a repeated send)` };
    }
    if (ctx.previous?.externalRef) {
      // We recorded a deal Bitrix24 no longer lists under our number (deleted in the CRM): not made again.
      throw new MagistralError('MAG_ERR_SEND_REFUSED', `${what}: Bitrix24 no longer lists deal ${ctx.previous.externalRef} under ORIGIN_ID ${order.number}; not created again`);
    }
    const r = await client.batch({
      add: { method: 'crm.deal.add', params: { fields, params: { REGISTER_SONET_EVENT: 'N' } } },
      rows: { method: 'crm.deal.productrows.set', params: { id: '$result[add]', rows } },
    });
    if (r.errors.add) throw commandFailure(what, 'crm.deal.add', r.errors.add, '');
    const n = typeof r.result.add === 'number' || typeof r.result.add === 'string' ? String(r.result.add) : '';
    // Added, but no id to keep: the next attempt finds the deal by ORIGIN_ID (and sets its rows).
    if (!/^[0-9]+$/.test(n)) throw new RetryableError(`${what}: crm.deal.add answered no deal id (${JSON.stringify(r.result.add ?? null).slice(0, 80)}); the next attempt finds the deal by ORIGIN_ID`);
    // The rows refused after the add: the retry finds the deal and sets them again.
    if (r.errors.rows) throw new RetryableError(commandFailure(what, `crm.deal.productrows.set of deal ${n}`, r.errors.rows, ' (the deal is added, its rows are not; the next attempt sets them)').message);
    return { outcome: 'created', externalRef: n };
  } catch (e) {
    throw asSendError(e, what);
  }
}

/** The stage of each deal by id (crm.deal.list, 50 ids a call). */
export async function dealStates(client: Bitrix24Client, ids: readonly string[], o: DealsOptions): Promise<DealState[]> {
  const out: DealState[] = [];
  const originator = o.originatorId ?? DEFAULT_ORIGINATOR;
  for (let i = 0; i < ids.length; i += PAGE) {
    const part = ids.slice(i, i + PAGE);
    // '@ID': Bitrix24's IN prefix (an array under a plain key works too; the prefix says it).
    const r = await client.call('crm.deal.list', { filter: { '@ID': part }, select: ['ID', 'STAGE_ID', 'ORIGIN_ID', 'ORIGINATOR_ID'] });
    for (const d of Array.isArray(r.result) ? (r.result as Array<Record<string, unknown>>) : []) {
      if (d.ID === undefined || typeof d.STAGE_ID !== 'string') continue;
      // A deal another integration (or a person) made carries no order of ours, whatever its ORIGIN_ID says.
      if (d.ORIGINATOR_ID !== undefined && d.ORIGINATOR_ID !== originator) continue;
      out.push({ ID: String(d.ID), STAGE_ID: d.STAGE_ID, ORIGIN_ID: typeof d.ORIGIN_ID === 'string' ? d.ORIGIN_ID : null });
    }
  }
  return out;
}

/** The statuses pull: the sent orders' deals by id, their stages as order changes. */
export async function dealStatuses(sent: readonly SentOrder[], ctx: OutboundContext): Promise<ExternalOrderChange[]> {
  const o = ctx.options as DealsOptions;
  const byDeal = new Map(sent.filter((s) => s.externalRef && /^[0-9]+$/.test(s.externalRef)).map((s) => [s.externalRef!, s]));
  const client = clientOf(o, ctx);
  const changes: ExternalOrderChange[] = [];
  for (const d of await dealStates(client, [...byDeal.keys()], o)) {
    const s = byDeal.get(d.ID);
    if (!s) continue;
    const rule = ruleOf(d.STAGE_ID, o.stages);
    if (!rule || rule.status === s.status) continue;
    const c = stageChange(d, o.stages, s.number);
    if (c) changes.push(c);
  }
  return changes;
}

export const dealsConnector: Connector = {
  kind: 'bitrix24.deals',
  optionsSchema: dealsOptionsSchema,
  async *parse(_input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', `${ctx.fileName}: connector bitrix24.deals only sends orders (a flow with target: orders); its deal events go to /exchange/webhooks/<flow>`);
  },
  outbound: { send: sendDeal, statuses: dealStatuses },
};
