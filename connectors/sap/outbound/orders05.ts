// Portal orders as ORDERS05 IDoc-XML (message type ORDERS), posted to SAP's XML-HTTP inbound
// (`/sap/bc/idoc_xml`, the ICF service behind a port of type XML HTTP) — connector kind `sap.idoc.orders`.
//
// Segments and fields follow SAP's documentation of ORDERS05 and the real samples in
// /work/shared/samples/sap (ORDERS05_XML2Flat: every segment in its order; ORDERS05_ORDRSP: filled
// segments). Only what SD's inbound order processing (IDOC_INPUT_ORDERS) reads for a sales order is
// written, in the basic type's segment order:
//   EDI_DC40  control record: DIRECT 2 (inbound to SAP), IDOCTYP ORDERS05, MESTYP ORDERS, ports and
//             partners from the flow's options, ARCKEY (below)
//   E1EDK01   CURCY, BSART (purchase order type, option), BELNR = our order number
//   E1EDK14   organizational data: QUALF 008 sales organization, 007 distribution channel, 006 division,
//             012 sales document type (each only when the flow sets it; SAP derives the rest, table EDSDC)
//   E1EDK03   IDDAT 012 document date
//   E1EDKA1   partners AG (sold-to) and WE (ship-to): PARTN = the legal entity's SAP customer number
//   E1EDK02   QUALF 001 (customer purchase order) BELNR = our order number, DATUM; SAP keeps it as the
//             sales order's PO number (VBKD-BSTKD), which is how ORDRSP and lookups find our order again
//   E1EDKT1   the order's comment as text lines (E1EDKT2 TDLINE, 70 characters each)
//   E1EDP01   per line: POSEX, MENGE, MENEE, VPREI/PEINH/NETWR (our price, for SAP's price check), with
//             E1EDP19 QUALF 002 (material number of the supplier = SAP's MATNR) and KTEXT
//   E1EDS01   totals: SUMID 001 number of items, SUMID 002 net value with SUNIT currency
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  MagistralError, type Connector, type OutboundOrder, type ParseContext, type SendContext, type SendResult, type SourceRecord,
} from '../../../src/port/index.ts';
import { basicAuth, clip, failure, request } from './http.ts';

export interface IdocOrdersOptions {
  /** SAP's XML-HTTP inbound URL, e.g. https://sap:44300/sap/bc/idoc_xml?sap-client=100. */
  url: string;
  userEnv?: string;
  passwordEnv?: string;
  /** EDI_DC40/MANDT: the SAP client (also in the URL's sap-client). */
  client?: string;
  /** EDI_DC40 sender: our port, partner type and partner (the logical system SAP has a partner profile for, WE20). */
  sndpor: string;
  sndprt?: string;
  sndprn: string;
  /** EDI_DC40 receiver: SAP's port (SAP<SID>), partner type and partner (SAP's logical system). */
  rcvpor: string;
  rcvprt?: string;
  rcvprn: string;
  /** E1EDK14 QUALF 008 / 007 / 006 / 012. */
  salesOrg?: string;
  distributionChannel?: string;
  division?: string;
  orderType?: string;
  /** E1EDK01 BSART: purchase order type. */
  poType?: string;
  /** Portal unit code → SAP (ISO) unit for MENEE, e.g. { pcs: PCE, m: MTR }; absent: the portal code in upper case. */
  units?: Record<string, string>;
  /** E1EDKT1 TDID of the comment's text. @defaultValue 0001 */
  textId?: string;
  /** E1EDKT1 TSSPRAS_ISO: the comment's language. @defaultValue RU */
  textLanguage?: string;
  /** E1EDP01 VPREI/PEINH/NETWR: send our prices for SAP's price check. @defaultValue true */
  sendPrices?: boolean;
  timeoutMs?: number;
}

const NAME = '^[A-Za-z0-9_/]{1,10}$';
export const idocOrdersOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'sndpor', 'sndprn', 'rcvpor', 'rcvprn'],
  properties: {
    url: { type: 'string', pattern: '^https?://', description: "SAP's XML-HTTP inbound URL (ICF service /sap/bc/idoc_xml with ?sap-client=…)" },
    userEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' },
    passwordEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' },
    client: { type: 'string', pattern: '^[0-9]{3}$' },
    sndpor: { type: 'string', pattern: NAME },
    sndprt: { type: 'string', pattern: '^[A-Z]{2}$', default: 'LS' },
    sndprn: { type: 'string', pattern: '^[A-Za-z0-9_/]{1,10}$' },
    rcvpor: { type: 'string', pattern: NAME },
    rcvprt: { type: 'string', pattern: '^[A-Z]{2}$', default: 'LS' },
    rcvprn: { type: 'string', pattern: '^[A-Za-z0-9_/]{1,10}$' },
    salesOrg: { type: 'string', pattern: '^[A-Za-z0-9]{1,4}$' },
    distributionChannel: { type: 'string', pattern: '^[A-Za-z0-9]{1,2}$' },
    division: { type: 'string', pattern: '^[A-Za-z0-9]{1,2}$' },
    orderType: { type: 'string', pattern: '^[A-Za-z0-9]{1,4}$' },
    poType: { type: 'string', pattern: '^[A-Za-z0-9]{1,4}$' },
    units: { type: 'object', additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9]{1,3}$' } },
    textId: { type: 'string', pattern: '^[A-Za-z0-9]{1,4}$' },
    textLanguage: { type: 'string', pattern: '^[A-Z]{2}$' },
    sendPrices: { type: 'boolean' },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 600000 },
  },
} as const;

/** A stable key of (flow, order, version): the same send repeated carries the same key. */
export function sendKey(flow: string, order: OutboundOrder, version: string): string {
  return createHash('sha256').update(`${flow}\0${order.number}\0${version}`).digest('hex');
}

/**
 * EDI_DC40/ARCKEY of a send: SAP's IDoc inbound treats ARCKEY values of the form `urn:sap.com:msgid=<32
 * hex>` as the message id of an exactly-once transfer (SAP message EA728 explains the rule for IDoc over
 * SOAP; the XML-HTTP adapter and PI/Integration Suite pass the same id on) and drops a message id it has
 * already received. We only post a version again when the crash window hit (POST answered, the answer not
 * yet recorded); the id is the same then, so SAP drops the duplicate instead of creating a second order.
 * Second line of defence: E1EDK02 QUALF 001 carries our order number, which SD's duplicate purchase
 * order check (sales document type customizing, "Check PO number") reports when it is enabled.
 */
export function arckey(flow: string, order: OutboundOrder, version: string): string {
  return `urn:sap.com:msgid=${sendKey(flow, order, version).slice(0, 32)}`;
}

/** EDI_DC40/DOCNUM of a send: 16 digits, stable per send (SAP replaces it with its own number on receipt and keeps ours as reference). */
export function docnum(flow: string, order: OutboundOrder, version: string): string {
  return (BigInt(`0x${sendKey(flow, order, version).slice(0, 15)}`) % 10n ** 16n).toString().padStart(16, '0');
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
/** SAP's CHAR fields have a length: longer values are cut (by characters), never sent to be refused. */
const cut = (s: string, n: number): string => [...s].slice(0, n).join('');
/** A decimal as IDoc numbers are written: no exponent, no trailing fraction zeros. */
const num = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

const ymd = (d: Date): string => d.toISOString().slice(0, 10).replace(/-/g, '');
const hms = (d: Date): string => d.toISOString().slice(11, 19).replace(/:/g, '');

type Field = [string, string | null | undefined];

class Writer {
  private out: string[] = [];
  private depth = 1;
  open(segment: string): this {
    this.out.push(`${'  '.repeat(this.depth)}<${segment} SEGMENT="1">`);
    this.depth++;
    return this;
  }
  fields(fields: Field[]): this {
    for (const [name, value] of fields) {
      if (value === null || value === undefined || value === '') continue;
      this.out.push(`${'  '.repeat(this.depth)}<${name}>${esc(value)}</${name}>`);
    }
    return this;
  }
  close(segment: string): this {
    this.depth--;
    this.out.push(`${'  '.repeat(this.depth)}</${segment}>`);
    return this;
  }
  segment(name: string, fields: Field[]): this {
    return this.open(name).fields(fields).close(name);
  }
  text(): string {
    return this.out.join('\n');
  }
}

export interface Orders05Context {
  flow: string;
  version: string;
  /** When the IDoc is made (EDI_DC40 CREDAT/CRETIM). */
  now?: Date;
}

/**
 * The ORDERS05 IDoc-XML of one order. Throws MAG_ERR_SEND_REFUSED when the order cannot be written for
 * SAP: the legal entity has no SAP customer number, a line's product no SAP material number.
 */
export function writeOrders05(order: OutboundOrder, o: IdocOrdersOptions, ctx: Orders05Context): string {
  const customer = order.legalEntity.systemId;
  if (!customer) {
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `order ${order.number}: legal entity ${order.legalEntity.code} has no SAP customer number (an external id in the flow's source.system); load it from DEBMAS or set it, then change the order to send it`);
  }
  const noMaterial = order.lines.filter((l) => !l.systemId);
  if (noMaterial.length) {
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `order ${order.number}: ${noMaterial.map((l) => `line ${l.lineNo} (SKU ${l.sku})`).join(', ')} ${noMaterial.length > 1 ? 'have' : 'has'} no SAP material number (an external id in the flow's source.system)`);
  }
  const now = ctx.now ?? new Date();
  const w = new Writer();
  w.segment('EDI_DC40', [
    ['TABNAM', 'EDI_DC40'], ['MANDT', o.client], ['DOCNUM', docnum(ctx.flow, order, ctx.version)], ['DIRECT', '2'],
    ['IDOCTYP', 'ORDERS05'], ['MESTYP', 'ORDERS'],
    ['SNDPOR', o.sndpor], ['SNDPRT', o.sndprt ?? 'LS'], ['SNDPRN', o.sndprn],
    ['RCVPOR', o.rcvpor], ['RCVPRT', o.rcvprt ?? 'LS'], ['RCVPRN', o.rcvprn],
    ['CREDAT', ymd(now)], ['CRETIM', hms(now)], ['ARCKEY', arckey(ctx.flow, order, ctx.version)],
  ]);
  w.segment('E1EDK01', [['CURCY', order.currency], ['BSART', o.poType], ['BELNR', cut(order.number, 35)]]);
  for (const [qualf, value] of [['008', o.salesOrg], ['007', o.distributionChannel], ['006', o.division], ['012', o.orderType]] as const) {
    if (value) w.segment('E1EDK14', [['QUALF', qualf], ['ORGID', value]]);
  }
  w.segment('E1EDK03', [['IDDAT', '012'], ['DATUM', ymd(order.createdAt)]]);
  const name = cut(order.legalEntity.fullName ?? order.legalEntity.name, 35);
  for (const parvw of ['AG', 'WE']) {
    w.segment('E1EDKA1', [['PARVW', parvw], ['PARTN', cut(customer, 17)], ['NAME1', name], ['TELF1', order.client.phone ? cut(order.client.phone, 25) : null]]);
  }
  w.segment('E1EDK02', [['QUALF', '001'], ['BELNR', cut(order.number, 35)], ['DATUM', ymd(order.createdAt)]]);
  if (order.comment?.trim()) {
    w.open('E1EDKT1').fields([['TDID', o.textId ?? '0001'], ['TSSPRAS_ISO', o.textLanguage ?? 'RU']]);
    for (const line of textLines(order.comment, 70)) w.segment('E1EDKT2', [['TDLINE', line], ['TDFORMAT', '*']]);
    w.close('E1EDKT1');
  }
  const prices = o.sendPrices ?? true;
  for (const l of order.lines) {
    const unit = l.unit ?? l.product.unitCode;
    w.open('E1EDP01').fields([
      ['POSEX', String(l.lineNo * 10).padStart(6, '0')], ['MENGE', num(l.quantity)],
      ['MENEE', unit ? cut(o.units?.[unit] ?? unit.toUpperCase(), 3) : null],
      ['VPREI', prices ? num(l.price) : null], ['PEINH', prices ? '1' : null], ['NETWR', prices ? num(l.amount) : null],
      ['CURCY', prices ? order.currency : null],
    ]);
    w.segment('E1EDP19', [['QUALF', '002'], ['IDTNR', cut(l.systemId!, 35)], ['KTEXT', cut(l.name, 40)]]);
    w.close('E1EDP01');
  }
  w.segment('E1EDS01', [['SUMID', '001'], ['SUMME', String(order.lines.length)]]);
  w.segment('E1EDS01', [['SUMID', '002'], ['SUMME', num(order.total)], ['SUNIT', order.currency]]);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ORDERS05>\n <IDOC BEGIN="1">\n${w.text()}\n </IDOC>\n</ORDERS05>\n`;
}

/** Text cut into lines of at most `width` characters, at spaces where possible. */
function textLines(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.replace(/\r\n?/g, '\n').split('\n')) {
    let rest = [...para.trim()];
    if (!rest.length) continue;
    while (rest.length > width) {
      let at = rest.lastIndexOf(' ', width);
      if (at <= 0) at = width;
      out.push(rest.slice(0, at).join('').trimEnd());
      rest = rest.slice(at);
      while (rest[0] === ' ') rest.shift();
    }
    if (rest.length) out.push(rest.join(''));
  }
  return out;
}

/**
 * Posts one order version. 2xx: delivered (SAP's own order number comes later, with the ORDRSP).
 * Never posts a version the flow already had (the core does not call send for it); a repeat after a
 * crash carries the same ARCKEY, which SAP drops. A change after the order reached SAP is not posted:
 * ORDERS would create a second sales order, and order changes (ORDCHG) are not built yet.
 */
export async function sendOrders05(order: OutboundOrder, ctx: SendContext): Promise<SendResult> {
  const o = ctx.options as unknown as IdocOrdersOptions;
  if (ctx.previous) {
    return { outcome: 'unchanged', externalNumber: ctx.previous.externalNumber ?? undefined, note: `order ${order.number} is already in SAP (sent as ORDERS); changes are not sent (ORDCHG not supported)` };
  }
  const xml = writeOrders05(order, o, { flow: ctx.flow, version: ctx.version });
  const what = `${ctx.flow}: POST ORDERS05 of order ${order.number} to ${new URL(o.url).origin}`;
  const headers: Record<string, string> = { 'content-type': 'application/xml; charset=utf-8' };
  const auth = basicAuth(o, ctx.env, what);
  if (auth) headers.authorization = auth;
  const a = await request(o.url, { method: 'POST', headers, body: xml, timeoutMs: o.timeoutMs ?? 30_000, signal: ctx.signal }, what);
  if (a.status < 200 || a.status >= 300) throw failure(a, what, clip(a.body));
  return { outcome: 'accepted', externalRef: arckey(ctx.flow, order, ctx.version) };
}

export const idocOrdersConnector: Connector = {
  kind: 'sap.idoc.orders',
  optionsSchema: idocOrdersOptionsSchema,
  async *parse(_input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', `${ctx.fileName}: connector sap.idoc.orders only sends orders (a flow with target: orders); SAP's IDocs come in through sap.idoc`);
  },
  outbound: { send: sendOrders05 },
};
