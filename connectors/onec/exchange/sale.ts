// The `type=sale` half of 1C's exchange with a site, plugged into the exchange router: 1C asks for new
// and changed orders (query), confirms them (success), sends order changes back (file, applied on
// receipt as 1C-Bitrix does; import for the protocol that stores first) and reads the reference lists
// (info). checkauth and init are the router's, as for catalog.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { isMagistralError, type StoredFlow } from '../../../src/port/index.ts';
import { writeOrderDocuments } from '../commerceml/order-writer.ts';
import { readOrderDocuments } from '../commerceml/reader.ts';
import type { OrderDocument } from '../commerceml/order-document.ts';
import { checkedName, ExchangeFailure, type ReceivedFile } from './files.ts';
import { isArchiveName } from './names.ts';
import type { ExchangeCall, ExchangeReply, ExchangeTypeHandler } from './router.ts';
import { collectChanges } from './sale-apply.ts';
import type { IncomingOrder } from './sale-changes.ts';
import { renderSaleInfo } from './sale-info.ts';
import { saleOptionsProperties, saleSettings, type SaleSettings } from './sale-options.ts';
import { loadOrderDocuments, markSentOrdersExported, recordPendingOrders } from './sale-query.ts';
import { isTimeZone, toLocal } from './sale-time.ts';
import { unpackArchive } from './unzip.ts';
import { onecTables } from './tables.ts';

/** The buyer of a document: the counterparty with Роль «Покупатель», else the only one. */
function buyerOf(d: OrderDocument): IncomingOrder['buyer'] {
  const c = d.counterparties.find((x) => x.role.trim().toLowerCase() === 'покупатель') ?? (d.counterparties.length === 1 ? d.counterparties[0] : undefined);
  if (!c || (!c.id.trim() && !c.inn.trim())) return undefined;
  return { id: c.id, inn: c.inn, kpp: c.kpp, name: c.officialName || c.fullName || c.name, contactId: c.representatives[0]?.id ?? '' };
}

/** Order documents of a CommerceML file as the sale exchange reads them (the commerceml reader's). */
export async function* incomingOrders(input: Readable, fileName: string): AsyncGenerator<IncomingOrder> {
  for await (const d of readOrderDocuments(input, fileName)) {
    yield {
      id: d.id, number: d.number, requisites: d.requisites, line: d.line,
      ...(d.erpNumber !== undefined ? { erpNumber: d.erpNumber } : {}),
      ...(d.erpDate !== undefined ? { erpDate: d.erpDate } : {}),
      ...(d.deletionMark !== undefined ? { deletionMark: d.deletionMark } : {}),
      date: d.date, time: d.time, currency: d.currency, amount: d.amount, comment: d.comment,
      ...(buyerOf(d) ? { buyer: buyerOf(d) } : {}),
      lines: d.lines.map((l) => ({ id: l.id, article: l.article, name: l.name, quantity: l.quantity, price: l.price, amount: l.amount, unit: l.unit.text || l.unit.code })),
    };
  }
}

/**
 * The sale settings of an exchange: the first of its flows (by name) that sets any sale option, else
 * the first flow — every flow of an exchange is one endpoint, so one of them configures the orders.
 */
export function saleFlow(flows: readonly StoredFlow[]): StoredFlow | undefined {
  const keys = Object.keys(saleOptionsProperties);
  const sorted = [...flows].sort((a, b) => a.name.localeCompare(b.name));
  return sorted.find((f) => keys.some((k) => k in (f.definition.source.options ?? {}))) ?? sorted[0];
}

function settingsOf(call: ExchangeCall): SaleSettings {
  const flow = saleFlow(call.flows);
  if (!flow) throw new ExchangeFailure(`no flow serves exchange '${call.exchange}'`);
  const s = saleSettings({ id: flow.id, system: flow.definition.source.system, options: flow.definition.source.options as Record<string, unknown> | undefined });
  // The schema cannot know the zones of the runtime: an unknown one is the flow's error, said plainly.
  if (!isTimeZone(s.timeZone)) throw new ExchangeFailure(`flow ${flow.name}: saleTimeZone '${s.timeZone}' is not an IANA time zone (e.g. Europe/Moscow)`);
  return s;
}

const source = (call: ExchangeCall): string => `onec-sale:${call.exchange}`;

/** `mode=query`: the pending orders as one CommerceML document, what was sent remembered in the session. */
async function query(call: ExchangeCall): Promise<ExchangeReply> {
  const s = settingsOf(call);
  const ids = await recordPendingOrders(call.port, call.session.id, s.queryLimit);
  const docs = await loadOrderDocuments(call.port, ids, s);
  const now = toLocal(new Date(), s.timeZone);
  const body = writeOrderDocuments(docs, { version: s.version, encoding: s.encoding, generatedAt: `${now.date}T${now.time}` });
  call.log.info({ orders: docs.length, bytes: body.length, version: s.version }, 'orders sent to 1C (sale query)');
  return { contentType: `application/xml; charset=${s.encoding}`, body };
}

/** `mode=success`: the orders of the session's last query are exported (at the version sent). */
async function success(call: ExchangeCall): Promise<ExchangeReply> {
  const marked = await markSentOrdersExported(call.port, call.session.id);
  call.log.info({ marked }, '1C confirmed the orders of its last sale query');
  return { status: 'success', message: '' };
}

async function info(call: ExchangeCall): Promise<ExchangeReply> {
  const s = settingsOf(call);
  const body = renderSaleInfo(await call.port.orders.statuses(), s.paymentSystems, s.deliveryServices, s.encoding);
  return { contentType: `application/xml; charset=${s.encoding}`, body };
}

const ROOT_CLOSE = [Buffer.from('КоммерческаяИнформация>', 'utf8'), iconv.encode('КоммерческаяИнформация>', 'win1251')];
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
/** The end-of-central-directory record, within the last bytes of a whole archive. */
const ZIP_END = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/** The first and last bytes of a file (a zip's magic, an XML root's closing tag). */
async function ends(file: string, size: number): Promise<{ head: Buffer; tail: Buffer }> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 4));
    await fh.read(head, 0, head.length, 0);
    const n = Math.min(size, 256);
    const tail = Buffer.alloc(n);
    await fh.read(tail, 0, n, size - n);
    let end = tail.length;
    while (end > 0 && [0x20, 0x09, 0x0a, 0x0d].includes(tail[end - 1]!)) end--;
    return { head, tail: tail.subarray(0, end) };
  } finally {
    await fh.close();
  }
}

const endsWithRoot = (tail: Buffer): boolean => ROOT_CLOSE.some((c) => tail.length >= c.length && tail.subarray(tail.length - c.length).equals(c));

async function setFileState(call: ExchangeCall, id: number, state: 'imported' | 'failed', error: string | null): Promise<void> {
  await onecTables(call.port).updateTable('onec_files').set({ state, error, updated_at: new Date() }).where('id', '=', id).execute();
}

/**
 * `mode=file`: the router appends the body to the session's file. 1C splits a file larger than
 * file_limit into POSTs of exactly file_limit bytes, so a POST of that size whose file does not yet end
 * with the root's closing tag (an archive: its end record) waits for the rest (`success`). Otherwise the file is
 * complete and is applied now, as 1C-Bitrix does: `success` with a line per problem, or `failure`.
 */
async function file(call: ExchangeCall): Promise<ExchangeReply> {
  const raw = call.query.filename;
  if (!raw) throw new ExchangeFailure('mode=file needs filename=');
  const name = checkedName(raw);
  const before = await onecTables(call.port).selectFrom('onec_files').select(['size_bytes', 'state'])
    .where('session_id', '=', call.session.id).where('name', '=', name).executeTakeFirst();
  const base = before && before.state === 'receiving' ? Number(before.size_bytes) : 0;
  const f = await call.receiveFile(raw);
  const { head, tail } = await ends(f.path, f.size);
  const zip = head.equals(ZIP_MAGIC) || isArchiveName(f.name);
  const complete = zip ? tail.includes(ZIP_END) : endsWithRoot(tail);
  if (f.size - base >= call.settings.fileLimit && !complete) {
    call.log.debug({ file: f.name, bytes: f.size, chunks: f.chunks }, '1C order file chunk received; waiting for the rest');
    return { status: 'success', message: '' };
  }
  return apply(call, f, zip);
}

/** `mode=import&filename=…` (1C's protocol that stores with `file`, then imports): applies once. */
async function importMode(call: ExchangeCall): Promise<ExchangeReply> {
  const raw = call.query.filename;
  if (!raw) throw new ExchangeFailure('mode=import needs filename=');
  const name = checkedName(raw);
  const row = await onecTables(call.port).selectFrom('onec_files').selectAll().where('session_id', '=', call.session.id).where('name', '=', name).executeTakeFirst();
  if (!row) return { status: 'failure', message: `${name}: no such file was sent in this session` };
  if (row.state === 'imported') return { status: 'success', message: '' };
  if (row.state === 'failed') return { status: 'failure', message: row.error ?? `${name}: failed` };
  const f: ReceivedFile = { id: Number(row.id), name: row.name, path: row.path, size: Number(row.size_bytes), chunks: row.chunks };
  const { head } = await ends(f.path, f.size);
  return apply(call, f, head.equals(ZIP_MAGIC) || isArchiveName(f.name));
}

/** Reads every document of the file (or of the archive's entries) first, then applies them. */
async function apply(call: ExchangeCall, f: ReceivedFile, zip: boolean): Promise<ExchangeReply> {
  const s = settingsOf(call);
  let mapped;
  try {
    const files = zip
      ? (await unpackArchive(f.path, f.name, call.session, { maxBytes: call.settings.unzipMaxBytes, maxRatio: call.settings.unzipMaxRatio }))
        .filter((e) => /\.xml$/i.test(e.name)).map((e) => ({ name: e.name, path: e.path }))
      : [{ name: f.name, path: f.path }];
    mapped = [];
    const statuses = await call.port.orders.statuses();
    for (const x of files) {
      mapped.push(...await collectChanges(incomingOrders(createReadStream(x.path), x.name), statuses, { timeZone: s.timeZone, statusMap: s.statusMap, system: s.system }));
    }
  } catch (e) {
    if (!isMagistralError(e) && !(e instanceof ExchangeFailure)) throw e;
    // A malformed file or archive: nothing was applied (every document is read before any change).
    await setFileState(call, f.id, 'failed', e.message);
    call.log.warn({ file: f.name, reason: e.message }, 'order file from 1C refused');
    return { status: 'failure', message: e.message };
  }
  const report = await call.port.orders.applyChanges(mapped, source(call));
  await setFileState(call, f.id, 'imported', null);
  const summary = { file: f.name, documents: report.documents, changed: report.changed, unchanged: report.unchanged, notFound: report.notFound, created: report.created };
  if (report.warnings.length) call.log.warn({ ...summary, warnings: report.warnings }, 'order file from 1C applied with problems');
  else call.log.info(summary, 'order file from 1C applied');
  // As 1C-Bitrix answers: `success`, then one line per problem for 1C's exchange log.
  return { status: 'success', message: report.warnings.join('\n') };
}

export const saleHandler: ExchangeTypeHandler = {
  modes: { query, success, file, import: importMode, info },
};

