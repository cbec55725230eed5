// The stock of a 1C offers file loads directly beside its prices (direct-sink.ts, sink.ts DirectLeader):
// one pass, two first loads, the products numbered once by the prices' load, which inserts the
// placeholders of every product either met; the stock commits after the prices or not at all. No
// workers run here: the test drives the extract and merge stages itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.ts';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { applyFlows } from '../../src/pipeline/flows.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { offersPackage } from '../helpers/samples.ts';
import { exampleOnecFlows } from '../helpers/onec-exchange.ts';

const USER = 'companion';
const PASSWORD = 'companion-password';

const price = (pt: string, v: number) => `<Цена><ИдТипаЦены>${pt}</ИдТипаЦены><ЦенаЗаЕдиницу>${v}</ЦенаЗаЕдиницу></Цена>`;
const stock = (wh: string, q: number) => `<Склад ИдСклада="${wh}" КоличествоНаСкладе="${q}"/>`;

/** An offers file; `twice`: p-1's price of pt-a comes twice (a duplicate key: the prices' direct load fails). */
function offers(twice: boolean): Buffer {
  return offersPackage(`\t\t<ТипыЦен><ТипЦены><Ид>pt-a</Ид><Наименование>Опт</Наименование><Валюта>RUB</Валюта></ТипЦены><ТипЦены><Ид>pt-b</Ид><Наименование>Розница</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>
\t\t<Склады><Склад><Ид>wh-1</Ид><Наименование>Главный</Наименование></Склад><Склад><Ид>wh-2</Ид><Наименование>Южный</Наименование></Склад></Склады>
\t\t<Предложения>
\t\t\t<Предложение><Ид>p-1</Ид><Цены>${price('pt-a', 10)}${price('pt-b', 12)}${twice ? price('pt-a', 11) : ''}</Цены>${stock('wh-1', 3)}</Предложение>
\t\t\t<Предложение><Ид>p-2</Ид><Цены>${price('pt-a', 20)}</Цены>${stock('wh-1', 4)}${stock('wh-2', 5)}</Предложение>
\t\t\t<Предложение><Ид>p-3</Ид>${stock('wh-2', 6)}</Предложение>
\t\t</Предложения>`, false);
}

async function setUp(label: string): Promise<{ tp: TestPipeline; app: FastifyInstance; url: string }> {
  process.env.ONEC_USER = USER;
  process.env.ONEC_PASSWORD = PASSWORD;
  const tp = await createTestPipeline(label, { workers: false });
  await applyFlows(tp.rt.db, await exampleOnecFlows('default', '', { fileLimit: 64 << 20 }));
  const app = await buildServer({ ...tp.rt, mode: 'full' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { tp, app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}/exchange/onec/default` };
}

/** Uploads `file` and starts its import; answers the ids of its runs by flow, the heads (price types, warehouses) merged. */
async function upload(tp: TestPipeline, url: string, file: Buffer): Promise<(flow: string) => number> {
  const call = async (params: Record<string, string>, init: RequestInit = {}) =>
    iconv.decode(Buffer.from(await (await fetch(`${url}?${new URLSearchParams(params)}`, init)).arrayBuffer()), 'win1251').split('\n');
  const auth = await call({ type: 'catalog', mode: 'checkauth' }, { headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` } });
  expect(auth[0]).toBe('success');
  const cookie = { cookie: `${auth[1]}=${auth[2]}` };
  expect((await call({ type: 'catalog', mode: 'file', filename: 'offers_c.xml' }, { method: 'POST', body: new Uint8Array(file), headers: cookie }))[0]).toBe('success');
  expect((await call({ type: 'catalog', mode: 'import', filename: 'offers_c.xml' }, { headers: cookie }))[0]).toBe('progress');
  const runs = (await tp.rt.pool.query<{ id: string; name: string }>(`SELECT r.id, f.name FROM runs r JOIN flows f ON f.id = r.flow_id ORDER BY r.id`)).rows;
  const id = (name: string) => Number(runs.find((r) => r.name === name)!.id);
  for (const head of ['onec-price-types', 'onec-warehouses']) {
    expect(await extractRun(tp.rt, id(head))).toBe('staged');
    expect(await mergeRun(tp.rt, id(head))).toBe('done');
  }
  return id;
}

async function store(tp: TestPipeline) {
  const q = async (text: string) => (await tp.rt.pool.query(text)).rows;
  return {
    prices: await q(`SELECT pt.code AS pt, p.code AS product, x.value::float AS value FROM prices x JOIN price_types pt ON pt.id = x.price_type_id
      JOIN products p ON p.id = x.product_id ORDER BY 1, 2`),
    stock: await q(`SELECT w.code AS wh, p.code AS product, s.quantity::float AS quantity FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
      JOIN products p ON p.id = s.product_id ORDER BY 1, 2`),
    // Rows that name a product or warehouse the store does not hold (an inner join above would hide them).
    dangling: Number((await q(`SELECT count(*) AS n FROM stock s WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = s.product_id)
      OR NOT EXISTS (SELECT 1 FROM warehouses w WHERE w.id = s.warehouse_id)`))[0].n),
    codes: (await q(`SELECT external_id FROM external_ids WHERE entity = 'product' AND system = 'onec' ORDER BY 1`)).map((r) => r.external_id as string),
  };
}

const STOCK = [
  { wh: 'wh-1', product: 'p-1', quantity: 3 }, { wh: 'wh-1', product: 'p-2', quantity: 4 },
  { wh: 'wh-2', product: 'p-2', quantity: 5 }, { wh: 'wh-2', product: 'p-3', quantity: 6 },
];

describe('the stock of an offers file loads directly beside its prices', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => ({ tp, app, url } = await setUp('oneccomp')));
  afterAll(async () => {
    await app?.close();
    await tp?.close();
  });

  it('in the one pass; a product only the stock names gets its placeholder from the prices load', async () => {
    const id = await upload(tp, url, offers(false));
    expect(await extractRun(tp.rt, id('onec-prices'))).toBe('merged');
    const runs = (await tp.rt.pool.query<{ name: string; state: string; load_path: string }>(`SELECT f.name, r.state, r.load_path FROM runs r
      JOIN flows f ON f.id = r.flow_id WHERE f.name IN ('onec-prices', 'onec-stock') ORDER BY f.name`)).rows;
    expect(runs).toEqual([{ name: 'onec-prices', state: 'done', load_path: 'direct' }, { name: 'onec-stock', state: 'done', load_path: 'direct' }]);
    const s = await store(tp);
    expect(s.prices).toEqual([
      { pt: 'pt-a', product: 'p-1', value: 10 }, { pt: 'pt-a', product: 'p-2', value: 20 }, { pt: 'pt-b', product: 'p-1', value: 12 },
    ]);
    expect(s.stock).toEqual(STOCK);
    expect(s.dangling).toBe(0);
    // p-3 was met by the stock alone: numbered by the shared resolver, inserted by the prices' load.
    expect(s.codes).toEqual(['p-1', 'p-2', 'p-3']);
    const log = (await tp.rt.pool.query<{ entity: string; inserted: string }>(`SELECT c.entity, c.inserted FROM change_log c JOIN runs r ON r.id = c.run_id
      JOIN flows f ON f.id = r.flow_id WHERE f.name = 'onec-stock' AND c.entity = 'stock'`)).rows;
    expect(log.map((r) => Number(r.inserted))).toEqual([4]);
  });
});

describe('a first load of prices that rolls back takes the stock beside it along', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => ({ tp, app, url } = await setUp('oneccompfail')));
  afterAll(async () => {
    await app?.close();
    await tp?.close();
  });

  it('nothing of the stock is committed with the prices rolled back; both are read again, alone, to the same store', async () => {
    const id = await upload(tp, url, offers(true));
    // The prices' key is duplicated: their direct load fails at its primary key and the run is read again
    // at once, alone, to staging. The stock's load waited for the prices' commit, rolled back, and went
    // back to be read alone.
    expect(await extractRun(tp.rt, id('onec-prices'))).toBe('staged');
    const st = (await tp.rt.pool.query<{ state: string }>('SELECT state FROM runs WHERE id = $1', [id('onec-stock')])).rows[0]!.state;
    expect(st).toBe('received');
    expect(Number((await tp.rt.pool.query('SELECT count(*) AS n FROM stock')).rows[0].n)).toBe(0);
    expect(await mergeRun(tp.rt, id('onec-prices'))).toBe('done');
    expect(await extractRun(tp.rt, id('onec-stock'))).toBe('merged');
    const s = await store(tp);
    expect(s.stock).toEqual(STOCK);
    expect(s.dangling).toBe(0);
    expect(s.codes).toEqual(['p-1', 'p-2', 'p-3']);
    // The duplicate key: the staged merge keeps one price per key, as it does for any payload.
    expect(s.prices.filter((p) => p.product === 'p-2' || p.pt === 'pt-b')).toEqual([{ pt: 'pt-a', product: 'p-2', value: 20 }, { pt: 'pt-b', product: 'p-1', value: 12 }]);
    expect(s.prices.filter((p) => p.product === 'p-1' && p.pt === 'pt-a')).toHaveLength(1);
  });
});
