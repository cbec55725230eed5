// Lineage (issue 15) through the real pipeline: CSV and CommerceML payloads merged by workers, then the
// lineage of a price or a stock quantity names each change's run, flow, file and line or element path.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineageHistory, lineageOverview } from '../../src/pipeline/lineage.ts';
import { receivePayload } from '../../src/pipeline/receive.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { offersPackage } from '../helpers/samples.ts';

const H = 'sku;price_type;price;currency';

const flows = `
apiVersion: magistral/v1
kind: Flow
name: prices-delta
source: { connector: file.csv, system: local }
mapping: file/prices.yaml
target: prices
mode: delta
---
apiVersion: magistral/v1
kind: Flow
name: stock-delta
source: { connector: file.csv, system: local }
mapping: file/stock.yaml
target: stock
mode: delta
---
apiVersion: magistral/v1
kind: Flow
name: prices-no-history
source: { connector: file.csv, system: local }
mapping: file/prices.yaml
target: prices
mode: delta
history: false
---
apiVersion: magistral/v1
kind: Flow
name: onec-prices
source: { connector: onec.commerceml, system: onec }
mapping: onec/prices.yaml
target: prices
mode: delta
`;

/** An offer with its prices (price type → value), one element per line as 1C writes it. */
const offer = (id: string, prices: Array<[string, string]>, sep = '\n'): string =>
  `<Предложение><Ид>${id}</Ид><Наименование>${id}</Наименование>${sep}<Цены>${prices.map(([pt, v]) =>
    `<Цена><ИдТипаЦены>${pt}</ИдТипаЦены><ЦенаЗаЕдиницу>${v}</ЦенаЗаЕдиницу><Валюта>RUB</Валюта></Цена>`).join(sep)}</Цены></Предложение>`;

describe('lineage of prices and stock', () => {
  let tp: TestPipeline;
  let first: number;
  let second: number;
  beforeAll(async () => {
    tp = await createTestPipeline('lineage');
    await tp.applyFlowYaml(flows);
  });
  afterAll(async () => {
    await tp?.close();
  });

  const ingestFiles = async (flow: string, files: Array<[string, string | Buffer]>) => {
    const { runId } = await receivePayload(tp.rt, { flow, files: files.map(([fileName, c]) => ({ fileName, body: Readable.from([Buffer.from(c)]) })) });
    const run = await waitForRun(tp.rt.db, runId, { timeoutMs: 60_000, intervalMs: 50 });
    expect(run.state, run.error?.message).toBe('done');
    return run;
  };

  it('says a first load wrote the value and that its position was not recorded', async () => {
    const run = await tp.ingest('prices-delta', csv(H, ['A1;retail;100;RUB', 'A2;retail;50;RUB']), 'first.csv');
    expect(run.loadPath).toBe('direct');
    first = run.id;
    const l = await lineageHistory(tp.rt.db, { product: 'A1', priceType: 'retail' });
    expect(l.product).toMatchObject({ code: 'A1' });
    expect(l.current).toMatchObject({ value: '100.000000', currency: 'RUB', run: { id: first, flow: 'prices-delta', loadPath: 'direct' } });
    expect(l.entries).toEqual([]);
    expect(l.nextBefore).toBeNull();
    expect(l.origin).toMatchObject({ value: '100.000000', run: { id: first } });
    expect(l.origin!.note).toMatch(/first load into the empty table.*position was not recorded/);
  });

  it('names the file and line of a change and of a first appearance through a merge', async () => {
    const run = await tp.ingest('prices-delta', csv(H, ['A2;retail;50;RUB', 'A1;retail;120,5;RUB', 'A3;retail;7;RUB']), 'second.csv');
    expect(run.rows).toMatchObject({ inserted: 1, updated: 1, unchanged: 1 });
    second = run.id;
    const l = await lineageHistory(tp.rt.db, { product: 'A1', priceType: 'retail' });
    expect(l.current).toMatchObject({ value: '120.500000', run: { id: second } });
    expect(l.entries).toHaveLength(1);
    expect(l.entries[0]).toMatchObject({
      op: 'update', oldValue: '100.000000', newValue: '120.500000', file: 'second.csv', line: 3, path: null,
      run: { id: second, flow: 'prices-delta', loadPath: 'staged' },
    });
    expect(l.entries[0]!.mergedAt.getTime()).toBeGreaterThanOrEqual(l.entries[0]!.receivedAt!.getTime());
    // The oldest entry is a change: the value before it came from the first load.
    expect(l.origin).toMatchObject({ value: '100.000000', run: null });

    const a3 = await lineageHistory(tp.rt.db, { product: 'A3', priceType: 'retail' });
    expect(a3.entries).toMatchObject([{ op: 'insert', oldValue: null, newValue: '7.000000', file: 'second.csv', line: 4, run: { id: second } }]);
    expect(a3.origin).toBeNull();
  });

  it('names the right file of a multi-file payload', async () => {
    const run = await ingestFiles('prices-delta', [
      ['part1.csv', csv(H, ['A2;retail;51;RUB'])],
      ['part2.csv', csv(H, ['A9;retail;1;RUB', 'A1;retail;130;RUB'])],
    ]);
    const l = await lineageHistory(tp.rt.db, { product: 'A1', priceType: 'retail' });
    expect(l.entries.map((e) => [e.op, e.newValue, e.file, e.line, e.run?.id])).toEqual([
      ['update', '130.000000', 'part2.csv', 3, run.id],
      ['update', '120.500000', 'second.csv', 3, second],
    ]);
    const a2 = await lineageHistory(tp.rt.db, { product: 'A2', priceType: 'retail' });
    expect(a2.entries[0]).toMatchObject({ newValue: '51.000000', file: 'part1.csv', line: 2 });
  });

  it('pages the history newest first with a cursor', async () => {
    for (const v of ['131', '132', '133']) await tp.ingest('prices-delta', csv(H, [`A1;retail;${v};RUB`]), `p${v}.csv`);
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    let last;
    do {
      last = await lineageHistory(tp.rt.db, { product: 'A1', priceType: 'retail', limit: 2, ...(before ? { before } : {}) });
      seen.push(...last.entries.map((e) => e.newValue!));
      // Only the last page says where the oldest value came from.
      if (last.nextBefore) expect(last.origin).toBeNull();
      before = last.nextBefore ?? undefined;
      pages++;
    } while (before);
    expect(seen).toEqual(['133.000000', '132.000000', '131.000000', '130.000000', '120.500000']);
    expect(pages).toBe(3);
    expect(last.origin).toMatchObject({ value: '100.000000' });
    await expect(lineageHistory(tp.rt.db, { product: 'A1', priceType: 'retail', before: 'yesterday' })).rejects.toMatchObject({ code: 'MAG_ERR_BAD_REQUEST' });
  });

  it('finds a product by any external id, and says clearly what is not found', async () => {
    const id = (await tp.rt.pool.query(`SELECT id FROM products WHERE code = 'A1'`)).rows[0].id;
    await tp.rt.pool.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) VALUES ('product', 'sap', 'MAT-000123', $1)`, [id]);
    const l = await lineageHistory(tp.rt.db, { product: 'MAT-000123', priceType: 'retail' });
    expect(l.product).toMatchObject({ code: 'A1' });
    expect(l.current?.value).toBe('133.000000');
    await expect(lineageHistory(tp.rt.db, { product: 'NOPE', priceType: 'retail' }))
      .rejects.toMatchObject({ code: 'MAG_ERR_NOT_FOUND', message: 'product NOPE not found (looked up by code and external id)' });
    await expect(lineageHistory(tp.rt.db, { product: 'A1', priceType: 'gold' }))
      .rejects.toMatchObject({ code: 'MAG_ERR_NOT_FOUND', message: 'price type gold not found (looked up by code and external id)' });
    await expect(lineageOverview(tp.rt.db, 'NOPE')).rejects.toMatchObject({ code: 'MAG_ERR_NOT_FOUND' });
  });

  it('says the live row\'s run wrote a value no history row speaks of (a flow with history off)', async () => {
    await tp.ingest('prices-no-history', csv(H, ['A1;quiet;5;RUB', 'A2;quiet;6;RUB']), 'quiet1.csv');
    const run = await tp.ingest('prices-no-history', csv(H, ['A1;quiet;7;RUB']), 'quiet2.csv');
    expect(run.rows).toMatchObject({ updated: 1 });
    const l = await lineageHistory(tp.rt.db, { product: 'A1', priceType: 'quiet' });
    expect(l.entries).toEqual([]);
    expect(l.origin).toMatchObject({ value: '7.000000', run: { id: run.id, flow: 'prices-no-history', loadPath: 'staged' } });
    expect(l.origin!.note).toMatch(/a run that recorded no history row for it .*position was not recorded/);
  });

  it('follows stock by warehouse and lists every live value of a product', async () => {
    await tp.ingest('stock-delta', csv('sku;warehouse;qty', ['A1;main;5']), 'stock1.csv');
    await tp.ingest('stock-delta', csv('sku;warehouse;qty', ['A2;main;1', 'A1;main;3']), 'stock2.csv');
    const l = await lineageHistory(tp.rt.db, { product: 'A1', warehouse: 'main' });
    expect(l.key).toMatchObject({ kind: 'stock', warehouse: { code: 'main' } });
    expect(l.current).toMatchObject({ value: '3.000000', currency: null });
    expect(l.entries).toMatchObject([{ op: 'update', oldValue: '5.000000', newValue: '3.000000', file: 'stock2.csv', line: 3 }]);
    const o = await lineageOverview(tp.rt.db, 'A1');
    expect(o.prices.map((p) => [p.priceType.code, p.value, p.currency])).toEqual([['quiet', '7.000000', 'RUB'], ['retail', '133.000000', 'RUB']]);
    expect(o.stock.map((s) => [s.warehouse.code, s.value])).toEqual([['main', '3.000000']]);
  });

  it('names the element of a CommerceML price: its line, and its path where the line is shared', async () => {
    // The price types' first prices go into empty partitions (a first load, no history); O1 comes next.
    await tp.ingest('onec-prices', offersPackage(`<Предложения>\n${offer('O0', [['pt-retail', '1'], ['pt-opt', '1']])}\n</Предложения>`, false), 'offers0_0.xml');
    const pretty = offersPackage(`\t\t<Предложения>\n${offer('O1', [['pt-retail', '10'], ['pt-opt', '9']])}\n\t\t</Предложения>`, false);
    await tp.ingest('onec-prices', pretty, 'offers0_1.xml');
    const o0 = await lineageHistory(tp.rt.db, { product: 'O0', priceType: 'pt-opt' });
    expect(o0.entries).toEqual([]);
    expect(o0.origin).toMatchObject({ value: '1.000000', run: { flow: 'onec-prices', loadPath: 'staged' } });
    // The same offers written on one line (as an export without line breaks): the line names no element.
    const oneLine = offersPackage(`<Предложения>${offer('O1', [['pt-retail', '10'], ['pt-opt', '8.5']], '')}</Предложения>`, false)
      .toString('utf8').replace(/\n\t*/g, '');
    const run = await tp.ingest('onec-prices', oneLine, 'offers0_2.xml');
    const retail = await lineageHistory(tp.rt.db, { product: 'O1', priceType: 'pt-retail' });
    // Each Цена on its own line: the line is enough, no path staged.
    expect(retail.entries).toMatchObject([{ op: 'insert', newValue: '10.000000', file: 'offers0_1.xml', line: 8, path: null }]);
    const opt = await lineageHistory(tp.rt.db, { product: 'O1', priceType: 'pt-opt' });
    expect(opt.entries).toMatchObject([
      { op: 'update', oldValue: '9.000000', newValue: '8.500000', file: 'offers0_2.xml', line: 1, run: { id: run.id, flow: 'onec-prices' },
        path: '/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение[1]/Цены/Цена[2]' },
      { op: 'insert', newValue: '9.000000', file: 'offers0_1.xml', line: 9, path: null },
    ]);
  });
});
