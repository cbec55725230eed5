// The 1C exchange protocol against a running server (fastify listening on a port, real workers on the
// real Redis and PostgreSQL), replayed request by request as 1C sends them: checkauth → init → file in
// chunks → import repeated until success → deactivate → complete, plain and zipped, with the real
// samples; then every kind of bad input, each leaving the store as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offersPackage, ONEC_SAMPLES } from '../helpers/samples.ts';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, truncateSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.ts';
import { applyFlows } from '../../src/pipeline/flows.ts';
import { approveRun, listRejects, listRuns, waitForRun } from '../../src/pipeline/runs.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { exampleOnecFlows, OneCExchange } from '../helpers/onec-exchange.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

const SAMPLES = ONEC_SAMPLES;
const sample = (name: string): Buffer => readFileSync(path.join(SAMPLES, name));
const text = (name: string): string => sample(name).toString('utf8').replace(/^\uFEFF/, '');
const USER = 'site-exchange';
const PASSWORD = 'correct horse battery staple';
const FILE_LIMIT = 65536;
const SITE = { user: USER, password: PASSWORD, fileLimit: FILE_LIMIT };

// Counted from the samples' text with regular expressions, independently of the CommerceML reader.
const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;
const ids = (s: string, re: RegExp): string[] => [...s.matchAll(re)].map((m) => m[1]!);
const OFFER_ID = /<Предложение>\s*<Ид>([^<]+)<\/Ид>/g;

function zipOf(entries: Array<[string, Buffer]>, opts: { mode?: number } = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of entries) zip.addBuffer(data, name, { compress: true, ...(opts.mode !== undefined ? { mode: opts.mode } : {}) });
  zip.end();
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    zip.outputStream.on('data', (d: Buffer) => parts.push(d));
    zip.outputStream.on('end', () => resolve(Buffer.concat(parts)));
    zip.outputStream.on('error', reject);
  });
}

describe('1C exchange protocol against a running server', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;
  let url: string;
  let tightUrl: string;

  /** Everything the exchange may write, as one fingerprint (bad input must leave it unchanged). */
  async function storeFingerprint(): Promise<string> {
    const r = await tp.rt.pool.query(`SELECT md5(concat_ws('|',
      (SELECT string_agg(concat_ws(',', price_type_id, product_id, value, currency), ';' ORDER BY 1) FROM prices),
      (SELECT string_agg(concat_ws(',', warehouse_id, product_id, quantity), ';' ORDER BY 1) FROM stock),
      (SELECT string_agg(concat_ws(',', code, name, placeholder), ';' ORDER BY code) FROM products),
      (SELECT string_agg(concat_ws(',', code, name), ';' ORDER BY code) FROM price_types),
      (SELECT string_agg(concat_ws(',', code, name), ';' ORDER BY code) FROM warehouses),
      (SELECT string_agg(concat_ws(',', code, name), ';' ORDER BY code) FROM groups))) AS f`);
    return r.rows[0].f as string;
  }

  interface Counts { prices: number; stock: number; products: number; priceTypes: number; warehouses: number; groups: number }
  async function counts(): Promise<Counts> {
    const r = await tp.rt.pool.query(`SELECT (SELECT count(*) FROM prices)::int AS prices, (SELECT count(*) FROM stock)::int AS stock,
      (SELECT count(*) FROM products)::int AS products, (SELECT count(*) FROM price_types)::int AS "priceTypes",
      (SELECT count(*) FROM warehouses)::int AS warehouses, (SELECT count(*) FROM groups)::int AS groups`);
    return r.rows[0] as Counts;
  }

  const session = (u = url): Promise<OneCExchange> => new OneCExchange(u, SITE).start();

  beforeAll(async () => {
    process.env.ONEC_USER = USER;
    process.env.ONEC_PASSWORD = PASSWORD;
    tp = await createTestPipeline('onecx');
    await applyFlows(tp.rt.db, await exampleOnecFlows('default', '', { fileLimit: FILE_LIMIT, options: {} }));
    // A second exchange with tight archive limits, for the zip bomb by total size.
    await applyFlows(tp.rt.db, await exampleOnecFlows('tight', '-tight', { fileLimit: FILE_LIMIT, options: { unzipMaxBytes: 100_000, maxFileBytes: 200_000 } }));
    app = await buildServer({ ...tp.rt, mode: 'full' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    url = `http://127.0.0.1:${port}/exchange/onec/default`;
    tightUrl = `http://127.0.0.1:${port}/exchange/onec/tight`;
  });
  afterAll(async () => {
    await app?.close();
    await tp?.close();
  });

  it('refuses wrong, missing and expired credentials with the same words and no detail', async () => {
    const c = new OneCExchange(url, SITE);
    expect(await c.checkauth(USER, 'wrong')).toEqual(['failure', 'Authorization failed']);
    expect(await c.checkauth('someone-else', PASSWORD)).toEqual(['failure', 'Authorization failed']);
    expect(await c.raw({ type: 'catalog', mode: 'checkauth' })).toEqual(['failure', 'Authorization failed']);
    expect(await new OneCExchange(`${url}-nope`, SITE).checkauth()).toEqual(['failure', 'Authorization failed']);
    // No session: init, file and import are refused alike.
    expect(await c.raw({ type: 'catalog', mode: 'init' })).toEqual(['failure', 'Authorization failed']);
    c.cookie = 'magistral_onec=forged';
    expect(await c.raw({ type: 'catalog', mode: 'import', filename: 'x.xml' })).toEqual(['failure', 'Authorization failed']);
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM onec_sessions`)).rows[0].n).toBe(0);

    const s = await session();
    // sessid alone (no cookie) authenticates too.
    expect(await s.raw({ type: 'catalog', mode: 'init' }, { cookie: false, sessid: true })).toEqual(['zip=yes', `file_limit=${FILE_LIMIT}`]);
    // An expired session is refused, and abandoned (nothing removed) at the next checkauth.
    await tp.rt.pool.query(`UPDATE onec_sessions SET expires_at = now() - interval '1 second'`);
    expect(await s.init()).toEqual(['failure', 'Authorization failed']);
    await new OneCExchange(url, SITE).checkauth();
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM onec_sessions WHERE abandoned_at IS NOT NULL`)).rows[0].n).toBe(1);
  });

  it('takes a password an administrator stores with `magistral secrets set` at the next checkauth, without a restart, and never shows it', async () => {
    const cli = (args: string[], input?: string) => new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), ...args], { cwd: REPO_DIR, env: { ...process.env, ...tp.env, LOG_LEVEL: 'silent' } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      child.on('close', (code) => resolve({ code, out }));
      child.stdin.end(input ?? '');
    });
    const rotated = 'rotated-Пароль-2026';
    const set = await cli(['secrets', 'set', 'ONEC_PASSWORD'], `${rotated}\n`);
    expect(set.code).toBe(0);
    expect(set.out).toContain('ONEC_PASSWORD stored (hashed)');
    const c = new OneCExchange(url, SITE);
    // The running server: the environment's password no longer opens it, the stored one does.
    expect(await c.checkauth(USER, PASSWORD)).toEqual(['failure', 'Authorization failed']);
    expect((await c.checkauth(USER, rotated))[0]).toBe('success');
    const shown = await cli(['flows', 'show', 'onec-prices']);
    expect(shown.out).toMatch(/# credential passwordEnv → ONEC_PASSWORD: stored in the database \(set .* by cli:/);
    expect(shown.out).toMatch(/# credential userEnv → ONEC_USER: read from the server's environment/);
    const listed = await cli(['secrets', 'list']);
    expect(listed.out).toMatch(/^ONEC_PASSWORD\s+set /m);
    for (const o of [set.out, shown.out, listed.out]) expect(o).not.toContain(rotated);
    expect(JSON.stringify((await tp.rt.pool.query(`SELECT * FROM stored_secrets`)).rows)).not.toContain(rotated);
    // Removed: the environment's password applies again.
    expect((await cli(['secrets', 'unset', 'ONEC_PASSWORD'])).out).toContain('ONEC_PASSWORD removed');
    expect(await c.checkauth(USER, rotated)).toEqual(['failure', 'Authorization failed']);
    expect((await c.checkauth(USER, PASSWORD))[0]).toBe('success');
    expect((await cli(['secrets', 'set', 'bad name'], 'x')).out).toContain('letters, digits and _ only');
  });

  it('answers checkauth like 1C-Bitrix and anything unknown with "Unknown command"', async () => {
    const c = new OneCExchange(url, SITE);
    const r = await c.checkauth();
    expect(r).toHaveLength(6);
    expect(r[0]).toBe('success');
    expect(r[1]).toBe('magistral_onec');
    expect(r[2]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r[3]).toMatch(/^sessid=[0-9a-f]{32}$/);
    expect(Number(r[4]!.replace('timestamp=', ''))).toBeGreaterThan(1_700_000_000);
    expect(await c.raw({ type: 'catalog', mode: 'launch' })).toEqual(['failure', 'Unknown command']);
    expect(await c.raw({ type: 'nonsense', mode: 'init' })).toEqual(['failure', 'Unknown command']);
    expect(await c.raw({ mode: 'init' })).toEqual(['failure', 'Unknown command']);
  });

  it('rejects a price of an undeclared price type and stock of an unknown warehouse, with file, line and path; the rest lands', async () => {
    const c = await session();
    const xml = offersPackage(`\t\t<ТипыЦен><ТипЦены><Ид>pt-known</Ид><Наименование>Розница</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>
\t\t<Склады><Склад><Ид>wh-known</Ид><Наименование>Главный</Наименование></Склад></Склады>
\t\t<Предложения>
\t\t\t<Предложение><Ид>bad-offer-1</Ид><Наименование>Один</Наименование>
\t\t\t\t<Цены><Цена><ИдТипаЦены>pt-known</ИдТипаЦены><ЦенаЗаЕдиницу>10.50</ЦенаЗаЕдиницу><Валюта>RUB</Валюта></Цена>
\t\t\t\t<Цена><ИдТипаЦены>pt-never-declared</ИдТипаЦены><ЦенаЗаЕдиницу>11</ЦенаЗаЕдиницу><Валюта>RUB</Валюта></Цена></Цены>
\t\t\t\t<Склад ИдСклада="wh-known" КоличествоНаСкладе="5"/>
\t\t\t\t<Склад ИдСклада="wh-unknown" КоличествоНаСкладе="7"/>
\t\t\t</Предложение>
\t\t</Предложения>`, false);
    await c.file('offers_bad_refs.xml', xml);
    const r = await c.importUntilDone('offers_bad_refs.xml');
    expect(r[0], r.join(' | ')).toBe('success');
    expect(r[1]).toMatch(/offers_bad_refs\.xml: imported by 9 runs: .* 2 rejected/);
    const runs = (await listRuns(tp.rt.db, { limit: 50 })).filter((x) => x.files[0] === 'offers_bad_refs.xml');
    const prices = runs.find((x) => x.flow === 'onec-prices')!;
    const stock = runs.find((x) => x.flow === 'onec-stock')!;
    expect(prices.rows).toMatchObject({ inserted: 1, rejected: 1 });
    expect(stock.rows).toMatchObject({ inserted: 1, rejected: 1 });
    // What a fact refers to (and does not create itself) merged first; catalog runs wait for lower ranks.
    const run = (flow: string) => runs.find((x) => x.flow === flow)!.id;
    expect(prices.dependsOn).toEqual([run('onec-price-types')]);
    expect(stock.dependsOn).toEqual([run('onec-warehouses')]);
    const lower = ['onec-groups', 'onec-price-types', 'onec-warehouses', 'onec-properties', 'onec-property-values'];
    expect(runs.find((x) => x.flow === 'onec-products')!.dependsOn.sort()).toEqual(lower.map(run).sort());
    const pr = await listRejects(tp.rt.db, prices.id);
    expect(pr).toMatchObject([{ file: 'offers_bad_refs.xml', line: 11, field: 'priceType', rule: 'reference', reason: "unknown price type 'pt-never-declared' (system onec)" }]);
    expect(pr[0]!.path).toMatch(/\/Предложение\[1\]\/Цены\/Цена\[2\]$/);
    const sr = await listRejects(tp.rt.db, stock.id);
    expect(sr).toMatchObject([{ file: 'offers_bad_refs.xml', line: 13, field: 'warehouse', rule: 'reference', reason: "unknown warehouse 'wh-unknown' (system onec)" }]);
    const left = await tp.rt.pool.query(`SELECT pt.code, x.value::text FROM prices x JOIN price_types pt ON pt.id = x.price_type_id`);
    expect(left.rows).toEqual([{ code: 'pt-known', value: '10.500000' }]);
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM price_types WHERE code = 'pt-never-declared'`)).rows[0].n).toBe(0);
    // Changes only (СодержитТолькоИзменения="true"): the end of the session removes nothing.
    expect(await c.raw({ type: 'catalog', mode: 'complete' })).toEqual(['success', 'exchange complete: nothing to remove']);
    // The same file again: the tables are no longer empty, so both facts are staged and merged; the
    // merge's reference rejects name the element path too (a one-line file has only one line).
    const again = await session();
    await again.file('offers_bad_refs.xml', Buffer.from(xml.toString('utf8').replace(/\n\t*/g, ''), 'utf8'));
    expect((await again.importUntilDone('offers_bad_refs.xml'))[0]).toBe('success');
    const runs2 = (await listRuns(tp.rt.db, { limit: 50 })).filter((x) => x.files[0] === 'offers_bad_refs.xml' && !runs.some((o) => o.id === x.id));
    for (const [flow, field, at] of [['onec-prices', 'priceType', /\/Предложение\[1\]\/Цены\/Цена\[2\]$/], ['onec-stock', 'warehouse', /\/Предложение\[1\]\/Склад\[2\]$/]] as const) {
      const r2 = runs2.find((x) => x.flow === flow)!;
      expect(r2.loadPath).toBe('staged');
      const rj = await listRejects(tp.rt.db, r2.id);
      expect(rj).toMatchObject([{ file: 'offers_bad_refs.xml', line: 1, field, rule: 'reference' }]);
      expect(rj[0]!.path).toMatch(at);
    }
  });

  it('replays a full session of samples 05, then 01 + 02 in chunks: the store holds what the files hold', async () => {
    const s5 = text('05_offers_cml208_3-price-types.xml');
    const c5 = await session();
    await c5.file('offers.xml', sample('05_offers_cml208_3-price-types.xml'));
    expect((await c5.importUntilDone('offers.xml'))[0]).toBe('success');
    expect((await c5.raw({ type: 'catalog', mode: 'deactivate', timestamp: String(Math.floor(Date.now() / 1000)) }))[0]).toBe('success');
    expect((await c5.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    const after5 = await tp.rt.pool.query(`SELECT count(*)::int AS n FROM prices x JOIN products p ON p.id = x.product_id WHERE p.code LIKE 'ffce323d-%#%'`);
    expect(after5.rows[0].n).toBe(count(s5, /<Цена>/g));

    const s1 = text('01_import0_1_cml207_unf-style.xml');
    const s2 = text('02_offers0_1_cml207_warehouse-attrs.xml');
    const c = await session();
    await c.file('import0_1.xml', sample('01_import0_1_cml207_unf-style.xml'));
    const chunks = await tp.rt.pool.query(`SELECT chunks, size_bytes FROM onec_files WHERE name = 'import0_1.xml'`);
    expect(chunks.rows[0]).toEqual({ chunks: Math.ceil(sample('01_import0_1_cml207_unf-style.xml').length / FILE_LIMIT), size_bytes: sample('01_import0_1_cml207_unf-style.xml').length });
    const r1 = await c.importUntilDone('import0_1.xml');
    expect(r1[0], r1.join(' | ')).toBe('success');
    // 1C repeats import until it sees success: the same runs answer again, nothing is made twice.
    const again = await c.raw({ type: 'catalog', mode: 'import', filename: 'import0_1.xml' });
    expect(again).toEqual(r1);
    await c.file('offers0_1.xml', sample('02_offers0_1_cml207_warehouse-attrs.xml'));
    const r2 = await c.importUntilDone('offers0_1.xml');
    expect(r2[0], r2.join(' | ')).toBe('success');
    const done = await c.raw({ type: 'catalog', mode: 'complete' });
    expect(done[0], done.join(' | ')).toBe('success');

    const products = new Set([...ids(s1, /<Товар[^>]*>\s*<Ид>([^<]+)<\/Ид>/g), ...ids(s2, OFFER_ID)]);
    const got = await counts();
    expect(got).toMatchObject({
      // A complete export (СодержитТолькоИзменения="false"): 05's prices, carried by no file of this session, are gone.
      prices: count(s2, /<Цена>/g),
      stock: count(s2, /<Склад ИдСклада=/g),
      groups: count(s1, /<Группа>/g),
    });
    expect(got.priceTypes).toBe(count(s2, /<ТипЦены>/g) + count(s5, /<ТипЦены>/g) + 1); // + pt-known of the reject test
    expect(got.warehouses).toBe(count(s2, /<Склад>/g) + 1); // + wh-known
    const byCode = await tp.rt.pool.query(`SELECT code, placeholder FROM products WHERE code = ANY($1::text[])`, [[...products]]);
    expect(byCode.rowCount).toBe(products.size);
    // Products of the catalog are complete; offers without a catalog entry stay placeholders.
    const catalog = new Set(ids(s1, /<Товар[^>]*>\s*<Ид>([^<]+)<\/Ид>/g));
    for (const p of byCode.rows) expect(p.placeholder).toBe(!catalog.has(p.code));
    // Each file became one run per flow, in one snapshot group; the removal happened once, at the end.
    const runs = await listRuns(tp.rt.db, { limit: 100 });
    const group = runs[0]!.snapshotGroup;
    const mine = runs.filter((x) => x.snapshotGroup === group);
    expect(mine.filter((x) => x.kind === 'payload')).toHaveLength(18);
    expect(mine.every((x) => x.state === 'done')).toBe(true);
    const finals = mine.filter((x) => x.kind === 'finalize');
    // Prices and stock, and the keyed rows the catalog declared complete (property values, product properties).
    expect(finals.map((x) => x.flow).sort()).toEqual(['onec-prices', 'onec-product-properties', 'onec-property-values', 'onec-stock']);
    expect(finals.find((x) => x.flow === 'onec-prices')!.rows.removed).toBe(count(s5, /<Цена>/g));
    const offersRun = mine.find((x) => x.flow === 'onec-prices' && x.files[0] === 'offers0_1.xml')!;
    expect(offersRun).toMatchObject({ mode: 'snapshot', modeDeclared: true });
    expect(offersRun.rows.removed).toBe(0);
  });

  it('takes a zipped session of samples 03 + 04 (changes only) sent in chunks', async () => {
    const s3 = text('03_prices___cml209_bitrix-module.xml');
    const s4 = text('04_rests___cml209_bitrix-module.xml');
    const before = await counts();
    // The Bitrix module's prices and rests files name a price type and a warehouse declared in an
    // earlier export: this package declares them (as that export did).
    const pt = ids(s3, /<ИдТипаЦены>([^<]+)</g)[0]!;
    const wh = ids(s4, /<Склад>\s*<Ид>([^<]+)</g)[0]!;
    const declare = offersPackage(`\t\t<ТипыЦен><ТипЦены><Ид>${pt}</Ид><Наименование>Розничная</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>
\t\t<Склады><Склад><Ид>${wh}</Ид><Наименование>Основной склад</Наименование></Склад></Склады>`, false);
    const zip = await zipOf([
      ['offers0_1.xml', declare],
      ['prices___1.xml', sample('03_prices___cml209_bitrix-module.xml')],
      ['rests___1.xml', sample('04_rests___cml209_bitrix-module.xml')],
    ]);
    const c = await session();
    // POSTs smaller than file_limit are appended all the same (the archive compresses the samples well).
    await c.file('import.zip', zip, 8192);
    expect((await tp.rt.pool.query(`SELECT chunks FROM onec_files WHERE name = 'import.zip'`)).rows[0].chunks).toBe(Math.ceil(zip.length / 8192));
    for (const name of ['offers0_1.xml', 'prices___1.xml', 'rests___1.xml']) {
      const r = await c.importUntilDone(name);
      expect(r[0], `${name}: ${r.join(' | ')}`).toBe('success');
    }
    expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
    const after = await counts();
    const offers3 = new Set(ids(s3, OFFER_ID));
    expect(after.prices - before.prices).toBe(count(s3, /<Цена>/g));
    // One rest of the real export is negative (-1): that row is rejected with its line, the rest lands.
    const negative = [...s4.matchAll(/<Количество>(-[^<]*)</g)];
    expect(negative).toHaveLength(1);
    expect(after.stock - before.stock).toBe(count(s4, /<Остаток>/g) - 1);
    const stockRun = (await listRuns(tp.rt.db, { flow: 'onec-stock', limit: 1 }))[0]!;
    expect(stockRun.files).toEqual(['rests___1.xml']);
    const rej = await listRejects(tp.rt.db, stockRun.id);
    // The record's line is its <Склад> element's: two lines above the negative Количество.
    const line = s4.slice(0, negative[0]!.index).split('\n').length - 2;
    expect(rej).toMatchObject([{ file: 'rests___1.xml', line, field: 'quantity' }]);
    expect(after.products - before.products).toBe(offers3.size);
    expect(after.priceTypes - before.priceTypes).toBe(1);
    expect(after.warehouses - before.warehouses).toBe(1);
    // Files inside the archive are kept under the session's directory, like uploaded ones.
    const files = await tp.rt.pool.query(`SELECT name, archive, state FROM onec_files WHERE archive = 'import.zip' ORDER BY name`);
    expect(files.rows.map((f) => f.name)).toEqual(['offers0_1.xml', 'prices___1.xml', 'rests___1.xml']);
  });

  it('a complete export split over two files removes, once at the end and past the guard only when approved, what neither carried', async () => {
    const s2 = text('02_offers0_1_cml207_warehouse-attrs.xml');
    const head = s2.slice(0, s2.indexOf('<Предложения>') + '<Предложения>'.length);
    const tail = s2.slice(s2.indexOf('</Предложения>'));
    const offers = [...s2.matchAll(/<Предложение>[\s\S]*?<\/Предложение>/g)].map((m) => m[0]);
    const half = Math.ceil(offers.length / 2);
    const part = (o: string[]) => Buffer.from(`\uFEFF${head}\n${o.join('\n')}\n${tail}`, 'utf8');
    const before = await counts();
    const c = await session();
    await c.file('offers0_1.xml', part(offers.slice(0, half)));
    expect((await c.importUntilDone('offers0_1.xml'))[0]).toBe('success');
    // One file of a split export removes nothing: 03 + 04's rows are still there.
    expect(await counts()).toEqual(before);
    await c.file('offers0_2.xml', part(offers.slice(half)));
    expect((await c.importUntilDone('offers0_2.xml'))[0]).toBe('success');
    expect(await counts()).toEqual(before);
    // Removing 03 + 04's rows is more than half of each scope: the guard holds both removals.
    const done = await c.raw({ type: 'catalog', mode: 'complete' });
    expect(done[0], done.join(' | ')).toBe('failure');
    expect(done[1]).toMatch(/^exchange: run \d+ of flow onec-(prices|stock) is held for approval: would remove \d+ of \d+ rows in scope that no file of the export carried/);
    expect(await counts()).toEqual(before);
    const held = (await listRuns(tp.rt.db, { state: 'held' })).filter((r) => r.kind === 'finalize');
    expect(held.map((r) => r.flow).sort()).toEqual(['onec-prices', 'onec-stock']);
    for (const h of held) {
      expect(h.files).toEqual(['offers0_1.xml', 'offers0_2.xml']);
      await approveRun(tp.rt, h.id);
      expect((await waitForRun(tp.rt.db, h.id, { timeoutMs: 60_000, intervalMs: 50 })).state).toBe('done');
    }
    const after = await counts();
    expect(after.prices).toBe(count(s2, /<Цена>/g));
    expect(after.stock).toBe(count(s2, /<Склад ИдСклада=/g));
  });

  it('the same export again, zipped and chunked, changes nothing', async () => {
    const before = await storeFingerprintWithRuns();
    const zip = await zipOf([['import0_1.xml', sample('01_import0_1_cml207_unf-style.xml')], ['offers0_1.xml', sample('02_offers0_1_cml207_warehouse-attrs.xml')]]);
    const c = await session();
    await c.file('exchange.zip', zip, 16384);
    for (const name of ['import0_1.xml', 'offers0_1.xml']) {
      const r = await c.importUntilDone(name);
      expect(r[0], r.join(' | ')).toBe('success');
      expect(r[1]).toMatch(/: imported by 9 runs: 0 inserted, 0 updated, \d+ unchanged, 0 removed, 0 rejected$/);
    }
    // deactivate closes the export (its removal runs may still work when it answers); complete again is harmless.
    expect(await c.raw({ type: 'catalog', mode: 'deactivate' })).toEqual(['success', expect.stringMatching(/^exchange(: absent rows removed by 4 runs| complete: removal of absent rows continues)/)]);
    expect(await c.raw({ type: 'catalog', mode: 'complete' })).toEqual(['success', expect.stringMatching(/^exchange(: absent rows removed by 4 runs| complete: removal of absent rows continues)/)]);
    const sessionId = (await tp.rt.pool.query(`SELECT id FROM onec_sessions ORDER BY created_at DESC LIMIT 1`)).rows[0].id as string;
    const finals = (await listRuns(tp.rt.db, { limit: 30 })).filter((r) => r.kind === 'finalize' && r.snapshotGroup === `onec:${sessionId}`);
    expect(finals).toHaveLength(4);
    for (const f of finals) expect((await waitForRun(tp.rt.db, f.id, { timeoutMs: 60_000, intervalMs: 50 })).rows.removed).toBe(0);
    expect(await storeFingerprintWithRuns()).toBe(before);
  });

  it('a paused flow is a failure 1C can show (not endless progress); after resume the same import succeeds', async () => {
    await tp.rt.pool.query(`UPDATE flows SET paused = true WHERE name = 'onec-stock'`);
    const c = await session();
    await c.file('rests_paused.xml', offersPackage(`\t\t<Предложения><Предложение><Ид>paused-offer</Ид>
\t\t\t<Склад ИдСклада="dd306af1-19c9-11e7-80c2-0cc47ab29cd1" КоличествоНаСкладе="3"/></Предложение></Предложения>`, false));
    const r = await c.importUntilDone('rests_paused.xml');
    expect(r[0]).toBe('failure');
    expect(r[1]).toMatch(/^rests_paused\.xml: flow onec-stock is paused; run \d+ goes on when it is resumed \(magistral flows resume onec-stock\)$/);
    await tp.rt.pool.query(`UPDATE flows SET paused = false WHERE name = 'onec-stock'`);
    const again = await c.importUntilDone('rests_paused.xml');
    expect(again[0], again.join(' | ')).toBe('success');
    const q = await tp.rt.pool.query(`SELECT x.quantity::text AS q FROM stock x JOIN products p ON p.id = x.product_id WHERE p.code = 'paused-offer'`);
    expect(q.rows).toEqual([{ q: '3.000000' }]);
    expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
  });

  it('a duplicate key in a first load rolls back the shared read for that run only, which reads again alone (last wins)', async () => {
    await tp.rt.pool.query('TRUNCATE prices');
    const c = await session();
    await c.file('offers_dup.xml', offersPackage(`\t\t<ТипыЦен><ТипЦены><Ид>dup-pt</Ид><Наименование>Опт</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>
\t\t<Предложения><Предложение><Ид>dup-offer</Ид>
\t\t\t<Цены><Цена><ИдТипаЦены>dup-pt</ИдТипаЦены><ЦенаЗаЕдиницу>10</ЦенаЗаЕдиницу></Цена>
\t\t\t<Цена><ИдТипаЦены>dup-pt</ИдТипаЦены><ЦенаЗаЕдиницу>12</ЦенаЗаЕдиницу></Цена></Цены>
\t\t\t<Склад ИдСклада="dd306af1-19c9-11e7-80c2-0cc47ab29cd1" КоличествоНаСкладе="4"/></Предложение></Предложения>`, false));
    const r = await c.importUntilDone('offers_dup.xml');
    expect(r[0], r.join(' | ')).toBe('success');
    const prices = (await listRuns(tp.rt.db, { flow: 'onec-prices', limit: 1 }))[0]!;
    expect(prices).toMatchObject({ state: 'done', loadPath: 'staged' });
    expect(prices.rows).toMatchObject({ inserted: 1, rejected: 1 });
    expect(await listRejects(tp.rt.db, prices.id)).toMatchObject([{ file: 'offers_dup.xml', rule: 'duplicate' }]);
    const v = await tp.rt.pool.query(`SELECT value::text AS v FROM prices`);
    expect(v.rows).toEqual([{ v: '12.000000' }]);
    // The other runs of the file were read in the same pass and are not affected.
    const shared = await tp.rt.pool.query(`SELECT f.name, r.read_with IS NOT NULL AS together FROM runs r JOIN flows f ON f.id = r.flow_id
      WHERE r.inbox_ids[1] IN (SELECT id FROM inbox WHERE file_name = 'offers_dup.xml') ORDER BY f.name`);
    expect(shared.rows).toEqual([
      { name: 'onec-groups', together: true }, { name: 'onec-price-types', together: false }, { name: 'onec-prices', together: false },
      { name: 'onec-product-properties', together: true }, { name: 'onec-products', together: true }, { name: 'onec-properties', together: true },
      { name: 'onec-property-values', together: true }, { name: 'onec-stock', together: true }, { name: 'onec-warehouses', together: false },
    ]);
    expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
  });

  /** The store's fingerprint including which run last wrote each price (an unchanged row keeps its run). */
  async function storeFingerprintWithRuns(): Promise<string> {
    const r = await tp.rt.pool.query(`SELECT md5(string_agg(concat_ws(',', price_type_id, product_id, value, run_id), ';' ORDER BY 1)) AS f FROM prices`);
    return `${await storeFingerprint()}/${r.rows[0].f as string}`;
  }

  describe('bad input leaves the store as it was', () => {
    let fp: string;
    beforeAll(async () => {
      fp = await storeFingerprint();
    });
    afterAll(async () => {
      expect(await storeFingerprint()).toBe(fp);
    });

    it('malformed XML: failure naming the file, line and column', async () => {
      const c = await session();
      const bad = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация ВерсияСхемы="2.07">\n  <ПакетПредложений>\n    <Предложения>\n      <Предложение><Ид>x</Ид></Цена>\n', 'utf8');
      await c.file('offers_broken.xml', bad);
      const r = await c.importUntilDone('offers_broken.xml');
      expect(r[0]).toBe('failure');
      expect(r[1]).toMatch(/^offers_broken\.xml:5:\d+: /);
      expect(await storeFingerprint()).toBe(fp);
    });

    it('a truncated and a corrupt zip: failure naming the archive', async () => {
      const good = await zipOf([['offers.xml', sample('02_offers0_1_cml207_warehouse-attrs.xml')]]);
      const c = await session();
      await c.file('truncated.zip', good.subarray(0, Math.floor(good.length / 2)));
      expect(await c.importUntilDone('offers.xml')).toEqual(['failure', 'truncated.zip: not a zip archive, or truncated (no end of central directory)']);
      const c2 = await session();
      const corrupt = Buffer.from(good);
      for (let i = 200; i < 600; i += 7) corrupt[i] = corrupt[i]! ^ 0x5a;
      await c2.file('corrupt.zip', corrupt);
      const r = await c2.importUntilDone('offers.xml');
      expect(r[0]).toBe('failure');
      expect(r[1]).toMatch(/^corrupt\.zip: (corrupt archive|entry offers\.xml is corrupt)/);
      expect(await storeFingerprint()).toBe(fp);
    });

    it('zip bombs: by compression ratio and by total size; symbolic links and escaping names', async () => {
      const c = await session();
      await c.file('bomb.zip', await zipOf([['offers.xml', Buffer.alloc(20_000_000, 0x20)]]));
      const r = await c.importUntilDone('offers.xml');
      expect(r[0]).toBe('failure');
      expect(r[1]).toMatch(/^bomb\.zip: entry offers\.xml would expand \d+ times \(limit 200\): refused as a zip bomb$/);

      const t = await session(tightUrl);
      await t.file('big.zip', await zipOf([['import.xml', sample('01_import0_1_cml207_unf-style.xml')]]));
      expect(await t.importUntilDone('import.xml')).toEqual(['failure', 'big.zip: the archive expands past 100000 bytes: refused as a zip bomb']);

      const l = await session();
      await l.file('link.zip', await zipOf([['offers.xml', Buffer.from('/etc/passwd')]], { mode: 0o120777 }));
      expect(await l.importUntilDone('offers.xml')).toEqual(['failure', 'link.zip: entry offers.xml is a symbolic link (refused)']);

      const e = await session();
      const escaping = await zipOf([['zz/zz/evil.xml', Buffer.from('<x/>')]]);
      await e.file('escape.zip', Buffer.from(escaping.toString('latin1').replaceAll('zz/zz/evil.xml', '../../evil.xml'), 'latin1'));
      const er = await e.importUntilDone('evil.xml');
      expect(er[0]).toBe('failure');
      expect(er[1]).toMatch(/^escape\.zip: .*(\.\.\/\.\.\/evil\.xml|relative path)/);
      const leaked = (await readdir(tp.dataDir, { recursive: true })).filter((f) => f.endsWith('evil.xml'));
      expect(leaked).toEqual([]);
      expect(await storeFingerprint()).toBe(fp);
    });

    it('file names that leave the session directory are refused', async () => {
      const c = await session();
      for (const [name, why] of [
        ['../../x.xml', "'..' in a file name is refused"],
        ['import_files/../../x.xml', "'..' in a file name is refused"],
        ['/etc/x.xml', 'absolute file names are refused'],
        ['C:\\x.xml', 'file names with a drive letter are refused'],
        ['..\\x.xml', "'..' in a file name is refused"],
        ['x\u0000.xml', 'file name contains NUL or control characters'],
      ] as const) {
        const r = await c.raw({ type: 'catalog', mode: 'file', filename: name }, { body: Buffer.from('<x/>') });
        expect(r[0], name).toBe('failure');
        expect(r[1]).toContain(why);
      }
      // Sub-folders are kept, inside the session's directory.
      await c.file('import_files/ab/abcd.jpg', Buffer.from('not really a picture'));
      const row = await tp.rt.pool.query(`SELECT name, path FROM onec_files WHERE name = 'import_files/ab/abcd.jpg'`);
      expect(row.rows[0].path.startsWith(tp.dataDir)).toBe(true);
      expect(row.rows[0].path.endsWith('/import_files/ab/abcd.jpg')).toBe(true);
      const names = (await tp.rt.pool.query(`SELECT name FROM onec_files WHERE name LIKE '%x.xml'`)).rows;
      expect(names).toEqual([]);
    });

    it('a body over file_limit is refused, declared or streamed, and nothing of it is kept', async () => {
      const c = await session();
      await c.file('offers_limit.xml', Buffer.alloc(1000, 0x20));
      const declared = await c.raw({ type: 'catalog', mode: 'file', filename: 'offers_limit.xml' }, { body: Buffer.alloc(FILE_LIMIT + 1, 0x20) });
      expect(declared).toEqual(['failure', `offers_limit.xml: a POST of ${FILE_LIMIT + 1} bytes is larger than file_limit=${FILE_LIMIT}`]);
      const c2 = await session();
      await c2.file('offers_limit.xml', Buffer.alloc(1000, 0x20));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent >= FILE_LIMIT * 3) return ctl.close();
          sent += 16384;
          ctl.enqueue(new Uint8Array(16384).fill(0x20));
        },
      });
      const streamed = await c2.raw({ type: 'catalog', mode: 'file', filename: 'offers_limit.xml' }, { body: stream });
      expect(streamed).toEqual(['failure', `offers_limit.xml: the POST is larger than file_limit=${FILE_LIMIT} bytes`]);
      const rows = await tp.rt.pool.query(`SELECT size_bytes, chunks, path FROM onec_files WHERE name = 'offers_limit.xml'`);
      expect(rows.rows.map((r) => [r.size_bytes, r.chunks])).toEqual([[1000, 1], [1000, 1]]);
      for (const r of rows.rows) expect(readFileSync(r.path as string).length).toBe(1000);
      // The first POST of a new file, streamed past the limit: no 0-byte file and no row stay behind (a
      // later import of that name would have read an empty file as the whole export).
      const c3 = await session();
      let sent3 = 0;
      const first = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent3 >= FILE_LIMIT * 3) return ctl.close();
          sent3 += 16384;
          ctl.enqueue(new Uint8Array(16384).fill(0x20));
        },
      });
      expect(await c3.raw({ type: 'catalog', mode: 'file', filename: 'offers_new_over.xml' }, { body: first }))
        .toEqual(['failure', `offers_new_over.xml: the POST is larger than file_limit=${FILE_LIMIT} bytes`]);
      expect((await tp.rt.pool.query(`SELECT id FROM onec_files WHERE name = 'offers_new_over.xml'`)).rows).toEqual([]);
      expect(execFileSync('find', [tp.dataDir, '-name', 'offers_new_over.xml'], { encoding: 'utf8' })).toBe('');
      // A file over maxFileBytes (all its POSTs) is refused too.
      const t = await session(tightUrl);
      await t.file('offers_big.xml', Buffer.alloc(FILE_LIMIT * 3, 0x20));
      const over = await t.raw({ type: 'catalog', mode: 'file', filename: 'offers_big.xml' }, { body: Buffer.alloc(FILE_LIMIT, 0x20) });
      expect(over).toEqual(['failure', 'offers_big.xml: the file is larger than the limit of 200000 bytes']);
    });

    it('a file that lost bytes on disk after "success" (a crash before writeback) is asked for again, and nothing of it is imported', async () => {
      const before = await storeFingerprint();
      const c = await session();
      const data = offersPackage('\t\t<Предложения>\n\t\t</Предложения>', false);
      await c.file('offers_lost.xml', data, 64);
      const row = (await tp.rt.pool.query(`SELECT path, size_bytes FROM onec_files WHERE name = 'offers_lost.xml' ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(Number(row.size_bytes)).toBe(data.length);
      truncateSync(row.path as string, data.length - 100);
      expect(await c.importUntilDone('offers_lost.xml')).toEqual(['failure', `offers_lost.xml: ${data.length} bytes were received but ${data.length - 100} are on disk; send the whole file again`]);
      const runs = await tp.rt.pool.query(`SELECT count(*)::int AS n FROM inbox WHERE path = $1`, [row.path]);
      expect(runs.rows[0].n).toBe(0);
      expect(await storeFingerprint()).toBe(before);
    });

    it('an import of a file never sent, or after complete, is a failure', async () => {
      const c = await session();
      expect(await c.importUntilDone('offers9.xml')).toEqual(['failure', 'offers9.xml: no such file was sent in this session']);
      expect((await c.raw({ type: 'catalog', mode: 'complete' }))[0]).toBe('success');
      expect(await c.importUntilDone('offers9.xml')).toEqual(['failure', "offers9.xml: this session's export was already completed; start a new one (mode=checkauth)"]);
    });
  });
});
