// The sap.odata connector against a fake S/4HANA that speaks OData v2 on the wire (nock): answers in
// SAP Gateway's JSON shape (`d.results`, `__metadata`, `__next`, `__count`, `/Date(ms)/`, Edm.Decimal
// as strings, expanded navigations as `{ results: [...] }`), `$top`/`$skip` and server-driven paging,
// SAP's error JSON, an OAuth 2.0 token endpoint. Shapes follow the API Business Hub documentation of
// API_PRODUCT_SRV, API_SLSPRICINGCONDITIONRECORD_SRV, API_MATERIAL_STOCK_SRV and API_BUSINESS_PARTNER.
// Pulls run through the real pipeline on the real PostgreSQL and Redis.
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, stockPicture, type TestPipeline } from '../helpers/pipeline.ts';
import { pullFlow, settlePull, type PullOutcome } from '../../src/pipeline/poll.ts';
import { listRejects, waitForRun, type RunView } from '../../src/pipeline/runs.ts';
import { compileMapping, listMappingFiles, loadMapping, runMappingTests } from '../../src/mapping/index.ts';
import { registry } from '../helpers/registry.ts';
import { priceAtSql } from '../../src/portal/price-at.ts';
import {
  clearTokenCache, describeSapError, keysetFilter, retryAfterMs, shapeEntry, wireDate,
} from '../../connectors/sap/odata/index.ts';
import { resolveSapOptions } from '../../connectors/sap/odata/options.ts';

const HOST = 'https://s4.test';
const SRV = '/sap/opu/odata/sap';
const ENV = { SAP_TEST_USER: 'MAGISTRAL_COMM', SAP_TEST_PASSWORD: 'Geheim-s3cret!', SAP_CLIENT_ID: 'sb-magistral', SAP_CLIENT_SECRET: 'oauth-s3cret' };
const BASIC = `Basic ${Buffer.from(`${ENV.SAP_TEST_USER}:${ENV.SAP_TEST_PASSWORD}`).toString('base64')}`;

// ---- a fake S/4HANA -------------------------------------------------------------------------------

interface Seen { url: URL; auth?: string }
type Answer = [number, unknown, Record<string, string>?];
type Row = Record<string, unknown>;

const ms = (iso: string): number => Date.parse(iso);
const wire = (iso: string): string => `/Date(${ms(iso)})/`;
const wireOffset = (iso: string): string => `/Date(${ms(iso)}+0000)/`;

const fake = {
  /** Rows per `SERVICE/EntitySet`. */
  sets: new Map<string, Row[]>(),
  /** Server-driven paging: at most this many entries per answer, the rest behind `__next` ($top absent). */
  serverPage: 0,
  /** A service that ignores $filter (the keyset condition). */
  ignoreFilter: false,
  /** Answers given before the data, one per request (errors, outages). */
  script: [] as Answer[],
  seen: [] as Seen[],
  /** The bearer tokens the fake accepts; each token request adds one. */
  tokens: new Set<string>(),
  tokenRequests: [] as Array<{ auth?: string; body: string }>,
  issued: 0,
  answer(url: URL, auth: string | undefined): Answer {
    fake.seen.push({ url, auth });
    const scripted = fake.script.shift();
    if (scripted) return scripted;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (auth !== BASIC && !(bearer && fake.tokens.has(bearer))) {
      return [401, '<html><body>Logon failed</body></html>'];
    }
    const name = url.pathname.slice(SRV.length + 1);
    let rows = fake.sets.get(name);
    if (!rows) return [404, sapError('/IWFND/CM_MGW/004', `Resource not found for segment '${name}'`)];
    rows = [...rows];
    const filter = fake.ignoreFilter ? '' : url.searchParams.get('$filter') ?? '';
    // The keyset condition of incremental pulls: `(F gt datetimeoffset'T' or (F eq … and K gt 'k'))`.
    const ks = /\((\w+) gt datetimeoffset'([^']+)' or \(\1 eq datetimeoffset'\2' and (\w+) gt '((?:[^']|'')*)'\)\)/.exec(filter);
    const order = url.searchParams.get('$orderby');
    if (order === 'LastChangeDateTime,Product') {
      const t = (r: Row) => Number(/\d+/.exec(String(r.LastChangeDateTime))![0]);
      rows.sort((a, b) => t(a) - t(b) || String(a.Product).localeCompare(String(b.Product)));
      if (ks) {
        const since = ms(ks[2]!);
        const key = ks[4]!.replace(/''/g, "'");
        rows = rows.filter((r) => t(r) > since || (t(r) === since && String(r.Product) > key));
      }
    }
    const skipToken = Number(url.searchParams.get('$skiptoken') ?? 0);
    const top = url.searchParams.get('$top');
    const skip = Number(url.searchParams.get('$skip') ?? 0);
    const total = rows.length;
    let page = top !== null ? rows.slice(skip, skip + Number(top)) : rows.slice(skipToken);
    let next: string | undefined;
    if (top === null && fake.serverPage && page.length > fake.serverPage) {
      page = page.slice(0, fake.serverPage);
      const n = new URL(url);
      n.searchParams.set('$skiptoken', String(skipToken + fake.serverPage));
      next = n.toString();
    }
    const d: Record<string, unknown> = {
      results: page.map((r) => ({ __metadata: { id: `${HOST}${url.pathname}('x')`, uri: `${HOST}${url.pathname}('x')`, type: `${name.split('/')[0]}.${name.split('/')[1]}Type` }, ...r })),
    };
    if (url.searchParams.get('$inlinecount') === 'allpages') d.__count = String(total);
    if (next) d.__next = next;
    return [200, { d }];
  },
  reset() {
    fake.script = [];
    fake.seen = [];
    fake.serverPage = 0;
    fake.ignoreFilter = false;
    fake.tokenRequests = [];
  },
};

function sapError(code: string, text: string, details: Array<{ code: string; message: string }> = []): unknown {
  return {
    error: {
      code, message: { lang: 'en', value: text },
      innererror: { application: { component_id: 'LO-MD-MM', service_namespace: '/SAP/', service_id: 'API_PRODUCT_SRV', service_version: '0001' }, transactionid: '5B1D7E3F8A0C4E2B9C1D', timestamp: '20261206171000.1234560', errordetails: details.map((x) => ({ ...x, propertyref: '', severity: 'error', target: '' })) },
    },
  };
}

/** An A_Product as API_PRODUCT_SRV returns it with $expand=to_Description,to_ProductUnitsOfMeasure. */
function product(code: string, changed: string, over: Row = {}, descriptions: Array<[string, string]> = [['EN', `Product ${code}`], ['RU', `Товар ${code}`]]): Row {
  return {
    Product: code, ProductType: 'FERT', BaseUnit: 'PC', ProductGroup: 'L001', ProductStandardID: '', IsMarkedForDeletion: false,
    CreationDate: wire('2024-03-01T00:00:00Z'), LastChangeDateTime: wireOffset(changed),
    to_Description: { results: descriptions.map(([Language, ProductDescription]) => ({ __metadata: { type: 'API_PRODUCT_SRV.A_ProductDescriptionType' }, Product: code, Language, ProductDescription })) },
    to_ProductUnitsOfMeasure: { results: [
      { Product: code, AlternativeUnit: 'PC', QuantityNumerator: '1', QuantityDenominator: '1', GlobalTradeItemNumber: '' },
      { Product: code, AlternativeUnit: 'BOX', QuantityNumerator: '12', QuantityDenominator: '1', GlobalTradeItemNumber: '14006381333938' },
    ] },
    to_Plant: { __deferred: { uri: `${HOST}${SRV}/API_PRODUCT_SRV/A_Product('${code}')/to_Plant` } },
    ...over,
  };
}

/** An A_SlsPrcgConditionRecord with its validity periods and scales expanded. */
function condition(record: string, material: string, rate: string, per: string, validity: Array<[string, string]>, scales: Array<[string, string]> = [], over: Row = {}): Row {
  return {
    ConditionRecord: record, ConditionSequentialNumber: '01', ConditionTable: '304', ConditionApplication: 'V', ConditionType: 'PPR0',
    ConditionRateValue: rate, ConditionRateValueUnit: 'EUR', ConditionQuantity: per, ConditionQuantityUnit: 'PC', ConditionIsDeleted: false,
    PricingScaleType: scales.length ? 'A' : '', PricingScaleBasis: scales.length ? 'C' : '',
    to_SlsPrcgCndnRecdValidity: { results: validity.map(([from, to]) => ({
      ConditionRecord: record, ConditionValidityStartDate: wire(`${from}T00:00:00Z`), ConditionValidityEndDate: wire(`${to}T00:00:00Z`),
      ConditionType: 'PPR0', SalesOrganization: '1010', DistributionChannel: '10', Division: '', Customer: '', PriceListType: '', Material: material,
    })) },
    to_SlsPrcgCndnRecordScale: { results: scales.map(([q, p], i) => ({
      ConditionRecord: record, ConditionSequentialNumber: '01', ConditionScaleLine: String(i + 1).padStart(4, '0'),
      ConditionScaleQuantity: q, ConditionScaleQuantityUnit: 'PC', ConditionRateValue: p, ConditionRateValueUnit: 'EUR',
    })) },
    ...over,
  };
}

function flowYaml(name: string, service: string, options: Record<string, unknown>, rest: string): string {
  const opts = { url: `${HOST}${SRV}/${service}`, userEnv: 'SAP_TEST_USER', passwordEnv: 'SAP_TEST_PASSWORD', retryDelayMs: 5, ...options };
  return `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source:
  connector: sap.odata
  system: sap
  options: ${JSON.stringify(opts)}
${rest}
`;
}

const productsFlow = (name: string, options: Record<string, unknown> = {}, extra = '') => flowYaml(name, 'API_PRODUCT_SRV', {
  entitySet: 'A_Product', expand: ['to_Description'], pick: { to_Description: { by: 'Language', order: ['RU', 'EN'] } },
  keyField: 'Product', pageSize: 2, ...options,
}, `mapping: sap/odata-products.yaml\ntarget: products\nmode: delta\nautoCreate: true\n${extra}`);

// ---- helpers --------------------------------------------------------------------------------------

/**
 * An example flow without its `schedule`: these tests pull by hand, and the workers' scheduler would
 * pull an `everySeconds` flow as soon as it registers it, so the test's own pull found it busy.
 */
const withoutSchedule = (yaml: string): string => yaml.replace(/^schedule:.*\n/gm, '');

let tp: TestPipeline;

async function pull(name: string, env: Record<string, string> = ENV): Promise<PullOutcome> {
  return pullFlow(tp.rt, name, { env });
}

async function pullAndWait(name: string, env: Record<string, string> = ENV): Promise<{ outcome: PullOutcome; run: RunView }> {
  const outcome = await pull(name, env);
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ outcome: 'received' });
  const o = outcome as Extract<PullOutcome, { outcome: 'received' }>;
  const run = await waitForRun(tp.rt.db, o.runId, { timeoutMs: 60_000, intervalMs: 50 });
  await settlePull(tp.rt.db, o.flowId);
  return { outcome, run };
}

async function products(): Promise<string[]> {
  const r = await tp.rt.pool.query(`
    SELECT p.code, p.name, coalesce(u.code, '') AS unit, coalesce(g.code, '') AS grp, p.deleted
    FROM products p LEFT JOIN groups g ON g.id = p.group_id LEFT JOIN units u ON u.id = p.unit_id ORDER BY p.code`);
  return r.rows.map((x) => `${x.code}|${x.name}|${x.unit}|${x.grp}|${x.deleted}`);
}

/** The records of a run's pulled payload, as the connector parses them back. */
async function payloadRecords(runId: number): Promise<Array<Record<string, string>>> {
  const r = await tp.rt.pool.query(`SELECT i.path, i.file_name, f.definition FROM runs x JOIN inbox i ON i.id = ANY(x.inbox_ids) JOIN flows f ON f.id = x.flow_id WHERE x.id = $1`, [runId]);
  const { path, file_name: fileName, definition } = r.rows[0];
  const text = await readFile(path, 'utf8');
  const out: Array<Record<string, string>> = [];
  for await (const batch of registry.connector('sap.odata')!.parse(Readable.from([text]), { fileName, options: definition.source.options })) out.push(...batch.map((b) => b.data));
  return out;
}

beforeAll(async () => {
  tp = await createTestPipeline('sapodata');
  nock.disableNetConnect();
  nock.enableNetConnect((host) => /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host));
  nock(HOST).persist().get(() => true).reply((req: unknown) => {
    const r = req as Request;
    const [status, body, headers] = fake.answer(new URL(r.url), r.headers.get('authorization') ?? undefined);
    return [status, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json; charset=utf-8', ...headers }];
  });
  // One parameter: nock 15 calls a two-parameter reply function with a callback and waits for it.
  nock(HOST).persist().post('/oauth/token').reply(async (req: unknown) => {
    const r = req as Request;
    const body = await r.text();
    fake.tokenRequests.push({ auth: r.headers.get('authorization') ?? undefined, body });
    const ok = r.headers.get('authorization') === `Basic ${Buffer.from(`${ENV.SAP_CLIENT_ID}:${ENV.SAP_CLIENT_SECRET}`).toString('base64')}`;
    if (!ok || !body.includes('grant_type=client_credentials')) return [401, JSON.stringify({ error: 'invalid_client', error_description: 'Bad credentials' }), { 'content-type': 'application/json' }];
    const token = `tok-${++fake.issued}`;
    fake.tokens.add(token);
    return [200, JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: 43199, scope: 'uaa.resource', jti: 'x' }), { 'content-type': 'application/json' }];
  });
});

afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  await tp?.close();
});

afterEach(() => {
  fake.reset();
  clearTokenCache();
});

// ---- the wire -------------------------------------------------------------------------------------

describe('OData v2 answers of S/4HANA', () => {
  it('reads SAP error JSON with its code, message and further details, and the XML form', () => {
    expect(describeSapError(JSON.stringify(sapError('/IWBEP/CM_MGW_RT/022', "Property 'Foo' is invalid", [
      { code: '/IWBEP/CX_MGW_TECH_EXCEPTION', message: "Property 'Foo' is invalid" },
      { code: 'SADL_GW/004', message: 'Filter on Foo is not supported' },
    ])))).toBe("SAP error /IWBEP/CM_MGW_RT/022: Property 'Foo' is invalid (details: SADL_GW/004: Filter on Foo is not supported)");
    expect(describeSapError('<?xml version="1.0"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><code>SY/530</code><message xml:lang="en">Access denied</message></error>'))
      .toBe('SAP error SY/530: Access denied');
    expect(describeSapError('<html>Bad gateway</html>')).toBeUndefined();
  });

  it('turns /Date(ms)/ into days (Edm.DateTime at midnight) or instants', () => {
    expect(wireDate('/Date(1798761600000)/')).toBe('2027-01-01');
    expect(wireDate('/Date(253402214400000)/')).toBe('9999-12-31');
    expect(wireDate('/Date(1798797600000)/')).toBe('2027-01-01T10:00:00.000Z');
    expect(wireDate('/Date(1798761600000+0180)/')).toBe('2027-01-01T00:00:00.000Z');
    expect(wireDate('PT12H30M00S')).toBe('PT12H30M00S');
  });

  it('shapes expanded lists: explode, pick by language, key by a property, pairs', () => {
    const c = condition('0000000001', 'TG11', '1500.00', '100', [['2026-01-01', '2026-06-30'], ['2026-07-01', '9999-12-31']], [['1', '1500.00'], ['100', '1450.00']]);
    const recs = shapeEntry(c, { explode: 'to_SlsPrcgCndnRecdValidity', pairs: { Scales: { list: 'to_SlsPrcgCndnRecordScale', key: 'ConditionScaleQuantity', value: 'ConditionRateValue' } } });
    expect(recs).toHaveLength(2);
    expect(recs[1]).toMatchObject({ ConditionRecord: '0000000001', ConditionIsDeleted: 'false', Scales: '1:1500.00;100:1450.00', 'to_SlsPrcgCndnRecdValidity/Material': 'TG11', 'to_SlsPrcgCndnRecdValidity/ConditionValidityStartDate': '2026-07-01', 'to_SlsPrcgCndnRecdValidity/ConditionValidityEndDate': '9999-12-31' });
    expect(Object.keys(recs[0]!).some((k) => k.startsWith('to_SlsPrcgCndnRecordScale') || k.startsWith('__metadata'))).toBe(false);

    const p = product('TG11', '2026-11-01T10:00:00Z', {}, [['DE', 'Kabel'], ['EN', 'Cable'], ['RU', 'Кабель']]);
    expect(shapeEntry(p, { pick: { to_Description: { by: 'Language', order: ['RU', 'EN'] } } })[0]).toMatchObject({ 'to_Description/ProductDescription': 'Кабель', 'to_ProductUnitsOfMeasure/1/AlternativeUnit': 'BOX' });
    expect(shapeEntry(product('TG12', '2026-11-01T10:00:00Z', {}, [['DE', 'Kabel'], ['EN', 'Cable']]), { pick: { to_Description: { by: 'Language', order: ['RU', 'EN'] } } })[0]!['to_Description/ProductDescription']).toBe('Cable');
    // Unexpanded navigations (__deferred) leave nothing behind; exploding an empty list yields no record.
    expect(Object.keys(shapeEntry(p, {})[0]!).some((k) => k.startsWith('to_Plant'))).toBe(false);
    expect(shapeEntry(product('TG13', '2026-11-01T10:00:00Z', { to_ProductUnitsOfMeasure: { results: [] } }), { explode: 'to_ProductUnitsOfMeasure' })).toEqual([]);

    const bp = { BusinessPartner: '17100001', to_BusinessPartnerTax: { results: [{ BPTaxType: 'RU1', BPTaxNumber: '7707083893' }, { BPTaxType: 'RU3', BPTaxNumber: '773601001' }] } };
    expect(shapeEntry(bp, { keyBy: { to_BusinessPartnerTax: 'BPTaxType' } })[0]).toMatchObject({ 'to_BusinessPartnerTax/RU1/BPTaxNumber': '7707083893', 'to_BusinessPartnerTax/RU3/BPTaxNumber': '773601001' });
  });

  it('writes the keyset filter after the last entry read, quotes doubled', () => {
    const o = resolveSapOptions({ url: HOST, entitySet: 'A_Product', deltaField: 'LastChangeDateTime', keyField: 'Product', filter: "ProductType eq 'FERT'" });
    expect(keysetFilter(o, undefined)).toBe("ProductType eq 'FERT'");
    expect(keysetFilter(o, { since: ms('2026-11-01T10:00:00Z'), key: "O'B" }))
      .toBe("(ProductType eq 'FERT') and (LastChangeDateTime gt datetimeoffset'2026-11-01T10:00:00Z' or (LastChangeDateTime eq datetimeoffset'2026-11-01T10:00:00Z' and Product gt 'O''B'))");
    expect(keysetFilter({ ...o, deltaType: 'datetime', filter: undefined }, { since: ms('2026-11-01T10:00:00.250Z'), key: 'A' }))
      .toBe("(LastChangeDateTime gt datetime'2026-11-01T10:00:00.250' or (LastChangeDateTime eq datetime'2026-11-01T10:00:00.250' and Product gt 'A'))");
    expect(retryAfterMs('7')).toBe(7000);
    expect(retryAfterMs(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(55_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('passes every case of the SAP mappings', async () => {
    const refs = (await listMappingFiles(undefined, 'sap')).filter((r) => /sap\/(odata|rfc)-/.test(r));
    expect(refs.length).toBeGreaterThanOrEqual(7);
    for (const ref of refs) expect((await runMappingTests(await loadMapping(ref), ref)).filter((r) => !r.ok)).toEqual([]);
  });

  it('refuses options that mix Basic and OAuth, or an incremental pull without its key', async () => {
    await expect(tp.applyFlowYaml(productsFlow('bad-auth', { tokenUrl: `${HOST}/oauth/token`, clientIdEnv: 'SAP_CLIENT_ID', clientSecretEnv: 'SAP_CLIENT_SECRET' }))).rejects.toThrow(/options\/userEnv: boolean schema is false/);
    await expect(tp.applyFlowYaml(productsFlow('bad-delta', { deltaField: 'LastChangeDateTime', keyField: undefined }))).rejects.toThrow(/keyField/);
  });
});

// ---- pulls through the pipeline -------------------------------------------------------------------

describe('sap.odata pulls', () => {
  it('pages with $top/$skip (three pages; $inlinecount ends it without an empty page) and loads the products', async () => {
    fake.sets.set('API_PRODUCT_SRV/A_Product', [
      product('TG11', '2026-11-01T10:00:00Z'), product('TG12', '2026-11-01T10:00:00Z', { IsMarkedForDeletion: true }, [['EN', 'Old cable']]),
      product('TG13', '2026-11-02T10:00:00Z', { BaseUnit: 'KG', ProductGroup: 'L002' }), product('TG14', '2026-11-02T10:00:00Z'),
      product('TG15', '2026-11-03T10:00:00Z', {}, [['DE', '']]), product('TG16', '2026-11-03T10:00:00Z'),
    ]);
    await tp.applyFlowYaml(productsFlow('sap-products', { filter: "ProductType eq 'FERT'", orderBy: 'Product' }));
    const { outcome, run } = await pullAndWait('sap-products');
    expect(outcome).toMatchObject({ records: 6 });
    expect(fake.seen.map((s) => [s.url.searchParams.get('$top'), s.url.searchParams.get('$skip'), s.url.searchParams.get('$inlinecount')]))
      .toEqual([['2', '0', 'allpages'], ['2', '2', null], ['2', '4', null]]);
    const first = fake.seen[0]!;
    expect(first.url.pathname).toBe(`${SRV}/API_PRODUCT_SRV/A_Product`);
    expect(first.url.searchParams.get('$format')).toBe('json');
    expect(first.url.searchParams.get('$filter')).toBe("ProductType eq 'FERT'");
    expect(first.url.searchParams.get('$expand')).toBe('to_Description');
    expect(first.url.searchParams.get('$orderby')).toBe('Product');
    expect(first.auth).toBe(BASIC);

    expect(run.state).toBe('done');
    expect(run.files).toEqual(['A_Product.ndjson']);
    expect(run.rows).toMatchObject({ read: 6, rejected: 1, inserted: 5 });
    expect(await products()).toEqual([
      'TG11|Товар TG11|PC|L001|false', 'TG12|Old cable|PC|L001|true', 'TG13|Товар TG13|KG|L002|false', 'TG14|Товар TG14|PC|L001|false', 'TG16|Товар TG16|PC|L001|false',
    ]);
    // The reject names the entry's address in the service and its line in the pulled payload.
    expect(await listRejects(tp.rt.db, run.id)).toMatchObject([{ file: 'A_Product.ndjson', line: 5, path: "A_Product('TG15')", field: 'name' }]);
  });

  it('follows the server\'s __next links (server paging, three pages)', async () => {
    fake.serverPage = 2;
    await tp.applyFlowYaml(productsFlow('sap-products-next', { paging: 'server' }));
    const { outcome, run } = await pullAndWait('sap-products-next');
    expect(outcome).toMatchObject({ records: 6 });
    expect(fake.seen.map((s) => [s.url.searchParams.get('$top'), s.url.searchParams.get('$skiptoken')])).toEqual([[null, null], [null, '2'], [null, '4']]);
    // The next links keep the query (SAP Gateway writes them so) and the credentials go along.
    expect(fake.seen.every((s) => s.url.searchParams.get('$expand') === 'to_Description' && s.auth === BASIC)).toBe(true);
    expect(run.state).toBe('done');
  });

  it('pulls incrementally by LastChangeDateTime: equal timestamps across page borders are neither lost nor repeated', async () => {
    const set = 'API_PRODUCT_SRV/A_Product';
    // Five products changed in the same second (a mass change), read two per page.
    fake.sets.set(set, ['TG21', 'TG22', 'TG23', 'TG24', 'TG25'].map((c) => product(c, '2026-11-05T08:00:00Z')).concat([product('TG20', '2026-11-04T08:00:00Z')]));
    await tp.applyFlowYaml(productsFlow('sap-products-delta', { deltaField: 'LastChangeDateTime', select: ['Product', 'BaseUnit', 'ProductGroup', 'IsMarkedForDeletion', 'to_Description/Language', 'to_Description/ProductDescription'] }));
    const first = await pullAndWait('sap-products-delta');
    expect(first.outcome).toMatchObject({ records: 6 });
    expect(first.run.rows).toMatchObject({ read: 6, inserted: 6 });
    // Keyset pages: the key and the delta field are added to $select, ordered by (timestamp, key), no $skip.
    expect(fake.seen[0]!.url.searchParams.get('$select')).toBe('Product,BaseUnit,ProductGroup,IsMarkedForDeletion,to_Description/Language,to_Description/ProductDescription,LastChangeDateTime');
    expect(fake.seen.map((s) => s.url.searchParams.get('$skip'))).toEqual([null, null, null, null]);
    expect(fake.seen.map((s) => s.url.searchParams.get('$orderby'))).toEqual(Array(4).fill('LastChangeDateTime,Product'));
    // Pages [TG20 TG21] [TG22 TG23] [TG24 TG25] []: the third starts after TG23, inside the same second.
    expect(fake.seen[2]!.url.searchParams.get('$filter')).toBe("(LastChangeDateTime gt datetimeoffset'2026-11-05T08:00:00Z' or (LastChangeDateTime eq datetimeoffset'2026-11-05T08:00:00Z' and Product gt 'TG23'))");
    const cursor = (await tp.rt.pool.query(`SELECT p.cursor FROM poll_state p JOIN flows f ON f.id = p.flow_id WHERE f.name = 'sap-products-delta'`)).rows[0]?.cursor;
    expect(cursor).toMatchObject({ since: ms('2026-11-05T08:00:00Z'), sinceIso: '2026-11-05T08:00:00.000Z', key: 'TG25' });

    // Later: one more product in the same second as the last one read (a key after it), one changed product.
    fake.reset();
    fake.sets.get(set)!.push(product('TG26', '2026-11-05T08:00:00Z'));
    fake.sets.get(set)![0] = product('TG21', '2026-11-06T09:30:00Z', {}, [['RU', 'Товар TG21 (новое имя)']]);
    const second = await pullAndWait('sap-products-delta');
    expect(second.outcome).toMatchObject({ records: 2 });
    expect(second.run.rows).toMatchObject({ read: 2, inserted: 1, updated: 1 });
    expect(await products()).toEqual(expect.arrayContaining(['TG21|Товар TG21 (новое имя)|PC|L001|false', 'TG26|Товар TG26|PC|L001|false']));
    expect(fake.seen[0]!.url.searchParams.get('$filter')).toBe("(LastChangeDateTime gt datetimeoffset'2026-11-05T08:00:00Z' or (LastChangeDateTime eq datetimeoffset'2026-11-05T08:00:00Z' and Product gt 'TG25'))");

    // Nothing changed since: no run.
    fake.reset();
    expect(await pull('sap-products-delta')).toMatchObject({ outcome: 'unchanged' });
    expect(fake.seen[0]!.url.searchParams.get('$filter')).toContain("datetimeoffset'2026-11-06T09:30:00Z'");

    // A service that ignores the keyset condition would answer the same pages forever: the pull stops and says so.
    await tp.applyFlowYaml(productsFlow('sap-products-nofilter', { deltaField: 'LastChangeDateTime' }));
    fake.reset();
    fake.ignoreFilter = true;
    const stuck = await pull('sap-products-nofilter');
    expect(stuck).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_FAILED' } });
    expect((stuck as { error: { message: string } }).error.message).toMatch(/^sap\.odata A_Product: page \d+ did not move past LastChangeDateTime .* the service ignores \$filter or \$orderby/);
    expect(fake.seen.length).toBeLessThan(10);
  });

  it('gets an OAuth token once, keeps it for later pulls, and fetches a new one once on 401', async () => {
    const oauth = { userEnv: undefined, passwordEnv: undefined, tokenUrl: `${HOST}/oauth/token`, clientIdEnv: 'SAP_CLIENT_ID', clientSecretEnv: 'SAP_CLIENT_SECRET', pageSize: 100 };
    await tp.applyFlowYaml(productsFlow('sap-products-oauth', oauth));
    await pullAndWait('sap-products-oauth');
    expect(fake.tokenRequests).toHaveLength(1);
    expect(fake.tokenRequests[0]!.body).toBe('grant_type=client_credentials');
    expect(fake.seen.map((s) => s.auth)).toEqual(['Bearer tok-1']);

    // Another pull: the cached token, no new token request.
    fake.reset();
    await pullAndWait('sap-products-oauth');
    expect(fake.tokenRequests).toHaveLength(0);
    expect(fake.seen.map((s) => s.auth)).toEqual(['Bearer tok-1']);

    // The token was revoked: one 401, one new token, the request again.
    fake.reset();
    fake.tokens.delete('tok-1');
    await pullAndWait('sap-products-oauth');
    expect(fake.tokenRequests).toHaveLength(1);
    expect(fake.seen.map((s) => s.auth)).toEqual(['Bearer tok-1', 'Bearer tok-2']);

    // Refused twice: an auth error naming the OAuth client, no loop.
    fake.reset();
    fake.script = [[401, ''], [401, '']];
    const o = await pull('sap-products-oauth');
    expect(o).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_AUTH', message: "sap.odata A_Product (page at $skip=0): HTTP 401 — SAP refused the credentials (OAuth client 'sb-magistral' from SAP_CLIENT_ID/SAP_CLIENT_SECRET)" } });
    expect(fake.seen).toHaveLength(2);
    expect(JSON.stringify(o)).not.toContain('oauth-s3cret');

    // Wrong client secret: the token endpoint's refusal, as an auth error.
    fake.reset();
    clearTokenCache();
    const wrong = await pull('sap-products-oauth', { ...ENV, SAP_CLIENT_SECRET: 'nope' });
    expect(wrong).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_AUTH', message: "sap.odata A_Product: the OAuth token endpoint refused OAuth client 'sb-magistral' from SAP_CLIENT_ID/SAP_CLIENT_SECRET: HTTP 401 — invalid_client: Bad credentials" } });
  });

  it('reports SAP error JSON with its code and message; 429/503 wait for Retry-After', async () => {
    fake.script = [[400, sapError('/IWBEP/CM_MGW_RT/022', "Property 'Foo' is invalid", [{ code: 'SADL_GW/004', message: 'Filter on Foo is not supported' }])]];
    const bad = await pull('sap-products');
    expect(bad).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_FAILED', message: "sap.odata A_Product (page at $skip=0): HTTP 400 — SAP error /IWBEP/CM_MGW_RT/022: Property 'Foo' is invalid (details: SADL_GW/004: Filter on Foo is not supported)" } });
    expect(fake.seen).toHaveLength(1);

    fake.reset();
    fake.script = [[429, sapError('/IWFND/CM_BEC/026', 'Too many requests'), { 'retry-after': '0' }], [503, '<html>Service unavailable</html>', { 'retry-after': '0' }]];
    const { run } = await pullAndWait('sap-products');
    // The first page three times (429, 503, then data), then the other pages.
    expect(fake.seen.slice(0, 4).map((s) => s.url.searchParams.get('$skip'))).toEqual(['0', '0', '0', '2']);
    expect(run.state).toBe('done');

    fake.reset();
    fake.script = [[503, '', { 'retry-after': '3600' }]];
    expect(await pull('sap-products')).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_FAILED', message: 'sap.odata A_Product (page at $skip=0): HTTP 503 — SAP asks to retry after 3600 s, longer than maxRetryAfterMs (300000 ms); the next scheduled pull tries again' } });

    fake.reset();
    await tp.applyFlowYaml(productsFlow('sap-products-missing', { userEnv: 'SAP_NOBODY', passwordEnv: 'SAP_NOPASS' }));
    expect(await pull('sap-products-missing')).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_AUTH', message: 'sap.odata A_Product: environment variables SAP_NOBODY and SAP_NOPASS not set (userEnv/passwordEnv of the flow)' } });
    expect(fake.seen).toHaveLength(0);
  });

  it('pulls condition records with validity and scales into prices', async () => {
    const set = 'API_SLSPRICINGCONDITIONRECORD_SRV/A_SlsPrcgConditionRecord';
    fake.sets.set(set, [
      // 1500 EUR per 100 PC with scales, valid since 2026-01-01, open-ended.
      condition('0000012301', 'TG11', '1500.00', '100', [['2026-01-01', '9999-12-31']], [['1', '1500.00'], ['100', '1450.00'], ['1000', '1390.50']]),
      // TG13: the price in force until the end of 2026, and the next one from 2027-01-01.
      condition('0000012302', 'TG13', '19.90', '1', [['2026-01-01', '2026-12-31']]),
      condition('0000012303', 'TG13', '21.50', '1', [['2027-01-01', '9999-12-31']]),
      // A percentage condition that slipped through the filter: rejected.
      condition('0000012304', 'TG14', '-3.000', '1', [['2026-01-01', '9999-12-31']], [], { ConditionRateValueUnit: '%' }),
    ]);
    await tp.applyFlowYaml(flowYaml('sap-prices', 'API_SLSPRICINGCONDITIONRECORD_SRV', {
      entitySet: 'A_SlsPrcgConditionRecord', filter: "ConditionType eq 'PPR0'", expand: ['to_SlsPrcgCndnRecdValidity', 'to_SlsPrcgCndnRecordScale'],
      explode: 'to_SlsPrcgCndnRecdValidity', pairs: { Scales: { list: 'to_SlsPrcgCndnRecordScale', key: 'ConditionScaleQuantity', value: 'ConditionRateValue' } },
      keyField: 'ConditionRecord', orderBy: 'ConditionRecord', pageSize: 3,
    }, 'mapping: sap/odata-prices.yaml\ntarget: prices\ntimezone: Europe/Moscow\nmode: snapshot\nscope: flow\nautoCreate: true'));
    const { outcome, run } = await pullAndWait('sap-prices');
    expect(outcome).toMatchObject({ records: 4 });
    expect(fake.seen.map((s) => s.url.searchParams.get('$skip'))).toEqual(['0', '3']);
    expect(run.state).toBe('done');

    // What the mapping makes of the pulled records: days, tiers per piece, the open end dropped.
    const mapping = await compileMapping(await loadMapping('sap/odata-prices.yaml'), { system: 'sap' });
    const mapped = (await payloadRecords(run.id)).map((r) => {
      const m = mapping(r);
      return m.ok ? Object.fromEntries(Object.entries(m.value).filter(([, v]) => v !== undefined)) : { reject: m.reason };
    });
    expect(mapped).toEqual([
      { product: 'TG11', priceType: 'PPR0/1010/10', price: '15', currency: 'EUR', unit: 'PC', tiers: '1:15;100:14.5;1000:13.905', validFrom: '2026-01-01', deleted: false },
      { product: 'TG13', priceType: 'PPR0/1010/10', price: '19.9', currency: 'EUR', unit: 'PC', validFrom: '2026-01-01', validTo: '2026-12-31', deleted: false },
      { product: 'TG13', priceType: 'PPR0/1010/10', price: '21.5', currency: 'EUR', unit: 'PC', validFrom: '2027-01-01', deleted: false },
      { reject: expect.stringContaining('price') },
    ]);

    // The price of TG11 lands per piece with its tiers.
    const r = await tp.rt.pool.query(`
      SELECT p.code, pt.code AS pt, x.value::text AS value, x.currency, x.unit, x.tiers
      FROM prices x JOIN products p ON p.id = x.product_id JOIN price_types pt ON pt.id = x.price_type_id WHERE p.code = 'TG11'`);
    expect(r.rows).toEqual([{ code: 'TG11', pt: 'PPR0/1010/10', value: '15.000000', currency: 'EUR', unit: 'PC', tiers: [{ minQuantity: '1', price: '15' }, { minQuantity: '100', price: '14.5' }, { minQuantity: '1000', price: '13.905' }] }]);
    const rejects = await listRejects(tp.rt.db, run.id);
    expect(rejects.map((x) => x.path)).toContain("A_SlsPrcgConditionRecord('0000012304')");
    // Validity is real: every period is kept, the one in force now is TG13's 2026 price (ending when the
    // next starts), and the 2027 one is TG13's price from 2027-01-01 00:00 Moscow time (the flow's timezone).
    const periods = await tp.rt.pool.query(`
      SELECT p.code, pp.value::text AS value, to_json(pp.valid_from) #>> '{}' AS "from", to_json(pp.valid_until) #>> '{}' AS until
      FROM price_periods pp JOIN products p ON p.id = pp.product_id ORDER BY p.code, pp.valid_from`);
    expect(periods.rows).toEqual([
      { code: 'TG11', value: '15.000000', from: '2025-12-31T21:00:00+00:00', until: null },
      { code: 'TG13', value: '19.900000', from: '2025-12-31T21:00:00+00:00', until: '2026-12-31T21:00:00+00:00' },
      { code: 'TG13', value: '21.500000', from: '2026-12-31T21:00:00+00:00', until: null },
    ]);
    const at = async (instant: string): Promise<string | undefined> => (await tp.rt.pool.query(`
      SELECT x.value::text AS value FROM products p JOIN price_types pt ON pt.code = 'PPR0/1010/10'
      CROSS JOIN LATERAL ${priceAtSql('pt.id', 'p.id', '$1::timestamptz')} x WHERE p.code = 'TG13'`, [instant])).rows[0]?.value;
    expect(await at('2026-12-31T20:59:59Z')).toBe('19.900000');
    expect(await at('2026-12-31T21:00:00Z')).toBe('21.500000');
    const now = await tp.rt.pool.query(`SELECT x.value::text AS value FROM prices x JOIN products p ON p.id = x.product_id WHERE p.code = 'TG13'`);
    expect(now.rows).toEqual([{ value: '19.900000' }]);

    // SAP deletes the 2027 condition record (ConditionIsDeleted): its period goes; 2026's stays in force
    // and still ends with 2026 (there is no price for 2027 then).
    fake.sets.set(set, fake.sets.get(set)!.map((c) => (c.ConditionRecord === '0000012303' ? { ...c, ConditionIsDeleted: true } : c)));
    const again = await pullAndWait('sap-prices');
    expect(again.run.state).toBe('done');
    expect(await at('2026-06-01T00:00:00Z')).toBe('19.900000');
    expect(await at('2027-06-01T00:00:00Z')).toBeUndefined();
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM price_periods pp JOIN products p ON p.id = pp.product_id WHERE p.code = 'TG13'`)).rows[0].n).toBe(1);
  });

  it('sums stock of batches per plant / storage location', async () => {
    fake.sets.set('API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod', [
      { Material: 'TG11', Plant: '1010', StorageLocation: '101A', Batch: 'B1', InventoryStockType: '01', InventorySpecialStockType: '', MatlWrhsStkQtyInMatlBaseUnit: '100.000', MaterialBaseUnit: 'PC' },
      { Material: 'TG11', Plant: '1010', StorageLocation: '101A', Batch: 'B2', InventoryStockType: '01', InventorySpecialStockType: '', MatlWrhsStkQtyInMatlBaseUnit: '25.500', MaterialBaseUnit: 'PC' },
      { Material: 'TG11', Plant: '1010', StorageLocation: '102A', Batch: '', InventoryStockType: '01', InventorySpecialStockType: '', MatlWrhsStkQtyInMatlBaseUnit: '7.000', MaterialBaseUnit: 'PC' },
      { Material: 'TG13', Plant: '1010', StorageLocation: '101A', Batch: '', InventoryStockType: '01', InventorySpecialStockType: '', MatlWrhsStkQtyInMatlBaseUnit: '0.250', MaterialBaseUnit: 'KG' },
    ]);
    // The example flow as shipped, pointed at the fake and paged by three.
    const yaml = await readFile(new URL('../../ops/flows/sap-odata-stock.yaml', import.meta.url), 'utf8');
    await tp.applyFlowYaml(withoutSchedule(yaml).replace('https://my-s4.example.com', HOST).replace('pageSize: 5000', 'pageSize: 3'));
    const { outcome, run } = await pullAndWait('sap-odata-stock', { ...ENV, SAP_ODATA_USER: ENV.SAP_TEST_USER, SAP_ODATA_PASSWORD: ENV.SAP_TEST_PASSWORD });
    expect(outcome).toMatchObject({ records: 3 });
    expect(run.state).toBe('done');
    expect((await stockPicture(tp)).filter((s) => s.includes('|1010/'))).toEqual(['TG11|1010/101A|125.500000', 'TG11|1010/102A|7.000000', 'TG13|1010/101A|0.250000']);
  });
  it('pulls customers with the example flows: clients, and legal entities with INN/KPP from tax number categories', async () => {
    const bp = (id: string, name: string, tax: Array<[string, string]>, over: Row = {}): Row => ({
      BusinessPartner: id, Customer: id, BusinessPartnerCategory: '2', BusinessPartnerName: name, BusinessPartnerFullName: `${name} (полное)`,
      BusinessPartnerIsBlocked: false, IsMarkedForArchiving: false, LastChangeDate: wire('2026-11-01T00:00:00Z'),
      to_BusinessPartnerTax: { results: tax.map(([BPTaxType, BPTaxNumber]) => ({ BusinessPartner: id, BPTaxType, BPTaxNumber, BPTaxLongNumber: '' })) },
      to_BusinessPartnerAddress: { results: [{
        BusinessPartner: id, AddressID: '1', CityName: 'Москва', PostalCode: '117997', StreetName: 'ул. Вавилова', HouseNumber: '19', Country: 'RU',
        to_EmailAddress: { results: [{ AddressID: '1', Person: '', OrdinalNumber: '1', IsDefaultEmailAddress: true, EmailAddress: `Zakaz-${id}@example.ru` }] },
        to_PhoneNumber: { results: [{ AddressID: '1', Person: '', OrdinalNumber: '1', PhoneNumber: '+7 495 123-45-67' }] },
      }] },
      ...over,
    });
    fake.sets.set('API_BUSINESS_PARTNER/A_BusinessPartner', [
      bp('17100001', 'ООО Ромашка', [['RU1', '7707083893'], ['RU3', '773601001']]),
      bp('17100002', 'ИП Иванов', [['RU1', '7707083894']], { BusinessPartnerIsBlocked: true }),
    ]);
    const yaml = await readFile(new URL('../../ops/flows/sap-odata-business-partners.yaml', import.meta.url), 'utf8');
    await tp.applyFlowYaml(withoutSchedule(yaml).replaceAll('https://my-s4.example.com', HOST));
    const env = { ...ENV, SAP_ODATA_USER: ENV.SAP_TEST_USER, SAP_ODATA_PASSWORD: ENV.SAP_TEST_PASSWORD };
    expect((await pullAndWait('sap-odata-clients', env)).run.state).toBe('done');
    expect(fake.seen[0]!.url.searchParams.get('$expand')).toBe('to_BusinessPartnerAddress/to_EmailAddress,to_BusinessPartnerAddress/to_PhoneNumber');
    const legal = await pullAndWait('sap-odata-legal-entities', env);
    expect(legal.run.state).toBe('done');
    expect(legal.run.rows).toMatchObject({ read: 2, rejected: 1 });
    const c = await tp.rt.pool.query(`SELECT code, name, email, phone, blocked FROM clients WHERE code LIKE '171%' ORDER BY code`);
    expect(c.rows).toEqual([
      { code: '17100001', name: 'ООО Ромашка (полное)', email: 'zakaz-17100001@example.ru', phone: '+7 495 123-45-67', blocked: false },
      { code: '17100002', name: 'ИП Иванов (полное)', email: 'zakaz-17100002@example.ru', phone: '+7 495 123-45-67', blocked: true },
    ]);
    const l = await tp.rt.pool.query(`SELECT le.code, c.code AS client, le.name, le.inn, le.kpp, le.address FROM legal_entities le JOIN clients c ON c.id = le.client_id ORDER BY le.code`);
    expect(l.rows).toEqual([{ code: '17100001', client: '17100001', name: 'ООО Ромашка', inn: '7707083893', kpp: '773601001', address: '117997 Москва ул. Вавилова 19' }]);
    // The INN with a wrong check digit: rejected with its business partner's address in the service.
    expect(await listRejects(tp.rt.db, legal.run.id)).toMatchObject([{ path: "A_BusinessPartner('17100002')", field: 'inn' }]);
  });

  it('pulls alternative units with the example flow (one record per unit, factor as numerator / denominator)', async () => {
    const yaml = await readFile(new URL('../../ops/flows/sap-odata-products.yaml', import.meta.url), 'utf8');
    await tp.applyFlowYaml(withoutSchedule(yaml).replaceAll('https://my-s4.example.com', HOST));
    fake.sets.set('API_PRODUCT_SRV/A_Product', [product('TG11', '2026-11-01T10:00:00Z'), product('TG13', '2026-11-02T10:00:00Z', {
      to_ProductUnitsOfMeasure: { results: [{ Product: 'TG13', AlternativeUnit: 'KG', QuantityNumerator: '1', QuantityDenominator: '1' }, { Product: 'TG13', AlternativeUnit: 'G', QuantityNumerator: '1', QuantityDenominator: '1000' }] },
    })]);
    const env = { ...ENV, SAP_ODATA_USER: ENV.SAP_TEST_USER, SAP_ODATA_PASSWORD: ENV.SAP_TEST_PASSWORD };
    const { outcome, run } = await pullAndWait('sap-odata-product-units', env);
    expect(outcome).toMatchObject({ records: 4 });
    expect(run.state).toBe('done');
    const u = await tp.rt.pool.query(`SELECT p.code, pu.unit, pu.factor::text AS factor, coalesce(pu.barcode, '') AS barcode FROM product_units pu JOIN products p ON p.id = pu.product_id ORDER BY 1, 2`);
    expect(u.rows.map((r) => `${r.code}|${r.unit}|${r.factor}|${r.barcode}`)).toEqual(['TG11|BOX|12.000000|14006381333938', 'TG11|PC|1.000000|', 'TG13|G|0.001000|', 'TG13|KG|1.000000|']);
  });
});
