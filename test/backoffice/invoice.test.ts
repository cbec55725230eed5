// The invoice for payment on an order's move to 'confirmed': from 1C's sale exchange (a real exchange
// session over HTTP with the demo data set) and from the manager's confirmOrder service. The workers make
// the PDF, store it, record the order's document and write the e-mail with the invoice attached, which a
// real in-process SMTP server receives. The PDF's text (pdftotext) carries seller, payer, INNs, the total
// to the kopeck, the VAT and the amount in words; one invoice per order however often 1C repeats itself.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import iconv from 'iconv-lite';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';
import { attachmentsOf, startSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { parseEml } from '../helpers/mail.ts';
import { placeOrder } from '../../src/orders/index.ts';
import { DEMO_SELLER, setPortalSetting } from '../../src/backoffice/seller.ts';
import { filePath } from '../../src/backoffice/files.ts';
import { confirmOrder } from '../../src/backoffice/confirm-order.ts';
import { invoiceJob } from '../../src/backoffice/order-documents.ts';
import { fromKopecks, printMoney, toKopecks } from '../../src/backoffice/money.ts';
import { rubWords } from '../../src/backoffice/rub-words.ts';
import { CabinetError } from '../../src/cabinet/errors.ts';
import { listDocuments } from '../../src/backoffice/documents.ts';
import { createApiKey, KNOWN_SCOPES } from '../../src/portal/keys.ts';

let fx: CabinetFixture;
let smtp: TestSmtp;
const ids: Record<string, number> = {};

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function newOrder(lines: Array<{ sku: string; quantity: string }>): Promise<{ id: number; number: string; total: string }> {
  const db = fx.tp.rt.db;
  const placed = await placeOrder(db, { clientId: ids.c1!, contactId: ids.p1!, cityId: null, legalEntity: 'LE1', lines });
  const o = await db.selectFrom('orders').select(['id', 'number', sql<string>`total::text`.as('total')]).where('number', '=', placed.order.number).executeTakeFirstOrThrow();
  return { id: Number(o.id), number: o.number, total: o.total };
}

/** 1C's side of the exchange: checkauth with HTTP Basic, then the session cookie; an order file posted by mode=file. */
async function oneCSends(xml: string): Promise<string> {
  const url = (p: Record<string, string>) => `${fx.baseUrl}/exchange/onec/default?${new URLSearchParams({ type: 'sale', ...p })}`;
  const auth = await fetch(url({ mode: 'checkauth' }), { headers: { authorization: `Basic ${Buffer.from('1c-user:secret-1c').toString('base64')}` } });
  const lines = iconv.decode(Buffer.from(await auth.arrayBuffer()), 'win1251').split('\n');
  expect(lines[0]).toBe('success');
  const cookie = `${lines[1]}=${lines[2]}`;
  await fetch(url({ mode: 'init' }), { headers: { cookie } });
  const body = iconv.encode(`<?xml version="1.0" encoding="windows-1251"?>\n<КоммерческаяИнформация ВерсияСхемы="2.05" ДатаФормирования="2026-12-07">\n${xml}\n</КоммерческаяИнформация>\n`, 'win1251');
  const r = await fetch(url({ mode: 'file', filename: 'orders.xml' }), { method: 'POST', headers: { cookie, 'content-type': 'application/octet-stream' }, body: new Uint8Array(body) });
  expect(r.status).toBe(200);
  return iconv.decode(Buffer.from(await r.arrayBuffer()), 'win1251');
}

const orderDoc = (number: string, reqs: Array<[string, string]>): string =>
  `<Документ><Ид>${number}</Ид><Номер>${number}</Номер><Дата>2026-12-07</Дата><ХозОперация>Заказ товара</ХозОперация><Роль>Продавец</Роль>`
  + `<ЗначенияРеквизитов>${reqs.map(([n, v]) => `<ЗначениеРеквизита><Наименование>${n}</Наименование><Значение>${v}</Значение></ЗначениеРеквизита>`).join('')}</ЗначенияРеквизитов></Документ>`;

async function pdfText(sha256: string): Promise<string> {
  return execFileSync('pdftotext', ['-layout', filePath(fx.tp.dataDir, sha256), '-'], { encoding: 'utf8' });
}

/** VAT included at 22 %, computed here independently: round(total × 22 / 122) half up, on kopecks. */
const vat22 = (total: string): string => fromKopecks((toKopecks(total) * 22n * 2n + 122n) / (122n * 2n));

const mailsTo = (address: string, subject: RegExp) => smtp.received.filter((m) => m.to.includes(address) && subject.test(parseEml(m.raw).subject));

beforeAll(async () => {
  smtp = await startSmtp();
  process.env.ONEC_USER = '1c-user';
  process.env.ONEC_PASSWORD = 'secret-1c';
  fx = await cabinetFixture('invoice', { env: { SMTP_URL: smtp.url } });
  await fx.tp.applyFlowFile('ops/flows/onec.yaml');
  const db = fx.tp.rt.db;
  for (const [k, code] of [['c1', 'C1'], ['c2', 'C2']] as const) ids[k] = Number((await db.selectFrom('clients').select('id').where('code', '=', code).executeTakeFirstOrThrow()).id);
  for (const [k, code] of [['p1', 'P1'], ['p2', 'P2']] as const) ids[k] = Number((await db.selectFrom('contacts').select('id').where('code', '=', code).executeTakeFirstOrThrow()).id);
  for (const [k, code] of [['m1', 'M1'], ['m2', 'M2']] as const) ids[k] = Number((await db.selectFrom('managers').select('id').where('code', '=', code).executeTakeFirstOrThrow()).id);
}, 180_000);
afterAll(async () => {
  await fx?.close();
  await smtp?.close();
});

describe('invoice on confirm', () => {
  it('waits with the reason while the seller\'s requisites are missing, and is made once they are set', async () => {
    const o = await newOrder([{ sku: 'SKU-00001', quantity: '2' }]);
    await confirmOrder(fx.tp.rt.db, { id: ids.m1! }, o.number);
    const job = await until('the job to fail', async () => {
      const j = await invoiceJob(fx.tp.rt.db, o.id);
      return j?.state === 'failing' ? j : undefined;
    });
    expect(job.lastError).toContain('не заданы реквизиты продавца');
    expect(job.lastError).toContain('ИНН продавца');
    expect(job.lastError).toContain('расчётный счёт');
    expect(await fx.tp.rt.db.selectFrom('order_documents').select('id').where('order_id', '=', o.id).execute()).toEqual([]);
    // A bad value is refused with the key named, nothing stored.
    await expect(setPortalSetting(fx.tp.rt.db, 'seller.inn', '123')).rejects.toThrow(/seller\.inn.*10 или 12 цифр/);
    for (const [k, v] of Object.entries(DEMO_SELLER)) await setPortalSetting(fx.tp.rt.db, k, v);
    const doc = await until('the invoice', () => fx.tp.rt.db.selectFrom('order_documents').selectAll().where('order_id', '=', o.id).where('kind', '=', 'invoice').executeTakeFirst());
    expect(doc.amount).toBe(o.total);
    expect((await invoiceJob(fx.tp.rt.db, o.id))?.state).toBe('done');
  });

  it('from the 1C sale exchange: PDF with requisites, total to the kopeck, VAT and words; e-mailed with the invoice attached; once', async () => {
    const db = fx.tp.rt.db;
    // Quantities and prices that give kopecks: the total must come through exactly.
    const o = await newOrder([{ sku: 'SKU-00001', quantity: '3' }, { sku: 'SKU-00002', quantity: '7' }, { sku: 'SKU-00004', quantity: '12.5' }]);
    expect(toKopecks(o.total) % 100n).not.toBe(0n);
    const answer = await oneCSends(orderDoc(o.number, [['Статус заказа', 'Подтвержден'], ['Номер по 1С', 'ЗК-0001']]));
    expect(answer.split('\n')[0]).toBe('success');

    const doc = await until('the invoice', () => db.selectFrom('order_documents').selectAll().where('order_id', '=', o.id).where('kind', '=', 'invoice').executeTakeFirst());
    expect(doc).toMatchObject({ number: o.number, amount: o.total, content_type: 'application/pdf', source: 'portal', file_name: `Счёт на оплату ${o.number}.pdf` });
    const stored = await readFile(filePath(fx.tp.dataDir, doc.sha256!));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(doc.sha256);
    expect(stored.subarray(0, 5).toString()).toBe('%PDF-');

    const text = await pdfText(doc.sha256!);
    const flat = text.replace(/\s+/g, ' ');
    expect(flat).toContain(`Счёт на оплату № ${o.number}`);
    expect(flat).toContain('ООО «Магистраль-Опт»');
    expect(flat).toContain('ИНН 7701000013');
    expect(flat).toContain('044525225');
    expect(flat).toContain('40702810400000012345');
    expect(flat).toContain('Общество с ограниченной ответственностью «Энергомонтаж»');
    expect(flat).toContain('ИНН 7704010015');
    expect(flat).toContain('КПП 770401001');
    expect(flat).toMatch(new RegExp(`Итого: ${printMoney(o.total)}`));
    expect(flat).toMatch(new RegExp(`В том числе НДС 22 %: ${printMoney(vat22(o.total))}`));
    expect(flat).toMatch(new RegExp(`Всего к оплате: ${printMoney(o.total)}`));
    expect(flat).toContain(rubWords(o.total));
    expect(flat).toContain('Автоматический выключатель');
    expect(flat).toContain('12,5');

    // The e-mail to the order's contact, with the very bytes stored.
    const got = await until('the e-mail', async () => mailsTo('a.smirnov@energomontazh.example', new RegExp(`Заказ ${o.number} подтверждён`)).at(0));
    const mail = parseEml(got.raw.replace(/[\x80-\xff]/g, '?'));
    expect(mail.subject).toBe(`Заказ ${o.number} подтверждён — счёт на оплату № ${o.number}`);
    const att = attachmentsOf(got.raw);
    expect(att).toHaveLength(1);
    expect(att[0]!.contentType).toBe('application/pdf');
    expect(createHash('sha256').update(att[0]!.content).digest('hex')).toBe(doc.sha256);

    // 1C reports the same confirmation again (and the order moves on and back): still one invoice, one e-mail.
    await oneCSends(orderDoc(o.number, [['Статус заказа', 'Подтвержден']]));
    await oneCSends(orderDoc(o.number, [['Статус заказа', 'В работе']]));
    await oneCSends(orderDoc(o.number, [['Статус заказа', 'Подтвержден']]));
    await until('the status e-mail', async () => mailsTo('a.smirnov@energomontazh.example', new RegExp(`Заказ ${o.number}: В работе`)).at(0));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await db.selectFrom('order_documents').select('id').where('order_id', '=', o.id).where('kind', '=', 'invoice').execute()).toHaveLength(1);
    expect(mailsTo('a.smirnov@energomontazh.example', new RegExp(`Заказ ${o.number} подтверждён`))).toHaveLength(1);
    expect(await db.selectFrom('email_outbox').select('id').where('kind', '=', 'order-confirmed').where('subject', 'like', `%${o.number}%`).execute()).toHaveLength(1);
  });

  it('status e-mails: one per change, Russian status name, none for a change that is not a status change', async () => {
    const db = fx.tp.rt.db;
    const o = await newOrder([{ sku: 'SKU-00003', quantity: '1' }]);
    await oneCSends(orderDoc(o.number, [['Статус заказа', 'Принят']]));
    await oneCSends(orderDoc(o.number, [['Статус заказа', 'Принят'], ['Номер по 1С', 'ЗК-0002']]));
    await oneCSends(orderDoc(o.number, [['Статус заказа', 'Отгружен']]));
    const rows = await db.selectFrom('email_outbox').select(['subject', 'to_address']).where('kind', '=', 'order-status').where('subject', 'like', `Заказ ${o.number}:%`).orderBy('id').execute();
    expect(rows).toEqual([
      { subject: `Заказ ${o.number}: Принят`, to_address: 'a.smirnov@energomontazh.example' },
      { subject: `Заказ ${o.number}: Отгружен`, to_address: 'a.smirnov@energomontazh.example' },
    ]);
    const got = await until('delivery', async () => mailsTo('a.smirnov@energomontazh.example', new RegExp(`Заказ ${o.number}: Отгружен`)).at(0));
    expect(parseEml(got.raw).body).toContain('изменился: «Отгружен» (был «Принят»)');
  });

  it('from the manager: confirmOrder of an own client\'s order makes the invoice; another manager is refused and audited', async () => {
    const db = fx.tp.rt.db;
    const o = await newOrder([{ sku: 'SKU-00002', quantity: '5' }]);
    await expect(confirmOrder(db, { id: ids.m2!, name: 'Олег Кузнецов' }, o.number)).rejects.toThrow(CabinetError);
    await expect(confirmOrder(db, { id: ids.m2! }, o.number)).rejects.toMatchObject({ status: 403 });
    const denied = await db.selectFrom('audit_log').select(['actor_id', 'outcome', 'action']).where('action', '=', 'order.confirm').where('outcome', '=', 'denied').execute();
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied[0]).toMatchObject({ actor_id: String(ids.m2), outcome: 'denied' });
    expect((await db.selectFrom('orders').select('status').where('id', '=', o.id).executeTakeFirstOrThrow()).status).toBe('new');

    const r = await confirmOrder(db, { id: ids.m1!, name: 'Ирина Петрова', ip: '10.0.0.7' }, o.number);
    expect(r).toMatchObject({ number: o.number, changed: true });
    expect((await confirmOrder(db, { id: ids.m1! }, o.number)).changed).toBe(false);
    const doc = await until('the invoice', () => db.selectFrom('order_documents').selectAll().where('order_id', '=', o.id).where('kind', '=', 'invoice').executeTakeFirst());
    expect(doc.amount).toBe(o.total);
    const flat = (await pdfText(doc.sha256!)).replace(/\s+/g, ' ');
    expect(flat).toContain(`Всего к оплате: ${printMoney(o.total)}`);
    expect(flat).toContain(rubWords(o.total));
    const ev = await db.selectFrom('order_events').select('source').where('order_id', '=', o.id).orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(ev.source).toBe(`manager:${ids.m1}`);
    const ok = await db.selectFrom('audit_log').select(['ip', 'client_id']).where('action', '=', 'order.confirm').where('outcome', '=', 'ok').where('details', '@>', sql<never>`${JSON.stringify({ order: o.number })}::jsonb`).executeTakeFirstOrThrow();
    expect(ok).toMatchObject({ ip: '10.0.0.7', client_id: ids.c1 });
    await until('the e-mail', async () => mailsTo('a.smirnov@energomontazh.example', new RegExp(`Заказ ${o.number} подтверждён`)).at(0));
  });

  it('1C\'s payment and shipment documents of a portal order are its documents, with Russian kind names', async () => {
    const db = fx.tp.rt.db;
    const o = await newOrder([{ sku: 'SKU-00003', quantity: '2' }]);
    await oneCSends(orderDoc(o.number, [['Статус заказа', 'Отгружен'], ['Номер отгрузки по 1С', 'РН-000555'], ['Дата отгрузки по 1С', '2026-12-06 10:00:00'], ['Номер оплаты по 1С', 'ПП-000321'], ['Дата оплаты по 1С', '2026-12-05 12:00:00']]));
    const docs = await db.selectFrom('order_documents').select(['kind', 'number', 'source']).where('order_id', '=', o.id).orderBy('kind').execute();
    expect(docs).toEqual([
      { kind: 'payment', number: 'ПП-000321', source: 'onec-sale:default' },
      { kind: 'shipment', number: 'РН-000555', source: 'onec-sale:default' },
    ]);
    const seen = await listDocuments(db, { clientId: ids.c1!, contactId: ids.p1! }, {});
    expect(seen.filter((d) => d.orderNumber === o.number).map((d) => `${d.kindName} № ${d.number}`).sort()).toEqual(['Оплата № ПП-000321', 'Отгрузка № РН-000555']);
    // The subordinate does not see the head's order, nor its documents.
    const sub = await listDocuments(db, { clientId: ids.c1!, contactId: ids.p2! }, {});
    expect(sub.filter((d) => d.orderNumber === o.number)).toEqual([]);
  });

  it('the portal API obeys the same rule: the order\'s documents and the invoice PDF for who sees the order, 404 for anyone else', async () => {
    const db = fx.tp.rt.db;
    const doc = await db.selectFrom('order_documents as d').innerJoin('orders as o', 'o.id', 'd.order_id').select(['d.id', 'd.sha256', 'o.number'])
      .where('d.kind', '=', 'invoice').where('o.contact_id', '=', ids.p1!).orderBy('d.id').executeTakeFirstOrThrow();
    const key = (await createApiKey(db, { name: 'docs', scopes: [...KNOWN_SCOPES] })).key;
    const get = (url: string, contact: string | null, client = 'C1') => fetch(`${fx.baseUrl}${url}`, {
      headers: { authorization: `Bearer ${key}`, 'x-client-id': client, ...(contact ? { 'x-contact-id': contact } : {}) },
    });
    const list = await get(`/api/v1/orders/${doc.number}/documents`, 'P1');
    expect(list.status).toBe(200);
    const body = await list.json() as { documents: Array<{ id: number; kind: string; kindName: string; file: string | null }> };
    expect(body.documents).toContainEqual(expect.objectContaining({ id: doc.id, kind: 'invoice', kindName: 'Счёт на оплату', file: `/api/v1/documents/${doc.id}/file` }));
    const file = await get(`/api/v1/documents/${doc.id}/file`, 'P1');
    expect(file.status).toBe(200);
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    expect(createHash('sha256').update(Buffer.from(await file.arrayBuffer())).digest('hex')).toBe(doc.sha256);
    expect((await get(`/api/v1/documents/${doc.id}/file`, null)).status).toBe(200);
    // The subordinate (not the order's contact, not a head), another client, a forged id: not there.
    expect((await get(`/api/v1/orders/${doc.number}/documents`, 'P2')).status).toBe(404);
    expect((await get(`/api/v1/documents/${doc.id}/file`, 'P2')).status).toBe(404);
    expect((await get(`/api/v1/documents/${doc.id}/file`, null, 'C2')).status).toBe(404);
    expect((await get('/api/v1/documents/999999999/file', 'P1')).status).toBe(404);
    expect((await get('/api/v1/documents/abc/file', 'P1')).status).toBe(400);
  });
});
