// The onec.odata connector against a fake 1C base that speaks its standard OData interface on the wire
// (nock): answers in 1C's JSON shape (`odata.metadata`, `value`), $top/$skip paging, `odata.error`
// failures. Pulls run through the real pipeline on the real PostgreSQL and Redis.
import { rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, pricesPicture, stockPicture, type TestPipeline } from '../helpers/pipeline.ts';
import { pullFlow, pollStatus, settlePull, type PullOutcome } from '../../src/pipeline/poll.ts';
import { approveRun, listRejects, waitForRun, type RunView } from '../../src/pipeline/runs.ts';
import { describeODataError, encodeResource, parseLossless, plainNumber } from '../../connectors/onec/odata/index.ts';

const HOST = 'http://onec.test';
const ROOT = '/trade/odata/standard.odata';
const ENV = { ONEC_TEST_USER: 'site', ONEC_TEST_PASSWORD: 'Пароль-s3cret' };
const ZERO = '00000000-0000-0000-0000-000000000000';
const FOLDER = '6d0f1b40-0a53-11ee-8f3c-00155d010a01';

// ---- a fake 1C base -------------------------------------------------------------------------------

interface Seen { path: string; url: URL; auth?: string }
type Answer = [number, unknown];

const fake = {
  /** Rows of each resource (the decoded path after the service root, e.g. `Catalog_Номенклатура`). */
  sets: new Map<string, Array<Record<string, unknown>>>(),
  /** Answers given before the data, one per request (errors, outages). */
  script: [] as Answer[],
  seen: [] as Seen[],
  /** Honours $top/$skip like 1C does; a user other than site/password gets 401. */
  answer(path: string, headers: Record<string, string | string[] | undefined>): Answer {
    const url = new URL(path, HOST);
    const auth = typeof headers.authorization === 'string' ? headers.authorization : undefined;
    fake.seen.push({ path, url, auth });
    const scripted = fake.script.shift();
    if (scripted) return scripted;
    if (auth !== `Basic ${Buffer.from(`${ENV.ONEC_TEST_USER}:${ENV.ONEC_TEST_PASSWORD}`).toString('base64')}`) {
      return [401, { 'odata.error': { code: '', message: { lang: 'ru', value: 'Ошибка аутентификации' } } }];
    }
    const resource = decodeURIComponent(url.pathname.slice(ROOT.length + 1));
    const rows = fake.sets.get(resource);
    if (!rows) return [404, odataError('9', `Не найден объект '${resource}'`)];
    const top = Number(url.searchParams.get('$top') ?? rows.length);
    const skip = Number(url.searchParams.get('$skip') ?? 0);
    const set = resource.replace(/\/(SliceLast|Balance)\(.*$/, '_$1');
    return [200, { 'odata.metadata': `${HOST}${ROOT}/$metadata#${set}`, value: rows.slice(skip, skip + top) }];
  },
  reset() {
    fake.script = [];
    fake.seen = [];
  },
};

function odataError(code: string, text: string): unknown {
  return { 'odata.error': { code, message: { lang: 'ru', value: text } } };
}

/** An entry of Catalog_Номенклатура as 1C returns it with $select, navigation links included. */
function item(n: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Ref_Key: ref(n), DataVersion: 'AAAAAQAAAAA=', DeletionMark: false, Parent_Key: FOLDER, IsFolder: false,
    Code: `00-000000${String(n).padStart(2, '0')}`, Description: `Товар ${n}`, Артикул: `ART-${n}`,
    'Parent@navigationLinkUrl': `Catalog_Номенклатура(guid'${ref(n)}')/Parent`,
    ...over,
  };
}

/** Entry 2 as the incremental test leaves it. */
const renamed2 = (): Record<string, unknown> => item(2, { Parent_Key: ZERO, Артикул: '', Description: 'Товар 2 (новое имя)', DataVersion: 'AAAAAgAAAAA=' });

function ref(n: number): string {
  return `6d0f1b${String(n).padStart(2, '0')}-0a53-11ee-8f3c-00155d010a01`;
}

function flowYaml(name: string, options: Record<string, unknown>, rest: string): string {
  const opts = { url: `${HOST}${ROOT}`, userEnv: 'ONEC_TEST_USER', passwordEnv: 'ONEC_TEST_PASSWORD', retryDelayMs: 5, ...options };
  return `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source:
  connector: onec.odata
  system: onec
  options: ${JSON.stringify(opts)}
${rest}
`;
}

const productsFlow = (name: string, extra = '', options: Record<string, unknown> = {}) => flowYaml(name, {
  resource: 'Catalog_Номенклатура', select: ['Ref_Key', 'Code', 'Description', 'Артикул', 'Parent_Key', 'DeletionMark', 'IsFolder'],
  filter: 'IsFolder eq false', orderBy: 'Ref_Key', pageSize: 2, incremental: true, ...options,
}, `mapping: onec/odata-products.yaml\ntarget: products\nmode: delta\n${extra}`);

// ---- helpers --------------------------------------------------------------------------------------

let tp: TestPipeline;

async function pull(name: string): Promise<PullOutcome> {
  return pullFlow(tp.rt, name, { env: ENV });
}

async function pullAndWait(name: string): Promise<{ outcome: PullOutcome; run: RunView }> {
  const outcome = await pull(name);
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ outcome: 'received' });
  const o = outcome as Extract<PullOutcome, { outcome: 'received' }>;
  const run = await waitForRun(tp.rt.db, o.runId, { timeoutMs: 60_000, intervalMs: 50 });
  return { outcome, run };
}

async function products(): Promise<string[]> {
  const r = await tp.rt.pool.query(`
    SELECT p.code, p.name, coalesce(p.article, '') AS article, coalesce(g.code, '') AS grp, p.deleted
    FROM products p LEFT JOIN groups g ON g.id = p.group_id ORDER BY p.code`);
  return r.rows.map((x) => `${x.code}|${x.name}|${x.article}|${x.grp}|${x.deleted}`);
}

async function runCount(flow: string): Promise<number> {
  const r = await tp.rt.pool.query(`SELECT count(*)::int AS n FROM runs r JOIN flows f ON f.id = r.flow_id WHERE f.name = $1`, [flow]);
  return r.rows[0].n;
}

beforeAll(async () => {
  tp = await createTestPipeline('odata');
  // Only the fake 1C is faked: PostgreSQL and Redis stay real.
  nock.disableNetConnect();
  nock.enableNetConnect((host) => /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host));
  // nock 15 hands the reply function the request as a fetch Request.
  nock(HOST).persist().get(() => true).reply((req: unknown) => {
    const r = req as Request;
    const u = new URL(r.url);
    const [status, body] = fake.answer(u.pathname + u.search, { authorization: r.headers.get('authorization') ?? undefined });
    // 1C writes numbers as JSON numbers: "N:1234.50" in a fake row goes out as 1234.50.
    const text = typeof body === 'string' ? body : JSON.stringify(body).replace(/"N:(-?[0-9.eE+-]+)"/g, '$1');
    return [status, text, { 'content-type': 'application/json;charset=utf-8' }];
  });
});

afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  await tp?.close();
});

afterEach(() => fake.reset());

// ---- the wire -------------------------------------------------------------------------------------

describe('1C OData requests and answers', () => {
  it('percent-encodes Cyrillic resource names as UTF-8 and keeps OData punctuation', () => {
    expect(encodeResource('Catalog_Номенклатура')).toBe(`Catalog_${encodeURIComponent('Номенклатура')}`);
    expect(encodeResource("AccumulationRegister_Товары/Balance(Dimensions='Номенклатура,Склад')"))
      .toBe(`AccumulationRegister_${encodeURIComponent('Товары')}/Balance(Dimensions='${encodeURIComponent('Номенклатура')},${encodeURIComponent('Склад')}')`);
    expect(encodeResource("Catalog_A(guid'1')/B %D0%90 x")).toBe("Catalog_A(guid'1')/B%20%D0%90%20x");
  });

  it('reads numbers without losing digits', () => {
    const doc = parseLossless('{"value":[{"Цена":99999999999.999999,"q":1234.50,"n":-0.5,"e":1.5E-7,"s":"12.0","b":true,"z":null}]}') as { value: Array<Record<string, unknown>> };
    expect(doc.value[0]).toEqual({ Цена: '99999999999.999999', q: '1234.50', n: '-0.5', e: '0.00000015', s: '12.0', b: true, z: null });
    expect(plainNumber('2E3')).toBe('2000');
    expect(plainNumber('-1.25e1')).toBe('-12.5');
  });

  it('reads both forms of 1C errors', () => {
    expect(describeODataError(JSON.stringify(odataError('14', 'Неправильный формат $filter')))).toBe('1C error 14: Неправильный формат $filter');
    expect(describeODataError('<m:error xmlns:m="x"><m:code>6</m:code><m:message xml:lang="ru">Extra segments</m:message></m:error>')).toBe('1C error 6: Extra segments');
    expect(describeODataError('<html>Bad gateway</html>')).toBeUndefined();
  });
});

// ---- pulls through the pipeline -------------------------------------------------------------------

describe('onec.odata pulls', () => {
  it('pages a catalog with $top/$skip until a short page and loads its products', async () => {
    fake.sets.set('Catalog_Номенклатура', [
      item(1), item(2, { Parent_Key: ZERO, Артикул: '' }), item(3, { DeletionMark: true }), item(4), item(5, { Description: '' }),
    ]);
    await tp.applyFlowYaml(productsFlow('odata-products'));
    const { outcome, run } = await pullAndWait('odata-products');
    expect(outcome).toMatchObject({ records: 5 });

    // Three pages of two: 0, 2, 4 (the third is short, so paging stops).
    expect(fake.seen.map((s) => [s.url.searchParams.get('$top'), s.url.searchParams.get('$skip')])).toEqual([['2', '0'], ['2', '2'], ['2', '4']]);
    const first = fake.seen[0]!;
    expect(first.path.startsWith(`${ROOT}/Catalog_${encodeURIComponent('Номенклатура')}?$format=json&`)).toBe(true);
    expect(first.url.searchParams.get('$format')).toBe('json');
    // incremental pulls add the key and version to $select themselves
    expect(first.url.searchParams.get('$select')).toBe('Ref_Key,Code,Description,Артикул,Parent_Key,DeletionMark,IsFolder,DataVersion');
    expect(first.path).toContain(`$select=Ref_Key%2CCode%2CDescription%2C${encodeURIComponent('Артикул')}%2C`);
    expect(first.url.searchParams.get('$filter')).toBe('IsFolder eq false');
    expect(first.path).toContain('$filter=IsFolder%20eq%20false');
    expect(first.url.searchParams.get('$orderby')).toBe('Ref_Key');
    expect(first.auth).toBe(`Basic ${Buffer.from('site:Пароль-s3cret').toString('base64')}`);

    expect(run.state).toBe('done');
    expect(run.files).toEqual(['Catalog_Номенклатура.ndjson']);
    expect(run.rows).toMatchObject({ read: 5, staged: 4, rejected: 1, inserted: 4 });
    expect(await products()).toEqual([
      `${ref(1)}|Товар 1|ART-1|${FOLDER}|false`,
      `${ref(2)}|Товар 2|||false`,
      `${ref(3)}|Товар 3|ART-3|${FOLDER}|true`,
      `${ref(4)}|Товар 4|ART-4|${FOLDER}|false`,
    ]);
    // The reject names the entry's own OData address and its line in the pulled payload.
    const rejects = await listRejects(tp.rt.db, run.id);
    expect(rejects).toMatchObject([{ file: 'Catalog_Номенклатура.ndjson', line: 5, path: `Catalog_Номенклатура(guid'${ref(5)}')`, field: 'name' }]);
    await settlePull(tp.rt.db, (outcome as { flowId: number }).flowId);
    expect(await pollStatus(tp.rt.db, 'odata-products')).toMatchObject({ lastOutcome: 'received', lastRecords: 5, cursorRunId: run.id, pendingRunId: null, failures: 0 });
  });

  it('pulls incrementally by DataVersion: only new or changed entries, then nothing', async () => {
    const rows = fake.sets.get('Catalog_Номенклатура')!;
    rows[1] = renamed2();
    rows.push(item(6, { DataVersion: 'AAAAAQAAAAE=' }));
    const { outcome, run } = await pullAndWait('odata-products');
    expect(outcome).toMatchObject({ records: 2 });
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ read: 2, inserted: 1, updated: 1 });
    const all = await products();
    expect(all).toContain(`${ref(2)}|Товар 2 (новое имя)|||false`);
    expect(all).toContain(`${ref(6)}|Товар 6|ART-6|${FOLDER}|false`);

    // Nothing changed since: no run is made.
    const before = await runCount('odata-products');
    expect(await pull('odata-products')).toMatchObject({ outcome: 'unchanged' });
    expect(await runCount('odata-products')).toBe(before);
    expect(await pollStatus(tp.rt.db, 'odata-products')).toMatchObject({ lastOutcome: 'unchanged' });
  });

  it('keeps the cursor only once the run is done: a failed run is pulled again', async () => {
    const mine = [11, 12, 13, 14, 15];
    fake.sets.set('Catalog_Номенклатура', mine.map((n) => item(n)));
    await tp.applyFlowYaml(productsFlow('odata-cursor', 'retry: { attempts: 1 }', { pageSize: 100 }));
    expect((await pullAndWait('odata-cursor')).run.state).toBe('done');

    // No workers for a while: the pulled run stays open.
    await tp.workers!.close();
    fake.sets.get('Catalog_Номенклатура')!.splice(0, 2, item(11, { Description: 'A', DataVersion: 'B' }), item(12, { Description: 'B', DataVersion: 'B' }));
    fake.reset();
    const first = await pull('odata-cursor');
    expect(first).toMatchObject({ outcome: 'received', records: 2 });
    const runId = (first as { runId: number }).runId;
    // The next tick fetches nothing while that run is open.
    expect(await pull('odata-cursor')).toMatchObject({ outcome: 'waiting', runId });
    expect(fake.seen).toHaveLength(1);

    // The stored payload is lost before extraction: the run fails.
    const inbox = await tp.rt.pool.query(`SELECT i.path FROM inbox i JOIN runs r ON i.id = ANY(r.inbox_ids) WHERE r.id = $1`, [runId]);
    await rm(inbox.rows[0].path);
    await tp.startWorkers();
    expect((await waitForRun(tp.rt.db, runId, { timeoutMs: 60_000, intervalMs: 50 })).state).toBe('failed');

    // The cursor did not move: the same two changes come again, and land.
    const again = await pullAndWait('odata-cursor');
    expect(again.outcome).toMatchObject({ records: 2 });
    expect(again.run.state).toBe('done');
    expect(await products()).toContain(`${ref(11)}|A|ART-11|${FOLDER}|false`);
    expect(await pull('odata-cursor')).toMatchObject({ outcome: 'unchanged' });
  });

  it('pulls a price register slice and a stock balance as snapshots, with exact decimals', async () => {
    const PT = '9a1c6e10-0a53-11ee-8f3c-00155d010a01';
    const CH = '7e2a0c01-0a53-11ee-8f3c-00155d010a01';
    const WH = 'b3d5f701-0a53-11ee-8f3c-00155d010a01';
    const rub = { Code: '643', Description: 'руб.' };
    const price = (n: number, value: string, over: Record<string, unknown> = {}) => ({
      Номенклатура_Key: ref(n), Характеристика_Key: ZERO, ВидЦены_Key: PT, Цена: value, Валюта: rub, ...over,
    });
    const sliceResource = 'InformationRegister_ЦеныНоменклатуры/SliceLast()';
    // 1C writes numbers as JSON numbers: the fake sends them raw.
    fake.sets.set(sliceResource, [price(1, 'N:1234.50'), price(1, 'N:19.9', { Характеристика_Key: CH, Валюта: { Code: '840' } }), price(2, 'N:99999999999.999999')]);
    await tp.applyFlowYaml(flowYaml('odata-prices', {
      resource: sliceResource, select: ['Номенклатура_Key', 'Характеристика_Key', 'ВидЦены_Key', 'Цена', 'Валюта/Code'], expand: ['Валюта'], pageSize: 1000,
    }, 'mapping: onec/odata-prices.yaml\ntarget: prices\nmode: snapshot\nscope: flow\nguard: { maxChangeRatio: 0.5 }'));
    const { run } = await pullAndWait('odata-prices');
    expect(run.state).toBe('done');
    expect(fake.seen[0]!.path).toContain(`/InformationRegister_${encodeURIComponent('ЦеныНоменклатуры')}/SliceLast()?`);
    expect(fake.seen[0]!.url.searchParams.get('$expand')).toBe('Валюта');
    expect((await pricesPicture(tp)).sort()).toEqual([
      `${ref(1)}#${CH}|${PT}|19.900000|USD`,
      `${ref(1)}|${PT}|1234.500000|RUB`,
      `${ref(2)}|${PT}|99999999999.999999|RUB`,
    ].sort());

    // The next slice lacks one price: the snapshot removes it.
    fake.sets.get(sliceResource)!.splice(1, 1);
    const second = await pullAndWait('odata-prices');
    expect(second.run.rows).toMatchObject({ read: 2, removed: 1, unchanged: 2 });

    // A slice that changes every price is held; while it is held the flow is not pulled again.
    fake.sets.set(sliceResource, [price(1, 'N:1300'), price(2, 'N:1')]);
    const held = await pullAndWait('odata-prices');
    expect(held.run.state).toBe('held');
    expect(await pull('odata-prices')).toMatchObject({ outcome: 'waiting', runId: held.run.id });
    await approveRun(tp.rt, held.run.id);
    expect((await waitForRun(tp.rt.db, held.run.id, { timeoutMs: 60_000, intervalMs: 50 })).state).toBe('done');
    expect((await pricesPicture(tp)).sort()).toEqual([`${ref(1)}|${PT}|1300.000000|RUB`, `${ref(2)}|${PT}|1.000000|RUB`]);

    const balance = "AccumulationRegister_ТоварыНаСкладах/Balance(Dimensions='Номенклатура,Характеристика,Склад')";
    fake.sets.set(balance, [
      { Номенклатура_Key: ref(1), Характеристика_Key: ZERO, Склад_Key: WH, ВНаличииBalance: 'N:125' },
      { Номенклатура_Key: ref(2), Характеристика_Key: CH, Склад_Key: WH, ВНаличииBalance: 'N:12.750' },
    ]);
    await tp.applyFlowYaml(flowYaml('odata-stock', {
      resource: balance, select: ['Номенклатура_Key', 'Характеристика_Key', 'Склад_Key', 'ВНаличииBalance'], filter: 'ВНаличииBalance gt 0', pageSize: 1000,
    }, 'mapping: onec/odata-stock.yaml\ntarget: stock\nmode: snapshot\nscope: flow'));
    expect((await pullAndWait('odata-stock')).run.state).toBe('done');
    expect(fake.seen.at(-1)!.path).toContain(`/Balance(Dimensions='${encodeURIComponent('Номенклатура')},`);
    expect(fake.seen.at(-1)!.url.searchParams.get('$filter')).toBe('ВНаличииBalance gt 0');
    expect((await stockPicture(tp)).sort()).toEqual([`${ref(1)}|${WH}|125.000000`, `${ref(2)}#${CH}|${WH}|12.750000`].sort());
  });

  it('fails the pull on an odata.error with the resource, status, code and text; the store is unchanged', async () => {
    await tp.applyFlowYaml(productsFlow('odata-missing', '', { resource: 'Catalog_Номенклатурa' }));
    const before = await products();
    const o = await pull('odata-missing');
    expect(o.outcome).toBe('failed');
    const { message, code } = (o as Extract<PullOutcome, { outcome: 'failed' }>).error;
    expect(code).toBe('MAG_ERR_PULL_FAILED');
    expect(message).toBe("onec.odata Catalog_Номенклатурa: HTTP 404 — 1C error 9: Не найден объект 'Catalog_Номенклатурa'");
    expect(fake.seen).toHaveLength(1); // a 4xx is not retried
    expect(await runCount('odata-missing')).toBe(0);
    expect(await products()).toEqual(before);
    expect(await pollStatus(tp.rt.db, 'odata-missing')).toMatchObject({ lastOutcome: 'failed', lastError: { code: 'MAG_ERR_PULL_FAILED', message }, failures: 1 });

    // A failure on a later page loses nothing either: the payload is dropped whole.
    fake.sets.set('Catalog_Номенклатура', [item(1), renamed2(), item(3, { Description: 'changed', DataVersion: 'C' })]);
    fake.script.push([200, { 'odata.metadata': 'x', value: [item(1), renamed2()] }], [400, odataError('14', 'Неправильный формат $skip')]);
    const runsBefore = await runCount('odata-products');
    const o2 = await pull('odata-products');
    expect(o2).toMatchObject({ outcome: 'failed', error: { message: 'onec.odata Catalog_Номенклатура (page at $skip=2): HTTP 400 — 1C error 14: Неправильный формат $skip' } });
    expect(await runCount('odata-products')).toBe(runsBefore);
    expect(await products()).toEqual(before);
  });

  it('retries 5xx answers with backoff, then succeeds', async () => {
    fake.sets.set('Catalog_Номенклатура', [item(1), renamed2(), item(3, { Description: 'Товар 3 после сбоя', DataVersion: 'D' })]);
    fake.script.push([503, '<html>Service Unavailable</html>'], [500, odataError('-1', 'Ошибка СУБД')]);
    const { outcome, run } = await pullAndWait('odata-products');
    expect(fake.seen.map((s) => s.url.searchParams.get('$skip'))).toEqual(['0', '0', '0', '2']);
    expect(outcome).toMatchObject({ records: 1 });
    expect(run.state).toBe('done');
    expect(await products()).toContain(`${ref(3)}|Товар 3 после сбоя|ART-3|${FOLDER}|false`);
  });

  it('gives up after the retries with the last status and text', async () => {
    await tp.applyFlowYaml(productsFlow('odata-down', '', { retries: 2 }));
    fake.script.push([502, 'Bad Gateway'], [503, 'down'], [500, odataError('-1', 'Ошибка СУБД')]);
    const o = await pull('odata-down');
    expect(o).toMatchObject({ outcome: 'failed', error: { message: 'onec.odata Catalog_Номенклатура: HTTP 500 — 1C error -1: Ошибка СУБД (after 3 attempts)' } });
    expect(fake.seen).toHaveLength(3);
  });

  it('retries a request that loses its connection or times out, then names what happened', async () => {
    // A real socket on this machine (not nock): it drops the connection, stays silent or answers, as told.
    const behaviour: Array<'drop' | 'silent' | 'answer'> = [];
    const server = createServer((req, res) => {
      const b = behaviour.shift() ?? 'answer';
      if (b === 'drop') req.socket.destroy();
      else if (b === 'answer') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ 'odata.metadata': 'x', value: [item(1)] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${ROOT}`;
      await tp.applyFlowYaml(productsFlow('odata-flaky', '', { url, timeoutMs: 300, retries: 1 }));
      behaviour.push('drop', 'drop');
      expect(await pull('odata-flaky')).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_FAILED', message: 'onec.odata Catalog_Номенклатура: network error: UND_ERR_SOCKET (after 2 attempts)' } });
      behaviour.push('drop', 'silent');
      expect(await pull('odata-flaky')).toMatchObject({ error: { message: 'onec.odata Catalog_Номенклатура: no answer within 300 ms (after 2 attempts)' } });
      behaviour.push('drop');
      expect(await pull('odata-flaky')).toMatchObject({ outcome: 'received', records: 1 });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reports refused credentials clearly, without retrying and without the password', async () => {
    const o = await pullFlow(tp.rt, 'odata-products', { env: { ONEC_TEST_USER: 'site', ONEC_TEST_PASSWORD: 'wrong-пароль' } });
    expect(o.outcome).toBe('failed');
    const { code, message } = (o as Extract<PullOutcome, { outcome: 'failed' }>).error;
    expect(code).toBe('MAG_ERR_PULL_AUTH');
    expect(message).toBe("onec.odata Catalog_Номенклатура: HTTP 401 — 1C refused the credentials (user 'site' from ONEC_TEST_USER/ONEC_TEST_PASSWORD); 1C error: Ошибка аутентификации");
    expect(message).not.toContain('wrong');
    expect(fake.seen).toHaveLength(1);

    const unset = await pullFlow(tp.rt, 'odata-products', { env: {} });
    expect(unset).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_AUTH', message: 'onec.odata Catalog_Номенклатура: environment variables ONEC_TEST_USER and ONEC_TEST_PASSWORD not set (userEnv/passwordEnv of the flow)' } });
  });

  it('refuses a push connector, and skips a paused flow', async () => {
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
    await expect(pull('prices-csv')).rejects.toThrow(/connector 'file.csv' does not pull/);
    await tp.rt.pool.query(`UPDATE flows SET paused = true WHERE name = 'odata-products'`);
    expect(await pull('odata-products')).toMatchObject({ outcome: 'skipped', reason: 'the flow is paused' });
    await tp.rt.pool.query(`UPDATE flows SET paused = false WHERE name = 'odata-products'`);
    expect(await pull('odata-products')).toMatchObject({ outcome: 'unchanged' });
  });
});
