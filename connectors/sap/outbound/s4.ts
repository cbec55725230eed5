// Portal orders as S/4HANA sales orders through API_SALES_ORDER_SRV (OData v2) — connector kind
// `sap.odata.orders` — and the sales orders' statuses pulled back.
//
// A send: fetch a CSRF token (`GET <service>/` with `x-csrf-token: fetch`, keeping the session cookies the
// token is bound to); look the order up by PurchaseOrderByCustomer (= our order number) and SoldToParty,
// so a repeated send (the crash window between SAP's answer and our record, a retry after a timeout whose
// request did reach SAP) finds the sales order it made instead of creating a second; only then `POST
// A_SalesOrder` with the items as a deep insert (`to_Item`). A 403 whose answer says the CSRF token failed
// validation (the session expired) fetches a new token once. SAP's error JSON (`error.message.value`,
// `error.innererror.errordetails`) is put into the message as SAP wrote it.
import type { Readable } from 'node:stream';
import {
  MagistralError, RetryableError, type Connector, type ExternalOrderChange, type OutboundContext, type OutboundOrder, type ParseContext,
  type SendContext, type SendResult, type SentOrder, type SourceRecord,
} from '../../../src/port/index.ts';
import { basicAuth, clip, failure, request, type HttpAnswer } from './http.ts';

/** A rule of the status table: when `field` of the sales order has `value`, the portal order gets `status` (first match wins). */
export interface StatusRule {
  field: string;
  value: string;
  status: string;
  /** Also mark the order shipped / cancelled. */
  shipped?: boolean;
  cancelled?: boolean;
}

export interface S4OrdersOptions {
  /** The service root, e.g. https://s4:44300/sap/opu/odata/sap/API_SALES_ORDER_SRV. */
  url: string;
  userEnv?: string;
  passwordEnv?: string;
  /** sap-client query parameter. */
  client?: string;
  salesOrderType: string;
  salesOrganization: string;
  distributionChannel: string;
  organizationDivision: string;
  /** Portal unit code → SAP unit for RequestedQuantityUnit; absent: the portal code in upper case. */
  units?: Record<string, string>;
  /** Status table for the pull, in order. @defaultValue DEFAULT_STATUS_RULES */
  statuses?: StatusRule[];
  /** Pull the statuses of sent orders every N seconds (absent: no pull). */
  statusEverySeconds?: number;
  timeoutMs?: number;
}

/**
 * SD's overall statuses (A not yet processed, B partially, C completely) in the order a buyer cares:
 * rejected, completed, delivered, partly delivered, then open (SAP has it: confirmed).
 */
export const DEFAULT_STATUS_RULES: readonly StatusRule[] = [
  { field: 'OverallSDDocumentRejectionSts', value: 'C', status: 'cancelled', cancelled: true },
  { field: 'OverallSDProcessStatus', value: 'C', status: 'completed' },
  { field: 'OverallTotalDeliveryStatus', value: 'C', status: 'shipped', shipped: true },
  { field: 'OverallTotalDeliveryStatus', value: 'B', status: 'in_work' },
  { field: 'OverallSDProcessStatus', value: 'A', status: 'confirmed' },
  { field: 'OverallSDProcessStatus', value: 'B', status: 'in_work' },
];

const ENV = { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' } as const;
export const s4OrdersOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'salesOrderType', 'salesOrganization', 'distributionChannel', 'organizationDivision'],
  properties: {
    url: { type: 'string', pattern: '^https?://', description: 'service root of API_SALES_ORDER_SRV' },
    userEnv: ENV,
    passwordEnv: ENV,
    client: { type: 'string', pattern: '^[0-9]{3}$' },
    salesOrderType: { type: 'string', pattern: '^[A-Za-z0-9]{1,4}$' },
    salesOrganization: { type: 'string', pattern: '^[A-Za-z0-9]{1,4}$' },
    distributionChannel: { type: 'string', pattern: '^[A-Za-z0-9]{1,2}$' },
    organizationDivision: { type: 'string', pattern: '^[A-Za-z0-9]{1,2}$' },
    units: { type: 'object', additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9]{1,3}$' } },
    statuses: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['field', 'value', 'status'],
        properties: {
          field: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]*$' }, value: { type: 'string' }, status: { type: 'string', minLength: 1 },
          shipped: { type: 'boolean' }, cancelled: { type: 'boolean' },
        },
      },
    },
    statusEverySeconds: { type: 'integer', minimum: 10, maximum: 86400 },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
  },
} as const;

/** SAP's OData v2 error JSON as one line: the message, then each detail's code and message. */
export function describeSapError(body: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  const err = (doc as { error?: { code?: string; message?: { value?: string } | string; innererror?: { errordetails?: Array<{ code?: string; message?: string; severity?: string }> } } })?.error;
  if (!err) return undefined;
  const msg = typeof err.message === 'string' ? err.message : err.message?.value;
  const details = (err.innererror?.errordetails ?? [])
    .filter((d) => d.message && d.message !== msg)
    .map((d) => `${d.severity ? `${d.severity} ` : ''}${d.code ? `${d.code}: ` : ''}${d.message}`);
  return [`${err.code ? `${err.code}: ` : ''}${msg ?? '(no message)'}`, ...details].join('; ');
}

const odataString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const num = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

/** One session with the service: cookies and the CSRF token bound to them. */
class S4Session {
  private cookies = new Map<string, string>();
  private token: string | undefined;
  private readonly auth: string | undefined;
  private readonly base: string;

  constructor(private readonly o: S4OrdersOptions, private readonly ctx: OutboundContext, private readonly what: string) {
    this.auth = basicAuth(o, ctx.env, what);
    this.base = o.url.replace(/\/+$/, '');
  }

  url(path: string, query: Record<string, string> = {}): string {
    const u = new URL(`${this.base}/${path}`);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    if (this.o.client) u.searchParams.set('sap-client', this.o.client);
    return u.toString();
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.auth) h.authorization = this.auth;
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return h;
  }

  private keepCookies(a: HttpAnswer): void {
    for (const c of a.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      if (i > 0) this.cookies.set(pair!.slice(0, i).trim(), pair!.slice(i + 1).trim());
    }
  }

  async send(method: 'GET' | 'POST', url: string, body?: unknown, extra: Record<string, string> = {}): Promise<HttpAnswer> {
    const a = await request(url, {
      method, headers: this.headers({ ...extra, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }),
      body: body !== undefined ? JSON.stringify(body) : undefined, timeoutMs: this.o.timeoutMs ?? 30_000, signal: this.ctx.signal,
    }, this.what);
    this.keepCookies(a);
    return a;
  }

  async fetchToken(): Promise<string> {
    const a = await this.send('GET', this.url(''), undefined, { 'x-csrf-token': 'fetch' });
    if (a.status < 200 || a.status >= 300) throw failure(a, `${this.what} (CSRF token fetch)`, describeSapError(a.body) ?? clip(a.body));
    const token = a.headers.get('x-csrf-token');
    if (!token || token.toLowerCase() === 'required') throw new MagistralError('MAG_ERR_SEND_REFUSED', `${this.what}: SAP answered no x-csrf-token to the token fetch`);
    this.token = token;
    return token;
  }

  /** A modifying request with the CSRF token; a token that failed validation is fetched again once. */
  async modify(url: string, body: unknown): Promise<HttpAnswer> {
    for (let again = 0; ; again++) {
      const token = this.token ?? (await this.fetchToken());
      const a = await this.send('POST', url, body, { 'x-csrf-token': token });
      const csrfFailed = a.status === 403 && (a.headers.get('x-csrf-token')?.toLowerCase() === 'required' || /csrf token validation failed/i.test(a.body));
      if (!csrfFailed || again >= 1) return a;
      this.ctx.log.warn({ flow: this.ctx.flow }, 'S/4HANA refused the CSRF token; fetching a new one');
      this.token = undefined;
      this.cookies.clear();
    }
  }

  async getJson(url: string): Promise<unknown> {
    const a = await this.send('GET', url);
    if (a.status < 200 || a.status >= 300) throw failure(a, this.what, describeSapError(a.body) ?? clip(a.body));
    try {
      return JSON.parse(a.body);
    } catch {
      throw new RetryableError(`${this.what}: the answer is not JSON (starts with ${JSON.stringify(a.body.slice(0, 80))})`);
    }
  }
}

/** `d.results` of an OData v2 collection answer. */
function results(doc: unknown, what: string): Array<Record<string, unknown>> {
  const r = (doc as { d?: { results?: unknown } } | null)?.d?.results;
  if (!Array.isArray(r)) throw new MagistralError('MAG_ERR_SEND_REFUSED', `${what}: the answer has no d.results list`);
  return r as Array<Record<string, unknown>>;
}

/** The sales order body of a deep insert. */
export function salesOrderBody(order: OutboundOrder, o: S4OrdersOptions): Record<string, unknown> {
  const customer = order.legalEntity.systemId;
  if (!customer) {
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `order ${order.number}: legal entity ${order.legalEntity.code} has no SAP customer number (an external id in the flow's source.system)`);
  }
  const noMaterial = order.lines.filter((l) => !l.systemId);
  if (noMaterial.length) {
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `order ${order.number}: ${noMaterial.map((l) => `line ${l.lineNo} (SKU ${l.sku})`).join(', ')} without an SAP material number (an external id in the flow's source.system)`);
  }
  return {
    SalesOrderType: o.salesOrderType,
    SalesOrganization: o.salesOrganization,
    DistributionChannel: o.distributionChannel,
    OrganizationDivision: o.organizationDivision,
    SoldToParty: customer,
    PurchaseOrderByCustomer: order.number,
    // OData v2 Edm.DateTime: milliseconds since the epoch, at midnight UTC of the order's date.
    CustomerPurchaseOrderDate: `/Date(${Date.UTC(order.createdAt.getUTCFullYear(), order.createdAt.getUTCMonth(), order.createdAt.getUTCDate())})/`,
    TransactionCurrency: order.currency,
    to_Item: order.lines.map((l) => {
      const unit = l.unit ?? l.product.unitCode;
      return {
        SalesOrderItem: String(l.lineNo * 10),
        Material: l.systemId,
        RequestedQuantity: num(l.quantity),
        ...(unit ? { RequestedQuantityUnit: o.units?.[unit] ?? unit.toUpperCase() } : {}),
        PurchaseOrderByCustomer: order.number,
      };
    }),
  };
}

/**
 * Creates the sales order unless SAP already has one for our order number and customer. A change after
 * the order reached SAP is not sent (updating a sales order's items is not built): the answer names the
 * sales order SAP has.
 */
export async function sendSalesOrder(order: OutboundOrder, ctx: SendContext): Promise<SendResult> {
  const o = ctx.options as unknown as S4OrdersOptions;
  const what = `${ctx.flow}: S/4HANA sales order for order ${order.number} (${new URL(o.url).origin})`;
  const body = salesOrderBody(order, o);
  const s = new S4Session(o, ctx, what);
  const filter = `PurchaseOrderByCustomer eq ${odataString(order.number)} and SoldToParty eq ${odataString(String(body.SoldToParty))}`;
  const found = results(await s.getJson(s.url('A_SalesOrder', { $filter: filter, $select: 'SalesOrder', $format: 'json' })), what);
  const existing = found.map((r) => r.SalesOrder).find((x): x is string => typeof x === 'string' && x !== '');
  if (existing) {
    if (found.length > 1) ctx.log.warn({ flow: ctx.flow, order: order.number, salesOrders: found.map((r) => r.SalesOrder) }, 'SAP has several sales orders with our order number; the first is kept');
    return { outcome: ctx.previous ? 'unchanged' : 'found', externalNumber: existing, externalRef: `A_SalesOrder('${existing}')`, note: ctx.previous ? 'changes after creation are not sent' : 'SAP already had it (a repeated send)' };
  }
  if (ctx.previous?.externalNumber) {
    // We recorded a sales order SAP no longer lists under our number: do not create a second one.
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `${what}: SAP no longer lists sales order ${ctx.previous.externalNumber} under PurchaseOrderByCustomer ${order.number}; not created again`);
  }
  const a = await s.modify(s.url('A_SalesOrder'), body);
  if (a.status < 200 || a.status >= 300) throw failure(a, what, describeSapError(a.body) ?? clip(a.body));
  let number: unknown;
  try {
    number = (JSON.parse(a.body) as { d?: { SalesOrder?: unknown } }).d?.SalesOrder;
  } catch {
    number = undefined;
  }
  if (typeof number !== 'string' || !number) {
    // Created, but the answer cannot be read: the next attempt's lookup finds the order.
    throw new RetryableError(`${what}: HTTP ${a.status} without d.SalesOrder in the answer`);
  }
  return { outcome: 'created', externalNumber: number, externalRef: `A_SalesOrder('${number}')` };
}

/** The statuses of sent sales orders, 40 per request (an OData $filter of `or`s stays well under URL limits). */
export async function salesOrderStatuses(sent: readonly SentOrder[], ctx: OutboundContext): Promise<ExternalOrderChange[]> {
  const o = ctx.options as unknown as S4OrdersOptions;
  const rules = o.statuses ?? DEFAULT_STATUS_RULES;
  const fields = [...new Set(['SalesOrder', 'PurchaseOrderByCustomer', ...rules.map((r) => r.field)])];
  const what = `${ctx.flow}: S/4HANA sales order statuses (${new URL(o.url).origin})`;
  const s = new S4Session(o, ctx, what);
  const withNumber = sent.filter((x) => x.externalNumber);
  const changes: ExternalOrderChange[] = [];
  for (let i = 0; i < withNumber.length; i += 40) {
    const part = withNumber.slice(i, i + 40);
    const filter = part.map((x) => `SalesOrder eq ${odataString(x.externalNumber!)}`).join(' or ');
    const rows = results(await s.getJson(s.url('A_SalesOrder', { $filter: filter, $select: fields.join(','), $format: 'json' })), what);
    const byNumber = new Map(rows.map((r) => [String(r.SalesOrder), r]));
    for (const x of part) {
      const r = byNumber.get(x.externalNumber!);
      if (!r) continue;
      const rule = rules.find((q) => String(r[q.field] ?? '') === q.value);
      if (!rule || rule.status === x.status) continue;
      changes.push({
        refs: { numbers: [x.number], erpNumber: x.externalNumber! },
        change: { status: rule.status, ...(rule.shipped ? { shipped: true } : {}), ...(rule.cancelled ? { cancelled: true } : {}) },
        warnings: [],
      });
    }
  }
  return changes;
}

export const s4OrdersConnector: Connector = {
  kind: 'sap.odata.orders',
  optionsSchema: s4OrdersOptionsSchema,
  async *parse(_input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', `${ctx.fileName}: connector sap.odata.orders only sends orders (a flow with target: orders)`);
  },
  outbound: { send: sendSalesOrder, statuses: salesOrderStatuses },
};
