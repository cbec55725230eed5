// The 1C sale exchange against a running server, the way 1C performs it: an order placed through the
// portal API is sent by mode=query as CommerceML shaped like 1C-Bitrix's answer (sample 08), mode=success
// marks exactly what was sent, and order files from 1C (sample 07, chunked, broken, with unknown
// orders and statuses) change our orders through mode=file — on the real PostgreSQL.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { readOrderDocuments } from '../../connectors/onec/commerceml/reader.ts';
import { applyOrderChange } from '../../src/orders/index.ts';
import { applyFlows, type Flow } from '../../src/pipeline/flows.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import { apiFixture, type ApiFixture } from '../api/api-fixture.ts';
import { all, child, readTree, requisites, SAMPLES, sampleTree, structureProblems } from './onec-sale-structure.ts';

const USER_ENV = 'MAGISTRAL_TEST_SALE_USER';
const PASSWORD_ENV = 'MAGISTRAL_TEST_SALE_PASSWORD';
const FILE_LIMIT = 65536;

let fx: ApiFixture;
let base: string;
let apiKey: string;
const ids: Record<string, number> = {};

function flow(name: string, exchange: string, options: Record<string, unknown> = {}): Flow {
  return {
    apiVersion: 'magistral/v1', kind: 'Flow', name, mapping: 'onec/catalog.products.yaml', target: 'products', mode: 'delta',
    source: { connector: 'onec.commerceml', system: 'onec', options: { exchange, userEnv: USER_ENV, passwordEnv: PASSWORD_ENV, zip: false, fileLimit: FILE_LIMIT, ...options } },
  } as Flow;
}

/** 1C's side of the protocol: checkauth with HTTP Basic, then the session cookie on every request. */
class OneC {
  private cookie = '';
  constructor(private readonly exchange: string) {}

  url(params: Record<string, string>): string {
    return `${base}/exchange/onec/${this.exchange}?${new URLSearchParams(params)}`;
  }

  async checkauth(password = 'secret-1c'): Promise<string> {
    const r = await fetch(this.url({ type: 'sale', mode: 'checkauth' }), { headers: { authorization: `Basic ${Buffer.from(`1c-user:${password}`).toString('base64')}` } });
    const text = iconv.decode(Buffer.from(await r.arrayBuffer()), 'win1251');
    const lines = text.split('\n');
    if (lines[0] === 'success') this.cookie = `${lines[1]}=${lines[2]}`;
    return text;
  }

  async get(mode: string, extra: Record<string, string> = {}): Promise<{ type: string; bytes: Buffer; text: string }> {
    const r = await fetch(this.url({ type: 'sale', mode, ...extra }), { headers: { cookie: this.cookie } });
    const bytes = Buffer.from(await r.arrayBuffer());
    expect(r.status).toBe(200);
    return { type: r.headers.get('content-type') ?? '', bytes, text: iconv.decode(bytes, 'win1251') };
  }

  async file(filename: string, body: Buffer): Promise<string> {
    const r = await fetch(this.url({ type: 'sale', mode: 'file', filename }), { method: 'POST', headers: { cookie: this.cookie, 'content-type': 'application/octet-stream' }, body: new Uint8Array(body) });
    expect(r.status).toBe(200);
    return iconv.decode(Buffer.from(await r.arrayBuffer()), 'win1251');
  }
}

async function session(exchange = 'sales', zip = false): Promise<OneC> {
  const c = new OneC(exchange);
  expect((await c.checkauth()).split('\n')[0]).toBe('success');
  expect((await c.get('init')).text).toBe(`zip=${zip ? 'yes' : 'no'}\nfile_limit=${FILE_LIMIT}`);
  return c;
}

async function zipOf(name: string, content: Buffer): Promise<Buffer> {
  const z = new yazl.ZipFile();
  z.addBuffer(content, name);
  z.end();
  const parts: Buffer[] = [];
  for await (const chunk of z.outputStream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function placeOrder(lines: Array<{ sku: string; quantity: string }>, comment?: string): Promise<string> {
  const r = await fetch(`${base}/api/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'x-contact-id': 'CT1', 'content-type': 'application/json' },
    body: JSON.stringify({ legalEntity: 'LE1', lines, ...(comment ? { comment } : {}) }),
  });
  const body = await r.json() as { number: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.number;
}

/** An order with a number of our choosing (1C's sample 07 refers to order 20). */
async function fixtureOrder(number: string): Promise<number> {
  const o = await fx.db.db.insertInto('orders').values({
    number, client_id: ids.client!, legal_entity_id: ids.le!, contact_id: ids.contact!, currency: 'RUB', total: '9683.42',
  }).returning('id').executeTakeFirstOrThrow();
  await fx.db.db.insertInto('order_lines').values({
    order_id: o.id, line_no: 1, product_id: ids.p1!, sku: 'SKU-1', name: 'Кабель', quantity: '1', unit: 'шт', price: '9683.42', amount: '9683.42',
  }).execute();
  return Number(o.id);
}

async function order(number: string) {
  return fx.db.db.selectFrom('orders').selectAll().where('number', '=', number).executeTakeFirstOrThrow();
}

async function events(number: string) {
  return (await sql<{ source: string; change: Record<string, unknown> }>`
    SELECT e.source, e.change FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.number = ${number} ORDER BY e.id`.execute(fx.db.db)).rows;
}

async function queried(c: OneC): Promise<string[]> {
  const r = await c.get('query');
  return all(readTree(r.bytes), 'Документ').map((d) => child(d, 'Номер')!.text);
}

const sample07 = (): Buffer => readFileSync(path.join(SAMPLES, '07_order_to_site_cml203_cp1251.xml'));
const win = (s: string): Buffer => iconv.encode(s, 'win1251');

/** Sample 07 with its number replaced and requisites added before «Дата оплаты». */
function sample07As(number: string, extra: Array<[string, string]> = []): Buffer {
  let text = iconv.decode(sample07(), 'win1251').replace('<Ид>20</Ид>', `<Ид>${number}</Ид>`).replace('<Номер>20</Номер>', `<Номер>${number}</Номер>`);
  const add = extra.map(([n, v]) => `<ЗначениеРеквизита><Наименование>${n}</Наименование><Значение>${v}</Значение></ЗначениеРеквизита>`).join('');
  // The document's own requisites are the ones that start with «Дата оплаты» (lines have theirs too).
  text = text.replace(/(<ЗначенияРеквизитов>)(\s*<ЗначениеРеквизита>\s*<Наименование>Дата оплаты<)/, `$1${add}$2`);
  return win(text);
}

function orderDoc(number: string, reqs: Array<[string, string]>): string {
  return `<Документ><Ид>${number}</Ид><Номер>${number}</Номер><Дата>2024-03-01</Дата><ХозОперация>Заказ товара</ХозОперация><Роль>Продавец</Роль>`
    + `<ЗначенияРеквизитов>${reqs.map(([n, v]) => `<ЗначениеРеквизита><Наименование>${n}</Наименование><Значение>${v}</Значение></ЗначениеРеквизита>`).join('')}</ЗначенияРеквизитов></Документ>`;
}

const cml = (body: string): Buffer => win(`<?xml version="1.0" encoding="windows-1251"?>\n<КоммерческаяИнформация ВерсияСхемы="2.05" ДатаФормирования="2024-03-01">\n${body}\n</КоммерческаяИнформация>\n`);

beforeAll(async () => {
  process.env[USER_ENV] = '1c-user';
  process.env[PASSWORD_ENV] = 'secret-1c';
  fx = await apiFixture('onecsale');
  await fx.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(fx.app.server.address() as { port: number }).port}`;
  const db = fx.db.db;

  const piece = await db.insertInto('units').values({ code: 'шт', name: 'Штука', okei: '796' }).returning('id').executeTakeFirstOrThrow();
  const kg = await db.insertInto('units').values({ code: 'кг', name: 'Килограмм', okei: '166' }).returning('id').executeTakeFirstOrThrow();
  const pt = await db.insertInto('price_types').values({ code: 'wholesale', name: 'Оптовая', currency: 'RUB' }).returning('id').executeTakeFirstOrThrow();
  const p1 = await db.insertInto('products').values({ code: 'SKU-1', name: 'Кабель ВВГнг 3×2,5 «Кольчуга» & <медь>', unit_id: piece.id }).returning('id').executeTakeFirstOrThrow();
  const p2 = await db.insertInto('products').values({ code: 'SKU-2', name: 'Гвозди 😀 Ä 中', unit_id: kg.id }).returning('id').executeTakeFirstOrThrow();
  ids.p1 = Number(p1.id);
  // P1 came from 1C (its GUID and an offer id with a characteristic); P2 only has our code.
  await db.insertInto('external_ids').values([
    { entity: 'product', system: 'onec', external_id: 'bd72d8f9-55bc-11d9-848a-00112f43529a#x1', internal_id: ids.p1 },
    { entity: 'product', system: 'onec', external_id: 'dee6e19a-55bc-11d9-848a-00112f43529a', internal_id: ids.p1 },
  ]).execute();
  await db.insertInto('prices').values([
    { price_type_id: pt.id, product_id: ids.p1, value: '1234.56', currency: 'RUB', factor: '1', flow_id: 0, run_id: 0 },
    { price_type_id: pt.id, product_id: Number(p2.id), value: '0.1', currency: 'RUB', factor: '1', flow_id: 0, run_id: 0 },
  ]).execute();
  const client = await db.insertInto('clients').values({ code: 'CL1', name: 'Ромашка', email: 'office@romashka.ru' }).returning('id').executeTakeFirstOrThrow();
  ids.client = Number(client.id);
  const le = await db.insertInto('legal_entities').values({
    code: 'LE1', client_id: ids.client, name: 'ООО «Ромашка»', full_name: 'Общество с ограниченной ответственностью «Ромашка»',
    inn: '7701234567', kpp: '770101001', address: '101000, Москва, ул. Мясницкая, д. 1', bank_name: 'ПАО «Банк»', bik: '044525225',
    account: '40702810900000000001', corr_account: '30101810400000000225',
  }).returning('id').executeTakeFirstOrThrow();
  ids.le = Number(le.id);
  // Entities beyond the catalog's five keep external ids too (migration 0002); the kysely type lists the five.
  await sql`INSERT INTO external_ids (entity, system, external_id, internal_id) VALUES ('legalEntity', 'onec', 'a1b2c3d4-1c-le', ${ids.le})`.execute(db);
  const contact = await db.insertInto('contacts').values({ code: 'CT1', client_id: ids.client, name: 'Иванов Иван', email: 'ivanov@romashka.ru', phone: '+7 495 111-22-33' })
    .returning('id').executeTakeFirstOrThrow();
  ids.contact = Number(contact.id);
  await db.insertInto('contact_legal_entities').values({ legal_entity_id: ids.le, contact_id: ids.contact, role: 'head', flow_id: 0, run_id: 0 }).execute();
  await db.insertInto('agreements').values({ code: 'AG1', name: 'Основной договор', client_id: ids.client, price_type_id: pt.id }).execute();
  apiKey = (await createApiKey(db, { name: 'sale-test', scopes: ['orders:write', 'orders:read'] })).key;

  await applyFlows(db, [
    flow('onec-sales', 'sales', { saleSite: '[s1] Магистраль', salePaymentMethod: 'Безналичный расчет', salePaymentSystems: [{ id: 'bank', name: 'Банковский перевод', type: 'Безналичный' }] }),
    flow('onec-sales-210', 'sales210', { saleVersion: '2.08', saleEncoding: 'utf-8', saleCurrencyNames: { RUB: 'руб' } }),
    flow('onec-sales-one', 'salesone', { saleQueryLimit: 1 }),
    flow('onec-sales-zip', 'saleszip', { zip: true }),
    flow('onec-sales-badtz', 'salesbadtz', { saleTimeZone: 'Mars/Olympus' }),
  ]);
});

afterAll(async () => {
  await fx?.close();
  delete process.env[USER_ENV];
  delete process.env[PASSWORD_ENV];
});

describe('1C sale exchange: orders to 1C', () => {
  let number: string;

  it('an order placed through the portal API appears in mode=query, shaped like sample 08, in windows-1251', async () => {
    number = await placeOrder([{ sku: 'SKU-1', quantity: '3' }, { sku: 'SKU-2', quantity: '0.125' }], 'Доставить до 10:00 «срочно»');
    const c = await session();
    const r = await c.get('query');
    expect(r.type).toBe('application/xml; charset=windows-1251');
    const head = win('<?xml version="1.0" encoding="windows-1251"?>\n<КоммерческаяИнформация');
    expect(r.bytes.subarray(0, head.length).equals(head)).toBe(true);
    const root = readTree(r.bytes);
    expect(structureProblems(root, sampleTree('08_sale_query_response_cml205_cp1251.xml'))).toEqual([]);
    const docs = all(root, 'Документ');
    expect(docs.map((d) => child(d, 'Номер')!.text)).toEqual([number]);

    // Read back with the CommerceML reader the exchange itself uses for 1C's files.
    const back = [];
    for await (const d of readOrderDocuments(Readable.from([r.bytes]), 'query.xml')) back.push(d);
    expect(back).toHaveLength(1);
    const d = back[0]!;
    const stored = await order(number);
    const lines = await fx.db.db.selectFrom('order_lines').selectAll().where('order_id', '=', stored.id).orderBy('line_no').execute();
    expect(d).toMatchObject({ id: number, number, operation: 'Заказ товара', role: 'Продавец', currency: 'RUB', rate: '1', amount: '3703.69', comment: 'Доставить до 10:00 «срочно»' });
    expect(stored.total).toBe('3703.69');
    expect(d.counterparties).toEqual([expect.objectContaining({
      id: 'a1b2c3d4-1c-le', name: 'ООО «Ромашка»', fullName: 'Общество с ограниченной ответственностью «Ромашка»',
      officialName: 'Общество с ограниченной ответственностью «Ромашка»', inn: '7701234567', kpp: '770101001', role: 'Покупатель',
      representatives: [{ relation: 'Контактное лицо', id: 'CT1', name: 'Иванов Иван' }],
    })]);
    expect(d.counterparties[0]!.contacts.map((x) => [x.type, x.value])).toEqual([['ТелефонРабочий', '+7 495 111-22-33'], ['Почта', 'ivanov@romashka.ru']]);
    // The product's 1C GUID (not the characteristic offer id); the product code where 1C never sent one.
    expect(d.lines.map((l) => [l.id, l.name, l.unit.code, l.unit.text, l.price, l.quantity, l.amount])).toEqual([
      ['dee6e19a-55bc-11d9-848a-00112f43529a', 'Кабель ВВГнг 3×2,5 «Кольчуга» & <медь>', '796', 'шт', '1234.56', '3', '3703.68'],
      ['SKU-2', 'Гвозди 😀 Ä 中', '166', 'кг', '0.10', '0.125', '0.01'],
    ]);
    expect(lines.map((l) => [l.price, l.quantity, l.amount])).toEqual([['1234.560000', '3.000000', '3703.68'], ['0.100000', '0.125000', '0.01']]);
    const req = Object.fromEntries(d.requisites.map((x) => [x.name, x.value]));
    expect(req).toMatchObject({
      'Метод оплаты': 'Безналичный расчет', 'Заказ оплачен': 'false', 'Доставка разрешена': 'false', 'Отменен': 'false', 'Финальный статус': 'false',
      'Статус заказа': '[new] Новый', 'Статуса заказа ИД': 'new', 'Комментарии покупателя': 'Доставить до 10:00 «срочно»', 'Сайт': '[s1] Магистраль',
    });
    expect(req['Дата изменения статуса']).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });

  it('utf-8 and CommerceML 2.08 where the flow says so: namespace, units as Единица, Cyrillic intact', async () => {
    const c = await session('sales210');
    const r = await c.get('query');
    expect(r.type).toBe('application/xml; charset=utf-8');
    const root = readTree(r.bytes);
    expect(root.attrs).toMatchObject({ xmlns: 'urn:1C.ru:commerceml_2', 'ВерсияСхемы': '2.08' });
    expect(structureProblems(root, sampleTree('08_sale_query_response_cml205_cp1251.xml'))).toEqual([]);
    const d = all(root, 'Документ').find((x) => child(x, 'Номер')!.text === number)!;
    expect(child(d, 'Валюта')!.text).toBe('руб');
    const [l1, l2] = all(child(d, 'Товары')!, 'Товар');
    expect(child(l1!, 'Наименование')!.text).toBe('Кабель ВВГнг 3×2,5 «Кольчуга» & <медь>');
    expect(child(l2!, 'Наименование')!.text).toBe('Гвозди 😀 Ä 中');
    expect(child(child(l2!, 'Единица')!, 'Код')!.text).toBe('166');
    expect(r.bytes.toString('utf8')).toContain('Гвозди 😀 Ä 中');
  });

  it('mode=success marks exactly what the last query sent; an order changed after the query stays pending', async () => {
    const c = await session();
    expect(await queried(c)).toEqual([number]);
    // Changed by the portal between 1C's query and its success: 1C has not seen this version.
    await applyOrderChange(fx.db.db, { number }, { comment: 'уточнение после выгрузки' }, 'test-portal');
    expect((await c.get('success')).text).toBe('success\n');
    expect(await queried(c)).toEqual([number]);
    expect((await c.get('success')).text).toBe('success\n');
    expect(await queried(c)).toEqual([]);
    const o = await order(number);
    expect(o.exported_at).not.toBeNull();
    // A second success without a query marks nothing new.
    expect((await c.get('success')).text).toBe('success\n');
    expect(await queried(c)).toEqual([]);
  });

  it('a change of an exported order makes it reappear; a new order joins it', async () => {
    const c = await session();
    await applyOrderChange(fx.db.db, { number }, { status: 'confirmed' }, 'test-portal');
    const second = await placeOrder([{ sku: 'SKU-1', quantity: '1' }]);
    const r = await c.get('query');
    const docs = all(readTree(r.bytes), 'Документ');
    expect(docs.map((d) => child(d, 'Номер')!.text)).toEqual([number, second]);
    expect(Object.fromEntries(requisites(docs[0]!))).toMatchObject({ 'Статус заказа': '[confirmed] Подтвержден', 'Статуса заказа ИД': 'confirmed' });
    // saleQueryLimit: at most that many orders per query, oldest change first; the rest come next time.
    expect(await queried(await session('salesone'))).toEqual([number]);
    expect((await c.get('success')).text).toBe('success\n');
    expect(await queried(c)).toEqual([]);
  });

  it('mode=info lists our statuses and the configured payment systems', async () => {
    const c = await session();
    const r = await c.get('info');
    expect(r.type).toBe('application/xml; charset=windows-1251');
    const root = readTree(r.bytes);
    expect(root.name).toBe('Справочник');
    const statuses = all(child(root, 'Статусы')!, 'Элемент').map((e) => [child(e, 'Ид')!.text, child(e, 'Название')!.text]);
    expect(statuses).toEqual([['new', 'Новый'], ['accepted', 'Принят'], ['confirmed', 'Подтвержден'], ['in_work', 'В работе'],
      ['shipped', 'Отгружен'], ['completed', 'Выполнен'], ['cancelled', 'Отменен']]);
    const ps = all(child(root, 'ПлатежныеСистемы')!, 'Элемент').map((e) => [child(e, 'Ид')!.text, child(e, 'Название')!.text, child(e, 'ТипОплаты')!.text]);
    expect(ps).toEqual([['bank', 'Банковский перевод', 'Безналичный']]);
    expect(child(root, 'СлужбыДоставки')!.children).toEqual([]);
  });

  it('unknown modes and wrong credentials are refused the way 1C expects', async () => {
    const c = await session();
    expect((await c.get('deactivate')).text).toBe('failure\nUnknown command');
    const bad = new OneC('sales');
    expect((await bad.checkauth('wrong')).split('\n')[0]).toBe('failure');
    const tz = await session('salesbadtz');
    expect((await tz.get('query')).text).toBe("failure\nflow onec-sales-badtz: saleTimeZone 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Moscow)");
  });
});

describe('1C sale exchange: order changes from 1C', () => {
  it('sample 07 via mode=file: status, payment and shipment with their dates, order_events written', async () => {
    await fixtureOrder('20');
    const c = await session();
    expect(await c.file('to.xml', sample07())).toBe('success\n');
    const o = await order('20');
    expect(o).toMatchObject({ status: 'completed', paid: true, shipped: true, cancelled: false });
    expect(o.paid_at!.toISOString()).toBe('2007-10-16T11:44:47.000Z');
    expect(o.shipped_at!.toISOString()).toBe('2007-10-16T11:51:27.000Z');
    const ev = await events('20');
    expect(ev).toHaveLength(1);
    expect(ev[0]!.source).toBe('onec-sale:sales');
    expect(Object.keys(ev[0]!.change).sort()).toEqual(['paid', 'paidAt', 'shipped', 'shippedAt', 'status']);
    // The same file again changes nothing.
    expect(await c.file('to.xml', sample07())).toBe('success\n');
    expect(await events('20')).toHaveLength(1);
  });

  it('1C number and date, and 1C payment and shipment dates; an exported order stays exported', async () => {
    await fixtureOrder('24');
    await sql`UPDATE orders SET exported_at = updated_at WHERE number = '24'`.execute(fx.db.db);
    const c = await session();
    const file = sample07As('24', [['Номер по 1С', 'ТК-000123'], ['Дата по 1С', '2024-03-02 09:00:00'], ['Дата оплаты по 1С', '2024-03-03 12:00:00'], ['Дата отгрузки по 1С', '2024-03-04T08:30:00']]);
    expect(await c.file('orders/to-24.xml', file)).toBe('success\n');
    const o = await order('24');
    expect(o).toMatchObject({ erp_number: 'ТК-000123', status: 'completed', paid: true, shipped: true });
    expect(o.erp_date!.toISOString()).toBe('2024-03-02T06:00:00.000Z');
    expect(o.paid_at!.toISOString()).toBe('2024-03-03T09:00:00.000Z');
    expect(o.shipped_at!.toISOString()).toBe('2024-03-04T05:30:00.000Z');
    // What came from 1C is not sent back to it.
    expect(await queried(c)).not.toContain('24');
  });

  it('an unknown order and an unknown status are reported after success; the other documents apply', async () => {
    await fixtureOrder('21');
    await fixtureOrder('25');
    const c = await session();
    const answer = await c.file('mixed.xml', cml([
      orderDoc('NOPE-1', [['Статус заказа', '[accepted] Принят']]),
      orderDoc('21', [['Статуса заказа ИД', 'Z'], ['Заказ оплачен', 'true']]),
      orderDoc('25', [['Статус заказа', 'Принят']]),
    ].join('\n')));
    expect(answer).toBe("success\norder NOPE-1 not found\ndocument 21 (line 4): unknown order status 'Z'; status not changed");
    expect(await order('21')).toMatchObject({ status: 'new', paid: true });
    expect(await order('25')).toMatchObject({ status: 'accepted' });
    const logged = fx.logs.lines.map((l) => JSON.parse(l) as { msg: string; warnings?: string[] }).find((l) => l.msg === 'order file from 1C applied with problems');
    expect(logged?.warnings).toEqual(['order NOPE-1 not found', "document 21 (line 4): unknown order status 'Z'; status not changed"]);
  });

  it('a malformed order file fails naming file, line and column, and changes nothing', async () => {
    await fixtureOrder('22');
    const c = await session();
    const answer = await c.file('bad.xml', cml([
      orderDoc('22', [['Статус заказа', '[accepted] Принят']]),
      '<Документ><Ид>22</Ид><Номер>22</Номр></Документ>',
    ].join('\n')));
    expect(answer).toMatch(/^failure\nbad\.xml:4:\d+/);
    expect(await order('22')).toMatchObject({ status: 'new' });
    expect(await events('22')).toEqual([]);
    // Its import answers the same failure; a corrected file of the same name then applies.
    expect((await c.get('import', { filename: 'bad.xml' })).text).toMatch(/^failure\nbad\.xml:4:/);
    expect(await c.file('bad.xml', cml(orderDoc('22', [['Статус заказа', '[accepted] Принят']])))).toBe('success\n');
    expect(await order('22')).toMatchObject({ status: 'accepted' });
  });

  it('a file sent in file_limit chunks is applied once its last chunk arrives', async () => {
    await fixtureOrder('23');
    const padding = `<!-- ${'x'.repeat(FILE_LIMIT)} -->`;
    const file = cml(`${padding}\n${orderDoc('23', [['Статус заказа', '[in_work] В работе'], ['Дата оплаты по 1С', '2024-05-01 10:00:00']])}`);
    expect(file.length).toBeGreaterThan(FILE_LIMIT);
    const c = await session();
    expect(await c.file('big.xml', file.subarray(0, FILE_LIMIT))).toBe('success\n');
    expect(await order('23')).toMatchObject({ status: 'new', paid: false });
    expect(await c.file('big.xml', file.subarray(FILE_LIMIT))).toBe('success\n');
    expect(await order('23')).toMatchObject({ status: 'in_work', paid: true });
    // The protocol that stores first and imports after: import of an applied file answers success, once.
    expect((await c.get('import', { filename: 'big.xml' })).text).toBe('success\n');
    expect(await events('23')).toHaveLength(1);
  });

  it('with zip=yes the order file may come as an archive: its XML entries are applied', async () => {
    await fixtureOrder('26');
    const c = await session('saleszip', true);
    expect(await c.file('orders.zip', await zipOf('orders-26.xml', sample07As('26')))).toBe('success\n');
    expect(await order('26')).toMatchObject({ status: 'completed', paid: true, shipped: true });
    expect(await events('26')).toHaveLength(1);
  });

  it('an order made in 1C (unknown to the portal) is created as an offline order: buyer, products, 1C number, date, status, payment document', async () => {
    const made = (number: string, buyer: string, lines: string): string => `<Документ><Ид>${number}</Ид><Номер>${number}</Номер><Дата>2024-03-05</Дата><Время>10:15:00</Время>`
      + `<ХозОперация>Заказ товара</ХозОперация><Роль>Продавец</Роль><Валюта>руб</Валюта><Курс>1</Курс><Сумма>4054.12</Сумма><Комментарий>Заказ по телефону</Комментарий>`
      + `<Контрагенты>${buyer}</Контрагенты><Товары>${lines}</Товары><ЗначенияРеквизитов>`
      + [['Статус заказа', '[F] Выполнен'], ['Заказ оплачен', 'true'], ['Дата оплаты по 1С', '2024-03-06 12:00:00'], ['Номер оплаты по 1С', 'ПП-000777']]
        .map(([n, v]) => `<ЗначениеРеквизита><Наименование>${n}</Наименование><Значение>${v}</Значение></ЗначениеРеквизита>`).join('')
      + '</ЗначенияРеквизитов></Документ>';
    const romashka = '<Контрагент><Ид>a1b2c3d4-1c-le</Ид><Наименование>Ромашка</Наименование><Роль>Покупатель</Роль><ИНН>7701234567</ИНН>'
      + '<Представители><Представитель><Контрагент><Отношение>Контактное лицо</Отношение><Ид>CT1</Ид><Наименование>Иванов Иван</Наименование></Контрагент></Представитель></Представители></Контрагент>';
    const line = (id: string, name: string, qty: string, price: string, sum: string, extra = '') =>
      `<Товар><Ид>${id}</Ид>${extra}<Наименование>${name}</Наименование><БазоваяЕдиница Код="796">шт</БазоваяЕдиница><ЦенаЗаЕдиницу>${price}</ЦенаЗаЕдиницу><Количество>${qty}</Количество><Сумма>${sum}</Сумма></Товар>`;
    const lines = line('dee6e19a-55bc-11d9-848a-00112f43529a#blue', 'Кабель ВВГнг (синий)', '3', '1234.56', '3703.68')
      + line('ORDER_DELIVERY', 'Доставка заказа', '1', '300.00', '300.00')
      + line('x-unknown', 'Гвозди', '0.5', '100.88', '50.44', '<Артикул>nope</Артикул>').replace('<Ид>x-unknown</Ид>', '<Ид>SKU-2</Ид>');
    const stranger = '<Контрагент><Ид>ffff-unknown</Ид><Наименование>Чужая фирма</Наименование><Роль>Покупатель</Роль><ИНН>7707083893</ИНН></Контрагент>';
    const file = cml([made('ТК-0042', romashka, lines), made('ТК-0043', stranger, lines)].join('\n'));

    const c = await session();
    const answer = await c.file('made-in-1c.xml', file);
    expect(answer.split('\n')).toEqual([
      'success',
      "document ТК-0042 (line 3): line 2 'Доставка заказа' (ORDER_DELIVERY) is not a product of the portal; left out of the offline order",
      'order ТК-0043 not found; not created as an offline order: buyer Чужая фирма (id ffff-unknown, INN 7707083893) is not a legal entity of the portal',
    ]);
    const o = await fx.db.db.selectFrom('orders').selectAll().where('erp_number', '=', 'ТК-0042').executeTakeFirstOrThrow();
    expect(o).toMatchObject({
      origin: 'offline', client_id: ids.client, legal_entity_id: ids.le, contact_id: ids.contact, currency: 'RUB', total: '4054.12',
      comment: 'Заказ по телефону', status: 'completed', paid: true,
    });
    expect(o.number).toMatch(/^M-\d{6}$/);
    expect(o.erp_date!.toISOString()).toBe('2024-03-05T07:15:00.000Z');
    expect(o.paid_at!.toISOString()).toBe('2024-03-06T09:00:00.000Z');
    const lineRows = await fx.db.db.selectFrom('order_lines').select(['line_no', 'sku', 'name', 'quantity', 'price', 'amount']).where('order_id', '=', o.id).orderBy('line_no').execute();
    expect(lineRows.map((l) => [l.line_no, l.sku, l.quantity, l.price, l.amount])).toEqual([
      [1, 'SKU-1', '3.000000', '1234.560000', '3703.68'], [2, 'SKU-2', '0.500000', '100.880000', '50.44'],
    ]);
    expect((await events(o.number)).map((e) => Object.keys(e.change).sort())).toEqual([['offline'], ['paid', 'paidAt', 'status']]);
    const docs = await fx.db.db.selectFrom('order_documents').select(['kind', 'number']).where('order_id', '=', o.id).execute();
    expect(docs).toEqual([{ kind: 'payment', number: 'ПП-000777' }]);
    // 1C made it: it is not sent back to 1C; the same file again creates nothing more.
    expect(await queried(c)).not.toContain(o.number);
    expect(await c.file('made-in-1c.xml', file)).toMatch(/^success\n/);
    const again = await fx.db.db.selectFrom('orders').select('id').where('erp_number', '=', 'ТК-0042').execute();
    expect(again).toHaveLength(1);
    expect(await fx.db.db.selectFrom('order_documents').select('id').where('order_id', '=', o.id).execute()).toHaveLength(1);
  });
});
