// Orders out to SAP through the real pipeline: orders placed through the portal API, the outbound queue's
// real workers (PostgreSQL + Redis), SAP faked at its wire protocol only — an in-process HTTP server as the
// XML-HTTP IDoc port, nock as S/4HANA's API_SALES_ORDER_SRV. The posted ORDERS05 is checked segment by
// segment against the structure of SAP's own samples (/work/shared/samples/sap, copied beside the fixtures
// as test/fixtures/sap/samples/), and ORDRSP (the real sample, our number put in) brings SAP's number back.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { SaxesParser } from 'saxes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portalFixture, type PortalFixture } from '../api/portal-fixture.ts';
import { createConnectorPort } from '../../src/pipeline/connector-port.ts';
import { enqueueDueOrders, outboundJobId, pullOrderStatuses } from '../../src/pipeline/outbound.ts';
import { parseFlowFile, setFlowPaused } from '../../src/pipeline/flows.ts';
import { applyOrderChange } from '../../src/orders/index.ts';
import { installationId } from '../../src/pipeline/installation.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { handleOrderResponses } from '../../connectors/sap/outbound/ordrsp.ts';
import { describeSapError } from '../../connectors/sap/outbound/s4.ts';
import { until } from '../helpers/wait.ts';

const SAMPLES = path.join(REPO_DIR, 'test/fixtures/sap/samples');

// ---- a small element tree of IDoc-XML (saxes: an independent parser, not our tokenizer) -------------

interface El { name: string; segment: boolean; text: string; children: El[] }

function parseXml(xml: string): El {
  const root: El = { name: '#root', segment: false, text: '', children: [] };
  const stack: El[] = [root];
  const p = new SaxesParser();
  p.on('opentag', (t) => {
    const el: El = { name: t.name, segment: t.attributes.SEGMENT !== undefined, text: '', children: [] };
    stack.at(-1)!.children.push(el);
    stack.push(el);
  });
  p.on('text', (t) => { stack.at(-1)!.text += t; });
  p.on('closetag', () => { stack.pop(); });
  p.write(xml).close();
  return root.children[0]!;
}

const segments = (e: El): El[] => e.children.filter((c) => c.segment);
const fieldsOf = (e: El): Record<string, string> => Object.fromEntries(e.children.filter((c) => !c.segment).map((c) => [c.name, c.text.trim()]));
const idocOf = (doc: El): El => doc.children.find((c) => c.name === 'IDOC')!;

/** Segment → the fields and child segments the samples show for it (every IDoc of every sample). */
function structureOf(docs: El[]): Map<string, { fields: Set<string>; children: Set<string> }> {
  const m = new Map<string, { fields: Set<string>; children: Set<string> }>();
  const walk = (seg: El): void => {
    const s = m.get(seg.name) ?? { fields: new Set<string>(), children: new Set<string>() };
    m.set(seg.name, s);
    for (const c of seg.children) {
      if (c.segment) {
        s.children.add(c.name);
        walk(c);
      } else s.fields.add(c.name);
    }
  };
  for (const d of docs) for (const idoc of d.children.filter((c) => c.name === 'IDOC')) walk(idoc);
  return m;
}

/** Whether `seq` keeps the order of `order` (each name found at or after the previous one's place). */
function inOrder(seq: string[], order: string[]): boolean {
  let at = 0;
  for (const s of seq) {
    const i = order.indexOf(s, at);
    if (i < 0) return false;
    at = i;
  }
  return true;
}

// ---- SAP's XML-HTTP inbound, faked at the wire ---------------------------------------------------------

interface Posted { method: string; url: string; headers: IncomingMessage['headers']; body: string; status: number }

class IdocPort {
  server!: Server;
  posted: Posted[] = [];
  /** Statuses to answer, in order; 200 once they are used up. */
  answers: number[] = [];
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.answers.shift() ?? 200;
        this.posted.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'IDoc received' : 'Service Unavailable');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

let fx: PortalFixture;
let sap: IdocPort;
let sapUrl: string;
let tmp: string;
const as = { 'x-client-id': 'C1', 'x-contact-id': 'K1' };

interface ExportRow { state: string; attempts: number; last_error: string | null; last_error_code: string | null; external_number: string | null; external_ref: string | null }
async function exportOf(number: string, flow: string): Promise<ExportRow | undefined> {
  const r = await fx.tp.rt.pool.query<ExportRow>(`
    SELECT e.state, e.attempts, e.last_error, e.last_error_code, e.external_number, e.external_ref
    FROM order_exports e JOIN orders o ON o.id = e.order_id JOIN flows f ON f.id = e.flow_id WHERE o.number = $1 AND f.name = $2`, [number, flow]);
  return r.rows[0];
}

async function place(legalEntity: string, lines: Array<{ sku: string; quantity: string }>, comment?: string): Promise<{ number: string; total: string }> {
  const res = await fx.call('POST', '/api/v1/orders', { headers: as, body: { legalEntity, lines, ...(comment ? { comment } : {}) } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

const IDOC_FLOW = (url: string): string => `
apiVersion: magistral/v1
kind: Flow
name: sap-orders-idoc
source:
  connector: sap.idoc.orders
  system: sap
  options:
    url: ${url}/sap/bc/idoc_xml?sap-client=100
    userEnv: SAP_TEST_USER
    passwordEnv: SAP_TEST_PASSWORD
    client: "100"
    sndpor: MAGISTRAL
    sndprn: MAGISTRAL
    rcvpor: SAPS4H
    rcvprn: S4HCLNT100
    salesOrg: "1010"
    distributionChannel: "10"
    division: "00"
    orderType: OR
    units: { pcs: PCE, m: MTR }
target: orders
mode: delta
retry: { attempts: 3, backoff: fixed, delayMs: 200 }
`;

beforeAll(async () => {
  process.env.SAP_TEST_USER = 'MAGISTRAL_RFC';
  process.env.SAP_TEST_PASSWORD = 's3cret';
  tmp = await mkdtemp(path.join(tmpdir(), 'sap-outbound-'));
  sap = new IdocPort();
  sapUrl = await sap.start();
  fx = await portalFixture('sapout');
  // SAP numbers of the customers and materials, as DEBMAS / MATMAS loads leave them: external ids in system `sap`.
  await fx.tp.rt.pool.query(`
    INSERT INTO external_ids (entity, system, external_id, internal_id)
    SELECT 'legalEntity', 'sap', '0000100001', id FROM legal_entities WHERE code = 'LE1'
    UNION ALL SELECT 'product', 'sap', 'MAT-' || code, id FROM products WHERE code IN ('P1', 'P2', 'P3')`);
  await fx.tp.applyFlowYaml(IDOC_FLOW(sapUrl));
}, 180_000);

afterAll(async () => {
  nock.cleanAll();
  await fx?.close();
  await sap?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('ORDERS05 over XML-HTTP', () => {
  let first: { number: string; total: string };
  let retried: string;

  it('an order placed through the portal API goes out as ORDERS05, segment by segment as SAP samples it', async () => {
    first = await place('LE1', [{ sku: 'P2', quantity: '3' }, { sku: 'P1', quantity: '0.5' }], 'Доставка до 10:00 & «без звонка»');
    const post = await until('the IDoc post', async () => sap.posted[0]);
    expect(post.method).toBe('POST');
    expect(post.url).toBe('/sap/bc/idoc_xml?sap-client=100');
    expect(post.headers.authorization).toBe(`Basic ${Buffer.from('MAGISTRAL_RFC:s3cret').toString('base64')}`);
    expect(post.headers['content-type']).toMatch(/^application\/xml/);

    const doc = parseXml(post.body);
    expect(doc.name).toBe('ORDERS05');
    const idoc = idocOf(doc);
    const samples = await Promise.all(['ORDERS05_XML2Flat_SAP-samples.xml', 'ORDERS05_ORDRSP_outbound_SAP-samples.xml']
      .map(async (f) => parseXml(await readFile(path.join(SAMPLES, f), 'utf8'))));
    const known = structureOf(samples);
    // The skeleton sample lists every segment of ORDERS05 once, in the basic type's order.
    const order = segments(idocOf(samples[0]!)).map((s) => s.name);
    const ours = segments(idoc).map((s) => s.name);
    expect(ours).toEqual(['EDI_DC40', 'E1EDK01', 'E1EDK14', 'E1EDK14', 'E1EDK14', 'E1EDK14', 'E1EDK03', 'E1EDKA1', 'E1EDKA1', 'E1EDK02', 'E1EDKT1', 'E1EDP01', 'E1EDP01', 'E1EDS01', 'E1EDS01']);
    expect(inOrder(ours, order)).toBe(true);
    // Every field of every segment (and every child segment) is one SAP's samples have in that segment;
    // ARCKEY is the control record's documented archive key / message id (data element EDI4ARCKEY).
    const walk = (seg: El): void => {
      const k = known.get(seg.name);
      expect(k, `segment ${seg.name} in the samples`).toBeDefined();
      for (const c of seg.children) {
        if (c.segment) {
          expect([...k!.children], `${c.name} under ${seg.name}`).toContain(c.name);
          walk(c);
        } else if (!(seg.name === 'EDI_DC40' && c.name === 'ARCKEY')) expect([...k!.fields], `${seg.name}-${c.name}`).toContain(c.name);
      }
    };
    segments(idoc).forEach(walk);

    const [dc, k01, ...rest] = segments(idoc);
    expect(fieldsOf(dc!)).toMatchObject({
      TABNAM: 'EDI_DC40', MANDT: '100', DIRECT: '2', IDOCTYP: 'ORDERS05', MESTYP: 'ORDERS',
      SNDPOR: 'MAGISTRAL', SNDPRT: 'LS', SNDPRN: 'MAGISTRAL', RCVPOR: 'SAPS4H', RCVPRT: 'LS', RCVPRN: 'S4HCLNT100',
      DOCNUM: expect.stringMatching(/^\d{16}$/), CREDAT: expect.stringMatching(/^\d{8}$/), CRETIM: expect.stringMatching(/^\d{6}$/),
      ARCKEY: expect.stringMatching(/^urn:sap\.com:msgid=[0-9a-f]{32}$/),
    });
    expect(fieldsOf(k01!)).toEqual({ CURCY: 'RUB', BELNR: first.number });
    const by = (name: string) => rest.filter((s) => s.name === name).map(fieldsOf);
    expect(by('E1EDK14')).toEqual([{ QUALF: '008', ORGID: '1010' }, { QUALF: '007', ORGID: '10' }, { QUALF: '006', ORGID: '00' }, { QUALF: '012', ORGID: 'OR' }]);
    expect(by('E1EDK03')).toEqual([{ IDDAT: '012', DATUM: expect.stringMatching(/^20\d{6}$/) }]);
    expect(by('E1EDKA1')).toEqual([
      { PARVW: 'AG', PARTN: '0000100001', NAME1: 'ООО «Энергомонтаж»' }, { PARVW: 'WE', PARTN: '0000100001', NAME1: 'ООО «Энергомонтаж»' },
    ]);
    expect(by('E1EDK02')).toEqual([{ QUALF: '001', BELNR: first.number, DATUM: by('E1EDK03')[0]!.DATUM }]);
    const text = rest.find((s) => s.name === 'E1EDKT1')!;
    expect(fieldsOf(text)).toEqual({ TDID: '0001', TSSPRAS_ISO: 'RU' });
    expect(text.children.filter((c) => c.name === 'E1EDKT2').map(fieldsOf)).toEqual([{ TDLINE: 'Доставка до 10:00 & «без звонка»', TDFORMAT: '*' }]);
    const items = rest.filter((s) => s.name === 'E1EDP01');
    // C1 buys at the wholesale agreement A1: P2 17.50 × 3 = 52.50, P1 90.00 × 0.5 = 45.00.
    expect(items.map(fieldsOf)).toEqual([
      { POSEX: '000010', MENGE: '3', MENEE: 'PCE', VPREI: '17.5', PEINH: '1', NETWR: '52.5', CURCY: 'RUB' },
      { POSEX: '000020', MENGE: '0.5', MENEE: 'MTR', VPREI: '90', PEINH: '1', NETWR: '45', CURCY: 'RUB' },
    ]);
    expect(items.map((i) => i.children.filter((c) => c.name === 'E1EDP19').map(fieldsOf))).toEqual([
      [{ QUALF: '002', IDTNR: 'MAT-P2', KTEXT: 'Автомат 16А' }], [{ QUALF: '002', IDTNR: 'MAT-P1', KTEXT: 'Кабель ВВГнг 3x2,5' }],
    ]);
    expect(first.total).toBe('97.50');
    expect(by('E1EDS01')).toEqual([{ SUMID: '001', SUMME: '2' }, { SUMID: '002', SUMME: '97.5', SUNIT: 'RUB' }]);

    const row = await until('the export record', async () => { const r = await exportOf(first.number, 'sap-orders-idoc'); return r?.state === 'sent' && r; });
    expect(row).toMatchObject({ state: 'sent', attempts: 1, last_error: null, external_number: null, external_ref: fieldsOf(dc!).ARCKEY });
  });

  it('a repeated job does not post twice, and the sweeper finds nothing due', async () => {
    const before = sap.posted.length;
    const o = await fx.tp.rt.pool.query<{ id: number; v: string; flow: number }>(`
      SELECT o.id, (extract(epoch from o.updated_at) * 1000000)::bigint::text AS v, f.id AS flow
      FROM orders o, flows f WHERE o.number = $1 AND f.name = 'sap-orders-idoc'`, [first.number]);
    const { id, v, flow } = o.rows[0]!;
    // The same (flow, order, version) again under another job id: as a job re-added after Redis lost the first.
    const job = await fx.tp.rt.queues.outbound.add('send', { flowId: Number(flow), orderId: Number(id), version: v, installation: await installationId(fx.tp.rt.db) }, { jobId: `${outboundJobId(Number(flow), Number(id), v)}-again` });
    const state = await until('the repeated job', async () => { const s = await job.getState(); return s === 'completed' || s === 'failed' ? s : undefined; });
    expect(state).toBe('completed');
    expect((await fx.tp.rt.queues.outbound.getJob(job.id!))!.returnvalue).toBe('already');
    expect(await enqueueDueOrders(fx.tp.rt)).toBe(0);
    await new Promise((r) => setTimeout(r, 700)); // two sweeps
    expect(sap.posted.length).toBe(before);
    expect(await exportOf(first.number, 'sap-orders-idoc')).toMatchObject({ state: 'sent', attempts: 1 });
  });

  it('a 503 is retried with the flow\'s backoff; the repeat carries the same ARCKEY, so SAP keeps one order', async () => {
    const before = sap.posted.length;
    sap.answers.push(503);
    const o = await place('LE1', [{ sku: 'P3', quantity: '10' }]);
    retried = o.number;
    await until('two posts', async () => sap.posted.length >= before + 2);
    const [a, b] = sap.posted.slice(before);
    expect([a!.status, b!.status]).toEqual([503, 200]);
    const key = (p: Posted) => fieldsOf(segments(idocOf(parseXml(p.body)))[0]!).ARCKEY;
    expect(key(a!)).toBe(key(b!));
    expect(a!.body).toBe(b!.body.replace(/<CRETIM>\d+<\/CRETIM>/, a!.body.match(/<CRETIM>\d+<\/CRETIM>/)![0]).replace(/<CREDAT>\d+<\/CREDAT>/, a!.body.match(/<CREDAT>\d+<\/CREDAT>/)![0]));
    const row = await until('the export record', async () => { const r = await exportOf(o.number, 'sap-orders-idoc'); return r?.state === 'sent' && r; });
    expect(row).toMatchObject({ state: 'sent', attempts: 2 });
    const sent = await fx.tp.rt.metrics.ordersSent.get();
    const count = (outcome: string) => sent.values.find((v) => v.labels.flow === 'sap-orders-idoc' && v.labels.outcome === outcome)?.value;
    expect([count('accepted'), count('retry')]).toEqual([2, 1]);
    await new Promise((r) => setTimeout(r, 700));
    expect(sap.posted.length).toBe(before + 2);
  });

  it('an order SAP cannot take (no SAP customer number) is refused at once, posted never, the reason kept; an operator retries it', async () => {
    const before = sap.posted.length;
    const o = await place('LE2', [{ sku: 'P2', quantity: '1' }]);
    const row = await until('the export record', async () => { const r = await exportOf(o.number, 'sap-orders-idoc'); return r?.state === 'failed' && r; });
    expect(row).toMatchObject({ attempts: 1, last_error_code: 'MAG_ERR_SEND_REFUSED' });
    expect(row.last_error).toContain('legal entity LE2 has no SAP customer number');
    expect(sap.posted.length).toBe(before);
    // The on-call engineer sees it through the admin API.
    const res = await fx.app.inject({ method: 'GET', url: `/admin/api/orders/${o.number}/exports`, headers: fx.admin });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ number: o.number, exports: [{
      flow: 'sap-orders-idoc', state: 'failed', attempts: 1, lastErrorCode: 'MAG_ERR_SEND_REFUSED', lastError: expect.stringContaining('has no SAP customer number'),
      externalNumber: null, externalRef: null, sentAt: null,
    }] });
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/orders/M-999999/exports', headers: fx.admin })).statusCode).toBe(404);
    // SAP's customer number arrives (a DEBMAS load); the operator retries the failed send: it goes out now.
    await fx.tp.rt.pool.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT 'legalEntity', 'sap', '0000100002', id FROM legal_entities WHERE code = 'LE2'`);
    const retry = await fx.app.inject({ method: 'POST', url: `/admin/api/orders/${o.number}/exports/sap-orders-idoc/retry`, headers: fx.admin });
    expect(retry.statusCode, retry.body).toBe(202);
    expect(retry.json()).toMatchObject({ flow: 'sap-orders-idoc', state: 'pending', attempts: 0 });
    await until('the post after the retry', async () => sap.posted.length > before);
    expect(sap.posted[before]!.body).toContain('<PARTN>0000100002</PARTN>');
    expect(await until('the export', async () => { const r = await exportOf(o.number, 'sap-orders-idoc'); return r?.state === 'sent' && r; })).toMatchObject({ attempts: 1, last_error: null });
    const again = await fx.app.inject({ method: 'POST', url: `/admin/api/orders/${o.number}/exports/sap-orders-idoc/retry`, headers: fx.admin });
    expect(again.statusCode).toBe(400);
    expect(again.json().message).toContain('is sent: only a failed send is retried');
  });

  it('a paused flow sends nothing; once resumed, what was placed meanwhile goes out', async () => {
    const before = sap.posted.length;
    await setFlowPaused(fx.tp.rt.db, 'sap-orders-idoc', true);
    const o = await place('LE1', [{ sku: 'P1', quantity: '2' }]);
    await new Promise((r) => setTimeout(r, 800)); // two sweeps and more
    expect(sap.posted.length).toBe(before);
    expect(await exportOf(o.number, 'sap-orders-idoc')).toBeUndefined();
    await setFlowPaused(fx.tp.rt.db, 'sap-orders-idoc', false);
    await until('the post after resume', async () => sap.posted.length > before);
    expect(sap.posted.length).toBe(before + 1);
    expect(sap.posted[before]!.body).toContain(`<BELNR>${o.number}</BELNR>`);
    await until('the export record', async () => (await exportOf(o.number, 'sap-orders-idoc'))?.state === 'sent');
  });

  it('an ORDRSP brings SAP\'s number and confirmation onto the order, visible through the portal API, and is not sent back', async () => {
    const sample = await readFile(path.join(SAMPLES, 'ORDERS05_ORDRSP_outbound_SAP-samples.xml'), 'utf8');
    // The real sample answers purchase order 2C9YS43Z with sales order 2001319044: make it answer ours.
    const file = path.join(tmp, 'ordrsp.xml');
    await writeFile(file, sample.replaceAll('2C9YS43Z', first.number));
    const port = createConnectorPort(fx.tp.rt, {});
    const before = sap.posted.length;
    const report = await handleOrderResponses(port, { path: file, fileName: 'ordrsp.xml' });
    expect(report).toMatchObject({ idocs: 1, responses: 1, changed: 1, notFound: 0, skipped: 0, warnings: [] });
    expect(report.items).toEqual([{ docnum: '235556469', number: first.number, erpNumber: '2001319044', status: 'confirmed' }]);
    const res = await fx.call('GET', `/api/v1/orders/${first.number}`, { headers: as });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ number: first.number, erpNumber: '2001319044', status: { code: 'confirmed' } });
    // SAP's own answer is not a change to send to SAP again.
    expect(await enqueueDueOrders(fx.tp.rt)).toBe(0);
    await new Promise((r) => setTimeout(r, 700));
    expect(sap.posted.length).toBe(before);
    // The same ORDRSP again changes nothing.
    expect(await handleOrderResponses(port, { path: file, fileName: 'ordrsp.xml' })).toMatchObject({ changed: 0, unchanged: 1 });
    // A late ORDRSP never moves a later status back: shipped stays shipped.
    await port.orders.applyChanges([{ refs: { numbers: [first.number] }, change: { status: 'shipped', shipped: true }, warnings: [] }], 'sap-delivery');
    expect(await handleOrderResponses(port, { path: file, fileName: 'ordrsp.xml' })).toMatchObject({ changed: 0, unchanged: 1 });
    expect((await fx.call('GET', `/api/v1/orders/${first.number}`, { headers: as })).json()).toMatchObject({ status: { code: 'shipped' }, erpNumber: '2001319044' });
  });

  it('an ORDRSP posted by SAP to the IDoc endpoint lands on its order (stored, no run)', async () => {
    await fx.tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: sap-order-responses
source: { connector: sap.idoc, system: sap, options: { endpoint: erp, messageTypes: [ORDRSP], userEnv: SAP_TEST_USER, passwordEnv: SAP_TEST_PASSWORD } }
mapping: file/stock.yaml
target: stock
mode: delta
`);
    const sample = await readFile(path.join(SAMPLES, 'ORDERS05_ORDRSP_outbound_SAP-samples.xml'), 'utf8');
    const runsBefore = (await fx.tp.rt.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n;
    const res = await fx.app.inject({
      method: 'POST', url: '/exchange/sap/idoc/erp',
      headers: { authorization: `Basic ${Buffer.from('MAGISTRAL_RFC:s3cret').toString('base64')}`, 'content-type': 'application/xml' },
      payload: sample.replaceAll('2C9YS43Z', retried).replaceAll('2001319044', '2001319045'),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body.trim()).toBe('order responses applied: 1 IDoc(s) (DOCNUM 0000000235556469); orders changed 1, unchanged 0, notFound 0');
    expect((await fx.call('GET', `/api/v1/orders/${retried}`, { headers: as })).json()).toMatchObject({ erpNumber: '2001319045', status: { code: 'confirmed' } });
    expect((await fx.tp.rt.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n).toBe(runsBefore);
  });

  it('an ORDRSP of an order made in SAP (no portal order matches) creates an offline order: sold-to, materials, SAP number, total', async () => {
    const sample = await readFile(path.join(SAMPLES, 'ORDERS05_ORDRSP_outbound_SAP-samples.xml'), 'utf8');
    // The sample's sold-to 0100470817 is LE2 here (stored without SAP's leading zeros), two of its three materials are ours.
    await fx.tp.rt.pool.query(`
      INSERT INTO external_ids (entity, system, external_id, internal_id)
      SELECT 'legalEntity', 'sap', '100470817', id FROM legal_entities WHERE code = 'LE2'
      UNION ALL SELECT 'product', 'sap', '000000688001000182', id FROM products WHERE code = 'P1'
      UNION ALL SELECT 'product', 'sap', '882703160010', id FROM products WHERE code = 'P3'`);
    const file = path.join(tmp, 'ordrsp-made-in-sap.xml');
    await writeFile(file, sample.replaceAll('2C9YS43Z', 'PHONE-77').replaceAll('2001319044', '2001319077'));
    const port = createConnectorPort(fx.tp.rt, {});
    const report = await handleOrderResponses(port, { path: file, fileName: 'ordrsp-made-in-sap.xml' });
    expect(report).toMatchObject({ idocs: 1, responses: 1, notFound: 0, created: 1 });
    expect(report.warnings).toEqual([
      "ordrsp-made-in-sap.xml: IDoc 235556469 (line 3): line 3 'CSA210/10 ORIGINAL PLUS STAR WHITE' (000000882705010010) is not a product of the portal; left out of the offline order",
    ]);
    const o = (await fx.tp.rt.pool.query(`
      SELECT o.number, o.origin, le.code AS le, o.currency, o.total::text, o.status, o.erp_number, o.exported_at >= o.updated_at AS in_sync
      FROM orders o JOIN legal_entities le ON le.id = o.legal_entity_id WHERE o.erp_number = '2001319077'`)).rows;
    expect(o).toEqual([{ number: expect.stringMatching(/^M-\d{6}$/), origin: 'offline', le: 'LE2', currency: 'EUR', total: '223356.00', status: 'confirmed', erp_number: '2001319077', in_sync: true }]);
    const lines = (await fx.tp.rt.pool.query(`
      SELECT l.sku, l.quantity::text, l.price::text, l.amount::text, l.unit FROM order_lines l JOIN orders o ON o.id = l.order_id
      WHERE o.erp_number = '2001319077' ORDER BY l.line_no`)).rows;
    expect(lines).toEqual([
      { sku: 'P1', quantity: '432.000000', price: '479.620000', amount: '207195.84', unit: 'H87' },
      { sku: 'P3', quantity: '144.000000', price: '65.690000', amount: '9459.36', unit: 'H87' },
    ]);
    // SAP made it: no outbound flow sends it (back to SAP, or anywhere) as a new order.
    expect(await enqueueDueOrders(fx.tp.rt, { orderNumber: o[0].number })).toBe(0);
    // The head of LE2 sees it through the API; the same ORDRSP again finds it instead of making another.
    const seen = await fx.call('GET', `/api/v1/orders/${o[0].number}`, { headers: as });
    expect(seen.json()).toMatchObject({ erpNumber: '2001319077', legalEntity: { code: 'LE2' } });
    expect(await handleOrderResponses(port, { path: file, fileName: 'ordrsp-made-in-sap.xml' })).toMatchObject({ created: 0, unchanged: 1 });
    expect((await fx.tp.rt.pool.query(`SELECT count(*)::int AS n FROM orders WHERE erp_number = '2001319077'`)).rows[0].n).toBe(1);
  });

  it('a malformed ORDRSP is refused with its position and changes nothing', async () => {
    const file = path.join(tmp, 'bad.xml');
    await writeFile(file, `<?xml version="1.0"?>\n<ORDERS05>\n <IDOC BEGIN="1">\n  <EDI_DC40 SEGMENT="1"><MESTYP>ORDRSP</MESTYP></EDI_DC40>\n  <E1EDK01 SEGMENT="1"><BELNR>999</BELNR>\n </IDOC>\n</ORDERS05>\n`);
    const port = createConnectorPort(fx.tp.rt, {});
    await expect(handleOrderResponses(port, { path: file, fileName: 'bad.xml' })).rejects.toThrow(/bad\.xml:6:\d+/);
    const res = await fx.call('GET', `/api/v1/orders/${first.number}`, { headers: as });
    expect(res.json().erpNumber).toBe('2001319044');
  });

  afterAll(async () => {
    await setFlowPaused(fx.tp.rt.db, 'sap-orders-idoc', true);
  });
});

describe('S/4HANA API_SALES_ORDER_SRV', () => {
  const HOST = 'http://s4.example.test:44300';
  const SERVICE = '/sap/opu/odata/sap/API_SALES_ORDER_SRV';

  beforeAll(async () => {
    await fx.tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: sap-orders-s4
source:
  connector: sap.odata.orders
  system: sap
  options:
    url: ${HOST}${SERVICE}
    userEnv: SAP_TEST_USER
    passwordEnv: SAP_TEST_PASSWORD
    client: "100"
    salesOrderType: OR
    salesOrganization: "1010"
    distributionChannel: "10"
    organizationDivision: "00"
    units: { pcs: PC }
target: orders
mode: delta
retry: { attempts: 2, backoff: fixed, delayMs: 200 }
`);
  });
  afterAll(() => { nock.cleanAll(); });

  /** The lookup before create, for whichever order comes next (registered before the order is placed: the send starts at once). */
  const lookup = (results: unknown[]) => {
    const seen: string[] = [];
    const scope = nock(HOST)
      .get(`${SERVICE}/A_SalesOrder`)
      .query((q) => {
        const m = /^PurchaseOrderByCustomer eq '(M-\d{6})' and SoldToParty eq '0000100001'$/.exec(String(q.$filter));
        if (!m || q.$select !== 'SalesOrder' || q.$format !== 'json' || q['sap-client'] !== '100') return false;
        seen.push(m[1]!);
        return true;
      })
      .basicAuth({ user: 'MAGISTRAL_RFC', pass: 's3cret' })
      .reply(200, { d: { results } });
    return { scope, seen };
  };

  it('looks the order up, fetches a CSRF token (cookies kept), refetches it once when SAP refuses it, and creates the order with its items', async () => {
    let created: Record<string, unknown> | undefined;
    const look = lookup([]);
    const scope = nock(HOST)
      .get(`${SERVICE}/`).query({ 'sap-client': '100' }).matchHeader('x-csrf-token', 'fetch')
      .reply(200, { d: { EntitySets: ['A_SalesOrder'] } }, { 'x-csrf-token': 'TOKEN-1', 'set-cookie': ['SAP_SESSIONID_S4H_100=first; path=/; HttpOnly', 'sap-usercontext=sap-client=100; path=/'] })
      .post(`${SERVICE}/A_SalesOrder`).query({ 'sap-client': '100' }).matchHeader('x-csrf-token', 'TOKEN-1').matchHeader('cookie', /SAP_SESSIONID_S4H_100=first/)
      .reply(403, 'CSRF token validation failed', { 'x-csrf-token': 'Required' })
      .get(`${SERVICE}/`).query({ 'sap-client': '100' }).matchHeader('x-csrf-token', 'fetch')
      .reply(200, { d: { EntitySets: ['A_SalesOrder'] } }, { 'x-csrf-token': 'TOKEN-2', 'set-cookie': ['SAP_SESSIONID_S4H_100=second; path=/; HttpOnly'] })
      .post(`${SERVICE}/A_SalesOrder`, (body: Record<string, unknown>) => { created = body; return true; })
      .query({ 'sap-client': '100' }).matchHeader('x-csrf-token', 'TOKEN-2').matchHeader('cookie', /SAP_SESSIONID_S4H_100=second/)
      .reply(201, { d: { SalesOrder: '4711' } });
    const o = await place('LE1', [{ sku: 'P2', quantity: '2' }, { sku: 'P1', quantity: '1.25' }]);
    await until('the sales order', async () => (await exportOf(o.number, 'sap-orders-s4'))?.state === 'sent');
    expect(look.seen).toEqual([o.number]);
    expect(scope.isDone()).toBe(true);
    expect(created).toEqual({
      SalesOrderType: 'OR', SalesOrganization: '1010', DistributionChannel: '10', OrganizationDivision: '00', SoldToParty: '0000100001',
      PurchaseOrderByCustomer: o.number, CustomerPurchaseOrderDate: expect.stringMatching(/^\/Date\(\d+\)\/$/), TransactionCurrency: 'RUB',
      to_Item: [
        { SalesOrderItem: '10', Material: 'MAT-P2', RequestedQuantity: '2', RequestedQuantityUnit: 'PC', PurchaseOrderByCustomer: o.number },
        { SalesOrderItem: '20', Material: 'MAT-P1', RequestedQuantity: '1.25', RequestedQuantityUnit: 'M', PurchaseOrderByCustomer: o.number },
      ],
    });
    expect(await exportOf(o.number, 'sap-orders-s4')).toMatchObject({ state: 'sent', attempts: 1, external_number: '4711', external_ref: "A_SalesOrder('4711')" });
    const res = await fx.call('GET', `/api/v1/orders/${o.number}`, { headers: as });
    expect(res.json()).toMatchObject({ erpNumber: '4711' });
    // Putting SAP's number on the order is not a change to send again.
    expect(await enqueueDueOrders(fx.tp.rt)).toBe(0);
  });

  it('a repeated send finds the sales order SAP already has instead of creating a second', async () => {
    // A POST here would find no interceptor and fail the send: the lookup alone must answer.
    const look = lookup([{ SalesOrder: '4712' }]);
    const o = await place('LE1', [{ sku: 'P3', quantity: '1' }]);
    await until('the export', async () => (await exportOf(o.number, 'sap-orders-s4'))?.state === 'sent');
    expect(look.seen).toEqual([o.number]);
    expect(nock.pendingMocks()).toEqual([]);
    expect(await exportOf(o.number, 'sap-orders-s4')).toMatchObject({ external_number: '4712', attempts: 1 });
    expect((await fx.call('GET', `/api/v1/orders/${o.number}`, { headers: as })).json()).toMatchObject({ erpNumber: '4712' });
  });

  it('SAP\'s error JSON is reported as SAP wrote it, and a 400 is not retried', async () => {
    lookup([]);
    nock(HOST)
      .get(`${SERVICE}/`).query({ 'sap-client': '100' }).reply(200, '{}', { 'x-csrf-token': 'TOKEN-3' })
      .post(`${SERVICE}/A_SalesOrder`).query({ 'sap-client': '100' })
      .reply(400, {
        error: {
          code: 'V1/382', message: { lang: 'en', value: 'Material MAT-P2 is not defined for sales org.1010, distr.chan.10, language EN' },
          innererror: { errordetails: [
            { code: 'V1/382', message: 'Material MAT-P2 is not defined for sales org.1010, distr.chan.10, language EN', severity: 'error' },
            { code: 'V4/219', message: 'Sales document was not changed', severity: 'error' },
          ] },
        },
      });
    const o = await place('LE1', [{ sku: 'P2', quantity: '7' }]);
    const row = await until('the failed export', async () => { const r = await exportOf(o.number, 'sap-orders-s4'); return r?.state === 'failed' && r; });
    expect(row).toMatchObject({ attempts: 1, last_error_code: 'MAG_ERR_SEND_REFUSED' });
    expect(row.last_error).toContain('HTTP 400 — V1/382: Material MAT-P2 is not defined for sales org.1010, distr.chan.10, language EN; error V4/219: Sales document was not changed');
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('reads SAP error JSON in its documented shapes', () => {
    expect(describeSapError('{"error":{"code":"/IWBEP/CM_MGW_RT/020","message":{"lang":"en","value":"Resource not found"}}}')).toBe('/IWBEP/CM_MGW_RT/020: Resource not found');
    expect(describeSapError('<html>')).toBeUndefined();
  });

  it('pulls the statuses of sent sales orders by the flow\'s table onto the portal orders', async () => {
    const sent = await fx.tp.rt.pool.query<{ number: string; external_number: string }>(`
      SELECT o.number, e.external_number FROM order_exports e JOIN orders o ON o.id = e.order_id JOIN flows f ON f.id = e.flow_id
      WHERE f.name = 'sap-orders-s4' AND e.state = 'sent' ORDER BY e.external_number`);
    expect(sent.rows.map((r) => r.external_number)).toEqual(['4711', '4712']);
    nock(HOST)
      .get(`${SERVICE}/A_SalesOrder`)
      .query((q) => q.$filter === "SalesOrder eq '4711' or SalesOrder eq '4712'" || q.$filter === "SalesOrder eq '4712' or SalesOrder eq '4711'")
      .reply(200, { d: { results: [
        { SalesOrder: '4711', OverallSDProcessStatus: 'B', OverallTotalDeliveryStatus: 'C', OverallSDDocumentRejectionSts: 'A' },
        { SalesOrder: '4712', OverallSDProcessStatus: 'A', OverallTotalDeliveryStatus: 'A', OverallSDDocumentRejectionSts: 'A' },
      ] } });
    expect(await pullOrderStatuses(fx.tp.rt, { force: true })).toEqual(['sap-orders-s4']);
    const [a, b] = sent.rows;
    expect((await fx.call('GET', `/api/v1/orders/${a!.number}`, { headers: as })).json()).toMatchObject({ status: { code: 'shipped' }, shipped: true });
    expect((await fx.call('GET', `/api/v1/orders/${b!.number}`, { headers: as })).json()).toMatchObject({ status: { code: 'confirmed' } });
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe('outbound flows', () => {
  it('an outbound flow receives no payloads, and only a connector that can send takes target orders', async () => {
    await expect(fx.tp.send('sap-orders-s4', 'x')).rejects.toThrow('flow sap-orders-s4 sends orders out (target: orders); it receives no payloads');
    await expect(fx.tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: csv-orders
source: { connector: file.csv }
target: orders
mode: delta
`)).rejects.toThrow(/connector 'file.csv' cannot send orders \(target: orders\); connectors that can: bitrix24.deals, sap.idoc.orders, sap.odata.orders/);
    await expect(fx.tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: no-mapping
source: { connector: file.csv }
target: prices
mode: delta
`)).rejects.toThrow(/mapping/);
  });

  it('sends a changed order\'s new version only when the flow did not already have it (the change is not an SAP order again)', async () => {
    // sap-orders-s4 has 4712's order in sync; a portal change (comment) makes it due: the send finds it in SAP.
    const sent = await fx.tp.rt.pool.query<{ number: string }>(`
      SELECT o.number FROM order_exports e JOIN orders o ON o.id = e.order_id WHERE e.external_number = '4712'`);
    const number = sent.rows[0]!.number;
    const look = lookup2(number, [{ SalesOrder: '4712' }]);
    expect(await applyOrderChange(fx.tp.rt.db, { number }, { comment: 'позвонить перед доставкой' }, 'manager')).toEqual({ found: true, changed: ['comment'] });
    await until('the change to be handed over', async () => look.isDone());
    await until('the export of the new version', async () => {
      const r = await fx.tp.rt.pool.query(`SELECT e.version = o.updated_at AS ok FROM order_exports e JOIN orders o ON o.id = e.order_id JOIN flows f ON f.id = e.flow_id WHERE o.number = $1 AND f.name = 'sap-orders-s4'`, [number]);
      return r.rows[0]?.ok === true;
    });
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe('example flows', () => {
  it('ops/flows/sap-orders-idoc.yaml and sap-orders-s4.yaml are valid outbound flows', async () => {
    for (const [file, connector] of [['ops/flows/sap-orders-idoc.yaml', 'sap.idoc.orders'], ['ops/flows/sap-orders-s4.yaml', 'sap.odata.orders']] as const) {
      const flows = await parseFlowFile(await readFile(path.join(REPO_DIR, file), 'utf8'), file, fx.tp.rt.registry);
      expect(flows.map((f) => [f.target, f.source.connector, f.source.system, f.mapping])).toEqual([['orders', connector, 'sap', undefined]]);
    }
  });
});

function lookup2(number: string, results: unknown[]) {
  return nock('http://s4.example.test:44300')
    .get('/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder')
    .query({ $filter: `PurchaseOrderByCustomer eq '${number}' and SoldToParty eq '0000100001'`, $select: 'SalesOrder', $format: 'json', 'sap-client': '100' })
    .reply(200, { d: { results } });
}

