// Reading a 1C file while it is uploaded (issue 16, target 4): the runs are made at the first full POST
// and stage what is committed as it comes; nothing merges before mode=import, and an upload that breaks,
// stops or is given up leaves no staging, no rows and no open run. Against a running server with real
// workers, PostgreSQL and Redis; the same files through an exchange that reads after the import
// (followUploads: false, a first load's direct COPY) give the same store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.ts';
import { applyFlows } from '../../src/pipeline/flows.ts';
import { exampleOnecFlows, OneCExchange, pieces as piecesOf } from '../helpers/onec-exchange.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

const USER = 'site-exchange';
const PASSWORD = 'overlap-password';
const FILE_LIMIT = 65536;
const SITE = { user: USER, password: PASSWORD, fileLimit: FILE_LIMIT };
/** The file's pieces as 1C posts them. */
const pieces = (data: Buffer): Buffer[] => piecesOf(data, FILE_LIMIT);
/** A large upload's import may take many answers of `progress`. */
const IMPORT_REQUESTS = 120;

/** An offers package as 1C writes it: `offers` offers × 5 price types, stock on one warehouse; `broken`: that offer's Ид is badly closed. */
function offersFile(offers: number, opts: { tag?: string; broken?: number; stray?: number } = {}): Buffer {
  const tag = opts.tag ?? 'a';
  let s = '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.07" ДатаФормирования="2024-05-01T10:00:00">\n'
    + '\t<ПакетПредложений СодержитТолькоИзменения="false">\n\t\t<Ид>ov#</Ид>\n\t\t<Наименование>Пакет</Наименование>\n\t\t<ТипыЦен>\n';
  for (let t = 0; t < 5; t++) s += `\t\t\t<ТипЦены><Ид>ov-pt-${t}</Ид><Наименование>Цена ${t}</Наименование><Валюта>RUB</Валюта></ТипЦены>\n`;
  s += '\t\t</ТипыЦен>\n\t\t<Склады><Склад><Ид>ov-wh</Ид><Наименование>Склад</Наименование></Склад></Склады>\n\t\t<Предложения>\n';
  for (let n = 0; n < offers; n++) {
    s += `\t\t\t<Предложение>\n\t\t\t\t<Ид>ov-offer-${n}</Ид${n === opts.broken ? '2' : ''}>\n\t\t\t\t<Наименование>Товар ${n}</Наименование>\n\t\t\t\t<Цены>\n`;
    for (let t = 0; t < 5; t++) {
      s += `\t\t\t\t\t<Цена>\n\t\t\t\t\t\t<Представление>${n}.${t} RUB</Представление>\n\t\t\t\t\t\t<ИдТипаЦены>ov-pt-${n === opts.stray && t === 0 ? 'undeclared' : t}</ИдТипаЦены>\n`
        + `\t\t\t\t\t\t<ЦенаЗаЕдиницу>${(n * 7 + t + (tag === 'a' ? 0 : 1000)) / 100}</ЦенаЗаЕдиницу>\n\t\t\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t\t</Цена>\n`;
    }
    s += `\t\t\t\t</Цены>\n\t\t\t\t<Склад ИдСклада="ov-wh" КоличествоНаСкладе="${n % 13}"/>\n\t\t\t</Предложение>\n`;
  }
  s += '\t\t</Предложения>\n\t</ПакетПредложений>\n</КоммерческаяИнформация>\n';
  return Buffer.from(s, 'utf8');
}

let debugRuns: (() => Promise<unknown>) | undefined;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: runs ${JSON.stringify((await debugRuns?.()) ?? [])}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('1C files read while they are uploaded', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;
  let url: string;
  let plainUrl: string;

  /** Prices and stock by codes, whichever flow wrote them. */
  async function facts(): Promise<string> {
    const r = await tp.rt.pool.query(`SELECT md5(concat_ws('|',
      (SELECT string_agg(concat_ws(',', pt.code, p.code, x.value, x.currency), ';' ORDER BY pt.code, p.code) FROM prices x
        JOIN price_types pt ON pt.id = x.price_type_id JOIN products p ON p.id = x.product_id),
      (SELECT string_agg(concat_ws(',', w.code, p.code, s.quantity), ';' ORDER BY w.code, p.code) FROM stock s
        JOIN warehouses w ON w.id = s.warehouse_id JOIN products p ON p.id = s.product_id))) AS f,
      (SELECT count(*)::int FROM prices) AS prices, (SELECT count(*)::int FROM stock) AS stock`);
    return `${r.rows[0].prices as number}/${r.rows[0].stock as number}/${r.rows[0].f as string}`;
  }

  const pricesCount = async (): Promise<number> => Number((await tp.rt.pool.query('SELECT count(*)::int AS n FROM prices')).rows[0].n);
  const priceTypesCount = async (): Promise<number> => Number((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM price_types WHERE code LIKE 'ov-pt-%'`)).rows[0].n);
  const stagingTables = async (): Promise<number> => Number((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'staging'`)).rows[0].n);
  const openRuns = async (): Promise<Array<{ id: number; state: string }>> =>
    (await tp.rt.pool.query(`SELECT id, state FROM runs WHERE state NOT IN ('done', 'failed', 'rejected') ORDER BY id`)).rows as Array<{ id: number; state: string }>;

  /** The runs made for the file of this name, by flow name. */
  async function runsOf(name: string): Promise<Array<{ id: number; flow: string; state: string; load_path: string; rows_staged: number; error: string | null }>> {
    return (await tp.rt.pool.query(`SELECT r.id::int, f.name AS flow, r.state, r.load_path, r.rows_staged::int, r.error FROM runs r JOIN flows f ON f.id = r.flow_id
      WHERE r.inbox_ids[1] IN (SELECT id FROM inbox WHERE file_name = $1) ORDER BY r.id`, [name])).rows;
  }

  /** Clears what the exchange writes (between cases: each starts from an empty store, a first load). */
  async function emptyStore(): Promise<void> {
    await tp.rt.pool.query('TRUNCATE prices, stock');
  }

  /** A store that holds rows (read while arriving is for that case; a first load waits for the import): a small file through the plain exchange. */
  async function preload(): Promise<void> {
    const p = await new OneCExchange(plainUrl, SITE).start();
    for (const part of pieces(offersFile(40, { tag: 'p' }))) await p.chunk('offers_pre.xml', part);
    expect((await p.importUntilDone('offers_pre.xml', IMPORT_REQUESTS))[0]).toBe('success');
  }

  beforeAll(async () => {
    process.env.ONEC_USER = USER;
    process.env.ONEC_PASSWORD = PASSWORD;
    tp = await createTestPipeline('onecov');
    debugRuns = async () => (await tp.rt.pool.query(`SELECT r.id, f.name, r.state, r.load_path, r.error FROM runs r JOIN flows f ON f.id = r.flow_id WHERE r.state <> 'done' ORDER BY r.id DESC LIMIT 20`)).rows;
    await applyFlows(tp.rt.db, await exampleOnecFlows('default', '', { fileLimit: FILE_LIMIT, options: {}, noGuard: true }));
    await applyFlows(tp.rt.db, await exampleOnecFlows('plain', '-plain', { fileLimit: FILE_LIMIT, options: { followUploads: false }, noGuard: true }));
    app = await buildServer({ ...tp.rt, mode: 'full' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    url = `http://127.0.0.1:${port}/exchange/onec/default`;
    plainUrl = `http://127.0.0.1:${port}/exchange/onec/plain`;
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await tp?.close();
  });

  it('stages while the file arrives, merges nothing before mode=import, and lands the same store as reading after the import', async () => {
    const first = offersFile(600);
    const second = offersFile(600, { tag: 'b' });
    expect(pieces(first).length).toBeGreaterThan(4);
    const c = await new OneCExchange(url, SITE).start();
    // A first load (empty tables): read while it arrives too, COPYed into a shadow of the table, the price
    // types the file declares numbered before they merge; nothing visible before the import.
    for (const p of pieces(first).slice(0, -1)) await c.chunk('offers_ov1.xml', p);
    await until('the price types run to be staged', async () => (await runsOf('offers_ov1.xml')).find((x) => x.flow === 'onec-price-types' && x.state === 'staged'));
    await until('the prices run to COPY into its shadow', async () => (await tp.rt.pool.query(`SELECT 1 FROM pg_stat_activity
      WHERE datname = current_database() AND query LIKE 'COPY prices_load_% FROM STDIN'`)).rowCount);
    await new Promise((r) => setTimeout(r, 500));
    expect((await runsOf('offers_ov1.xml')).find((x) => x.flow === 'onec-prices')).toMatchObject({ state: 'extracting' });
    expect(await pricesCount()).toBe(0);
    expect(await priceTypesCount()).toBe(0);
    await c.chunk('offers_ov1.xml', pieces(first).at(-1)!);
    const r1 = await c.importUntilDone('offers_ov1.xml', IMPORT_REQUESTS);
    expect(r1[0], r1.join(' | ')).toBe('success');
    // 3000 prices and 600 stock entries; the 5 price types the prices load numbered before they merged,
    // and the warehouse the stock load beside it numbered, are completed by their merges (placeholders
    // made real count as updated, as products do).
    expect(r1[1]).toContain('3600 inserted, 6 updated');
    expect((await runsOf('offers_ov1.xml')).find((x) => x.flow === 'onec-prices')).toMatchObject({ state: 'done', load_path: 'direct' });
    expect((await runsOf('offers_ov1.xml')).find((x) => x.flow === 'onec-stock')).toMatchObject({ state: 'done', load_path: 'direct' });
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM warehouses WHERE placeholder`)).rows[0].n).toBe(0);
    // The price types' merge completed the placeholders the load made: names and currency, none left a placeholder.
    expect((await tp.rt.pool.query(`SELECT string_agg(concat_ws(',', code, name, currency, placeholder), ';' ORDER BY code) AS f FROM price_types WHERE code LIKE 'ov-pt-%'`)).rows[0].f)
      .toBe('ov-pt-0,Цена 0,RUB,f;ov-pt-1,Цена 1,RUB,f;ov-pt-2,Цена 2,RUB,f;ov-pt-3,Цена 3,RUB,f;ov-pt-4,Цена 4,RUB,f');
    const loaded = await facts();

    // The store holds rows: the next file's runs stage it while it arrives.
    for (const p of pieces(second).slice(0, -1)) await c.chunk('offers_ov2.xml', p);
    const prices = await until('the prices run to stage rows', async () => {
      const r = (await runsOf('offers_ov2.xml')).find((x) => x.flow === 'onec-prices');
      if (!r || r.state !== 'extracting') return undefined;
      // Rows of a COPY under way are not visible to others before it ends; the pages it writes are.
      const n = await tp.rt.pool.query(`SELECT pg_relation_size('staging.run_${r.id}') AS n`).catch(() => undefined);
      return n && Number(n.rows[0].n) > 0 ? r : undefined;
    });
    expect(prices.load_path).not.toBe('direct');
    await until('the price types run to be staged', async () => (await runsOf('offers_ov2.xml')).find((x) => x.flow === 'onec-price-types' && x.state === 'staged'));
    await new Promise((r) => setTimeout(r, 500));
    expect((await runsOf('offers_ov2.xml')).filter((r) => r.state === 'done')).toEqual([]);
    expect(await facts()).toBe(loaded);
    await c.chunk('offers_ov2.xml', pieces(second).at(-1)!);
    const r2 = await c.importUntilDone('offers_ov2.xml', IMPORT_REQUESTS);
    expect(r2[0], r2.join(' | ')).toBe('success');
    expect(r2[1]).toContain('3000 updated');
    const runs = await runsOf('offers_ov2.xml');
    expect(runs.every((x) => x.state === 'done'), JSON.stringify(runs)).toBe(true);
    expect(runs.find((x) => x.flow === 'onec-prices')).toMatchObject({ load_path: 'staged', rows_staged: 3000 });
    expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    const followed = await facts();
    expect(followed).not.toBe(loaded);

    // The same two files read after their import, into the emptied tables: the same store.
    await emptyStore();
    const p = await new OneCExchange(plainUrl, SITE).start();
    for (const [name, data] of [['offers_ov1_plain.xml', first], ['offers_ov2_plain.xml', second]] as const) {
      for (const part of pieces(data)) await p.chunk(name, part);
      expect((await p.importUntilDone(name, IMPORT_REQUESTS))[0]).toBe('success');
    }
    expect((await runsOf('offers_ov1_plain.xml')).find((x) => x.flow === 'onec-prices-plain')).toMatchObject({ state: 'done', load_path: 'direct' });
    expect((await p.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    expect(await facts()).toBe(followed);
    expect(await stagingTables()).toBe(0);
    await emptyStore();
  });

  it('a first load naming a price type the file does not declare: read again after the import, that price rejected, the same store', async () => {
    const data = offersFile(600, { tag: 'd', stray: 300 });
    const got: string[] = [];
    for (const [u, name] of [[url, 'offers_stray.xml'], [plainUrl, 'offers_stray_plain.xml']] as const) {
      await emptyStore();
      const c = await new OneCExchange(u, SITE).start();
      for (const part of pieces(data).slice(0, -1)) await c.chunk(name, part);
      if (u === url) {
        await until('the prices run to COPY into its shadow', async () => (await tp.rt.pool.query(`SELECT 1 FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'COPY prices_load_% FROM STDIN'`)).rowCount);
      }
      await c.chunk(name, pieces(data).at(-1)!);
      const r = await c.importUntilDone(name, IMPORT_REQUESTS);
      expect(r[0], r.join(' | ')).toBe('success');
      expect(r[1]).toContain('1 rejected');
      expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
      const runs = await runsOf(name);
      const prices = runs.find((x) => x.flow.startsWith('onec-prices'))!;
      const rejects = await tp.rt.pool.query(`SELECT field, rule, reason FROM rejects WHERE run_id = $1`, [prices.id]);
      expect(rejects.rows).toEqual([{ field: 'priceType', rule: 'reference', reason: "unknown price type 'ov-pt-undeclared' (system onec)" }]);
      got.push(`${await facts()} ${prices.load_path}`);
    }
    expect(await tp.rt.pool.query(`SELECT code FROM price_types WHERE code = 'ov-pt-undeclared'`).then((r) => r.rowCount)).toBe(0);
    // Read while arriving, the load saw the stray code at its end and gave its run up to a read of its own
    // after the import, which rejects that price (a direct load too: the table is still empty).
    expect(got[0]).toBe(got[1]);
    expect(got[0]).toMatch(/^2999\/600\/[0-9a-f]+ direct$/);
    expect(await stagingTables()).toBe(0);
    await emptyStore();
  });

  it('bad XML in the middle: the same failure (file, element, line) as reading after the import, and nothing left behind', async () => {
    const data = offersFile(600, { broken: 400 });
    const answers: string[][] = [];
    for (const [u, name] of [[url, 'offers_bad.xml'], [plainUrl, 'offers_bad_plain.xml']] as const) {
      const c = await new OneCExchange(u, SITE).start();
      for (const part of pieces(data)) await c.chunk(name, part);
      answers.push(await c.importUntilDone(name, IMPORT_REQUESTS));
      expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    }
    expect(answers[0]![0]).toBe('failure');
    // File, line, column and the element's path, as the reader says it.
    expect(answers[0]![1]).toMatch(/^offers_bad\.xml:\d+:\d+: .*\/Предложение\/Ид\)$/);
    const same = (a: string, name: string) => a.replaceAll(name, 'X').replaceAll('-plain', '').replace(/run \d+/g, 'run N');
    expect(same(answers[0]![1]!, 'offers_bad.xml')).toBe(same(answers[1]![1]!, 'offers_bad_plain.xml'));
    await until('no open runs', async () => (await openRuns()).length === 0);
    expect(await stagingTables()).toBe(0);
    expect(await pricesCount()).toBe(0);
  });

  it('an upload cut in the middle while the early read runs: the broken POST is not read, the file sent on lands whole', async () => {
    const data = offersFile(600, { tag: 'b' });
    const parts = pieces(data);
    await preload();
    const c = await new OneCExchange(url, SITE).start();
    for (const p of parts.slice(0, 3)) await c.chunk('offers_cut.xml', p);
    await until('the prices run to read', async () => (await runsOf('offers_cut.xml')).find((x) => x.flow === 'onec-prices' && x.state === 'extracting'));
    // The fourth POST breaks off half way, with garbage after what was sent: none of it may be read.
    const half = parts[3]!.subarray(0, FILE_LIMIT / 2);
    const broken = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new Uint8Array(half));
        ctl.enqueue(new Uint8Array(Buffer.from('<<<not xml at all>>>'.repeat(100))));
        setTimeout(() => ctl.error(new Error('line dropped')), 200);
      },
    });
    await c.raw({ type: 'catalog', mode: 'file', filename: 'offers_cut.xml' }, { body: broken }).catch(() => []);
    const row = await until('the cut POST to be undone', async () => {
      const r = (await tp.rt.pool.query(`SELECT size_bytes::int AS n, chunks FROM onec_files WHERE name = 'offers_cut.xml'`)).rows[0] as { n: number; chunks: number } | undefined;
      return r && r.n === 3 * FILE_LIMIT ? r : undefined;
    });
    expect(row.chunks).toBe(3);
    for (const p of parts.slice(3)) await c.chunk('offers_cut.xml', p);
    const r = await c.importUntilDone('offers_cut.xml', IMPORT_REQUESTS);
    expect(r[0], r.join(' | ')).toBe('success');
    // 40 offers preloaded: their 200 prices and 40 stock entries change, the rest are new.
    expect(r[1]).toContain('3360 inserted, 240 updated');
    expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    const got = await facts();
    // The same file sent whole through the exchange that reads after the import.
    await emptyStore();
    await preload();
    const p = await new OneCExchange(plainUrl, SITE).start();
    for (const part of parts) await p.chunk('offers_cut_plain.xml', part);
    expect((await p.importUntilDone('offers_cut_plain.xml', IMPORT_REQUESTS))[0]).toBe('success');
    expect((await p.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    expect(await facts()).toBe(got);
    await emptyStore();
  });

  it('an upload that stops (the session expires) or is given up (a new export begins) leaves no run open, no staging and no rows', async () => {
    const data = offersFile(600, { tag: 'c' });
    const parts = pieces(data);
    const priceTypes = async () => (await tp.rt.pool.query(`SELECT string_agg(concat_ws(',', code, name), ';' ORDER BY code) AS f FROM price_types`)).rows[0].f as string | null;
    await preload();
    const before = await priceTypes();
    let store = await facts();
    for (const ending of ['expired', 'new session', 'first load'] as const) {
      const name = `offers_stop_${ending.replace(' ', '_')}.xml`;
      // A first load reads into a shadow of the table while the file arrives: it too leaves nothing.
      if (ending === 'first load') {
        await emptyStore();
        store = await facts();
      }
      const c = await new OneCExchange(url, SITE).start();
      for (const p of parts.slice(0, 3)) await c.chunk(name, p);
      await until('the prices run to read', async () => (await runsOf(name)).find((x) => x.flow === 'onec-prices' && x.state === 'extracting'));
      await until('the price types to wait staged', async () => (await runsOf(name)).find((x) => x.flow === 'onec-price-types' && x.state === 'staged'));
      if (ending === 'first load') {
        await until('the prices run to COPY into its shadow', async () => (await tp.rt.pool.query(`SELECT 1 FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'COPY prices_load_% FROM STDIN'`)).rowCount);
      }
      if (ending === 'expired') await tp.rt.pool.query(`UPDATE onec_sessions SET expires_at = now() - interval '1 second' WHERE closed_at IS NULL AND abandoned_at IS NULL`);
      // Any checkauth expires stale sessions; a catalog one gives up other sessions' early reads.
      await new OneCExchange(url, SITE).start();
      await until('the runs to end', async () => (await openRuns()).length === 0);
      const runs = await runsOf(name);
      expect(runs.length).toBe(9);
      expect(runs.every((x) => x.state === 'failed'), JSON.stringify(runs)).toBe(true);
      expect(runs.find((x) => x.flow === 'onec-prices')!.error).toContain(name);
      expect(await stagingTables()).toBe(0);
      expect(Number((await tp.rt.pool.query('SELECT count(*)::int AS n FROM rejects WHERE run_id = ANY($1::bigint[])', [runs.map((x) => x.id)])).rows[0].n)).toBe(0);
      expect(await facts()).toBe(store);
      expect(await priceTypes()).toBe(before);
      expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'prices_load_%'`)).rows[0].n).toBe(0);
    }
    await emptyStore();
  });

  it('a file imported before an earlier one still arriving: the earlier early read is given up, and both land when imported', async () => {
    const a = offersFile(400, { tag: 'a' });
    const b = offersFile(300, { tag: 'b' });
    const c = await new OneCExchange(url, SITE).start();
    for (const p of pieces(a)) await c.chunk('offers_first.xml', p);
    for (const p of pieces(b)) await c.chunk('offers_second.xml', p);
    expect((await c.importUntilDone('offers_second.xml', IMPORT_REQUESTS))[0]).toBe('success');
    const r = await c.importUntilDone('offers_first.xml', IMPORT_REQUESTS);
    expect(r[0], r.join(' | ')).toBe('success');
    expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    // offers_first.xml was imported last: its prices are what the store holds.
    expect(await facts()).toMatch(/^2000\/400\//);
    const v = await tp.rt.pool.query(`SELECT x.value::text AS v FROM prices x JOIN products p ON p.id = x.product_id JOIN price_types pt ON pt.id = x.price_type_id
      WHERE p.code = 'ov-offer-1' AND pt.code = 'ov-pt-0'`);
    expect(v.rows).toEqual([{ v: '0.070000' }]);
    await until('no open runs', async () => (await openRuns()).length === 0);
    // The runs given up are no part of the export: its removal of absent rows still happens.
    const finalize = await tp.rt.pool.query(`SELECT state, error FROM runs WHERE kind = 'finalize' ORDER BY id DESC LIMIT 2`);
    expect(finalize.rows).toEqual([{ state: 'done', error: null }, { state: 'done', error: null }]);
    expect(await stagingTables()).toBe(0);
    await emptyStore();
  });
});
