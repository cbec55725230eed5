// One file, one parse: the runs an exchange makes from a file are read in a single pass even when
// two workers take two of them (prices and stock are queued together) at the same moment. No
// workers run here: the test drives the extract and merge stages itself, so the two extracts really
// start together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { parseAllDocuments } from 'yaml';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.ts';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { applyFlows, checkFlow } from '../../src/pipeline/flows.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { REPO_DIR, type Flow } from '../../src/schemas/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { offersPackage } from '../helpers/samples.ts';
import { registry } from '../helpers/registry.ts';

const USER = 'shared-read';
const PASSWORD = 'shared-read-password';

const offers = offersPackage(`\t\t<ТипыЦен><ТипЦены><Ид>sr-pt</Ид><Наименование>Опт</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>
\t\t<Склады><Склад><Ид>sr-wh</Ид><Наименование>Главный</Наименование></Склад></Склады>
\t\t<Предложения>
\t\t\t<Предложение><Ид>sr-1</Ид><Цены><Цена><ИдТипаЦены>sr-pt</ИдТипаЦены><ЦенаЗаЕдиницу>10</ЦенаЗаЕдиницу></Цена></Цены><Склад ИдСклада="sr-wh" КоличествоНаСкладе="3"/></Предложение>
\t\t\t<Предложение><Ид>sr-2</Ид><Цены><Цена><ИдТипаЦены>sr-pt</ИдТипаЦены><ЦенаЗаЕдиницу>20</ЦенаЗаЕдиницу></Цена></Цены><Склад ИдСклада="sr-wh" КоличествоНаСкладе="4"/></Предложение>
\t\t</Предложения>`, false);

describe('a file of an exchange is parsed once', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    process.env.ONEC_USER = USER;
    process.env.ONEC_PASSWORD = PASSWORD;
    tp = await createTestPipeline('onecsr', { workers: false });
    const docs = parseAllDocuments(readFileSync(path.join(REPO_DIR, 'ops/flows/onec.yaml'), 'utf8'));
    const flows: Flow[] = [];
    for (const d of Array.isArray(docs) ? docs : [docs]) {
      const r = await checkFlow(d.toJS() as Flow, registry);
      expect(r.problems).toEqual([]);
      flows.push(r.flow!);
    }
    await applyFlows(tp.rt.db, flows);
    app = await buildServer({ ...tp.rt, mode: 'full' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/exchange/onec/default`;
  });
  afterAll(async () => {
    await app?.close();
    await tp?.close();
  });

  async function call(params: Record<string, string>, init: RequestInit = {}): Promise<string[]> {
    const res = await fetch(`${url}?${new URLSearchParams(params)}`, init);
    return iconv.decode(Buffer.from(await res.arrayBuffer()), 'win1251').split('\n');
  }

  it('two workers taking the prices and the stock run at once read the file in one pass; the other finds its run taken', async () => {
    const auth = await call({ type: 'catalog', mode: 'checkauth' }, { headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` } });
    expect(auth[0]).toBe('success');
    const cookie = { cookie: `${auth[1]}=${auth[2]}` };
    expect((await call({ type: 'catalog', mode: 'file', filename: 'offers_sr.xml' }, { method: 'POST', body: new Uint8Array(offers), headers: cookie }))[0]).toBe('success');
    // The first import makes the runs (no worker takes their jobs here).
    const started = await call({ type: 'catalog', mode: 'import', filename: 'offers_sr.xml' }, { headers: cookie });
    expect(started[0]).toBe('progress');
    const runs = (await tp.rt.pool.query<{ id: string; name: string }>(`SELECT r.id, f.name FROM runs r JOIN flows f ON f.id = r.flow_id ORDER BY r.id`)).rows;
    const id = (name: string) => Number(runs.find((r) => r.name === name)!.id);
    // What the facts depend on (read alone: only the file's head).
    for (const head of ['onec-price-types', 'onec-warehouses']) {
      expect(await extractRun(tp.rt, id(head))).toBe('staged');
      expect(await mergeRun(tp.rt, id(head))).toBe('done');
    }

    const outcomes = await Promise.all([extractRun(tp.rt, id('onec-prices')), extractRun(tp.rt, id('onec-stock'))]);
    // Whichever claimed first led the pass: both end 'merged' (the prices' direct load, and the stock's
    // beside it: sink.ts DirectLeader).
    const led = outcomes[0] === 'busy' ? 1 : 0;
    expect(outcomes[1 - led]).toBe('busy');
    expect(outcomes[led]).toBe('merged');
    const pass = await tp.rt.pool.query<{ name: string; state: string; load_path: string | null; rows_read: string; started_at: Date }>(`
      SELECT f.name, r.state, r.load_path, r.rows_read, r.started_at FROM runs r JOIN flows f ON f.id = r.flow_id
      WHERE f.name NOT IN ('onec-price-types', 'onec-warehouses') ORDER BY f.name`);
    // Every other run of the file was read in that one pass (one statement started them all), and
    // both fact runs loaded directly.
    expect(new Set(pass.rows.map((r) => r.started_at.getTime())).size).toBe(1);
    expect(pass.rows.map((r) => [r.name, r.state, Number(r.rows_read)])).toEqual([
      ['onec-groups', 'staged', 0], ['onec-prices', 'done', 2], ['onec-product-properties', 'staged', 0], ['onec-products', 'staged', 0],
      ['onec-properties', 'staged', 0], ['onec-property-values', 'staged', 0], ['onec-stock', 'done', 2],
    ]);
    expect(pass.rows.find((r) => r.name === 'onec-prices')!.load_path).toBe('direct');
    expect(pass.rows.find((r) => r.name === 'onec-stock')!.load_path).toBe('direct');
  });
});
