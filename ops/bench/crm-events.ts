// Bitrix24 events and deals against the in-process Bitrix24-like server (test/connectors/lib, the portal's
// leaky bucket: 2 requests/s, burst 50), through the real server, pipeline and workers:
//   events: N company events posted over HTTP (concurrency C): accepted per second, the answer's latency,
//           and the time from the first event to the last merged run, with the requests Bitrix24 saw;
//   deals:  M portal orders sent as deals: requests per order, orders per second and the bucket's use.
// Usage: npx tsx ops/bench/crm-events.ts [--events N] [--concurrency C] [--orders M]. Last line: JSON.
import { parseArgs } from 'node:util';
import { buildServer } from '../../src/api/index.ts';
import { createTestPipeline } from '../../test/helpers/pipeline.ts';
import { portalFixture } from '../../test/api/portal-fixture.ts';
import { Bitrix24Server, B24Fault, type Row } from '../../test/connectors/lib/bitrix24-server.ts';
import { encodeForm } from '../../connectors/crm/bitrix24/events/form.ts';
import { clearBuckets } from '../../connectors/crm/bitrix24/index.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' }, orders: { type: 'string', default: '60' } } });
const N = Number(values.events);
const C = Number(values.concurrency);
const M = Number(values.orders);

async function until(fn: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function benchEvents(): Promise<Record<string, unknown>> {
  const b24 = new Bitrix24Server();
  await b24.start();
  b24.seed(N, { contacts: 0, requisites: 0, managers: 5 });
  b24.methods.set('crm.company.get', (p) => {
    const row = b24.tables.get('company')!.get(String(p.id));
    if (!row) throw new B24Fault('ERROR_NOT_FOUND', 'Not found');
    return { result: row };
  });
  process.env.BENCH_B24_TOKEN = 'bench-token';
  process.env.BENCH_B24_WEBHOOK = b24.webhookUrl;
  const tp = await createTestPipeline('b24evbench');
  try {
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: bench-companies
source: { connector: bitrix24.events, system: bitrix24, options: { tokenEnv: BENCH_B24_TOKEN, webhookUrlEnv: BENCH_B24_WEBHOOK } }
mapping: crm/bitrix24-companies.yaml
target: clients
mode: delta
autoCreate: true
`);
    const app = await buildServer({ ...tp.rt, mode: 'full' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/exchange/webhooks/bench-companies`;
    const lat: number[] = [];
    const t0 = performance.now();
    let next = 1;
    await Promise.all(Array.from({ length: C }, async () => {
      for (let i = next++; i <= N; i = next++) {
        const body = encodeForm({ event: 'ONCRMCOMPANYUPDATE', data: { FIELDS: { ID: String(i) } }, ts: String(1765000000 + i), auth: { application_token: 'bench-token', domain: 'bench' } });
        const s = performance.now();
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
        await r.text();
        if (r.status !== 200) throw new Error(`event ${i}: HTTP ${r.status}`);
        lat.push(performance.now() - s);
      }
    }));
    const accepted = performance.now() - t0;
    await until(async () => {
      const e = await tp.rt.pool.query(`SELECT count(*) FILTER (WHERE state <> 'done') AS open FROM crm_bitrix24_events`);
      const r = await tp.rt.pool.query(`SELECT count(*) FILTER (WHERE state NOT IN ('done', 'failed')) AS open FROM runs`);
      return Number(e.rows[0].open) === 0 && Number(r.rows[0].open) === 0;
    });
    const total = performance.now() - t0;
    const runs = Number((await tp.rt.pool.query(`SELECT count(*) AS n FROM runs WHERE state = 'done'`)).rows[0].n);
    const clients = Number((await tp.rt.pool.query(`SELECT count(*) AS n FROM clients`)).rows[0].n);
    await app.close();
    lat.sort((a, b) => a - b);
    const q = (p: number): number => +lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(1);
    return {
      events: N, concurrency: C, eventsAcceptedPerSec: Math.round(N / (accepted / 1000)), answerMsP50: q(0.5), answerMsP95: q(0.95),
      firstEventToLastMergeSec: +(total / 1000).toFixed(1), runs, clients, bitrix24Requests: b24.stats.requests, bitrix24Limited: b24.stats.limited,
      entitiesPerRequest: +(N / Math.max(1, b24.stats.requests)).toFixed(1),
    };
  } finally {
    await tp.close();
    await b24.stop();
  }
}

async function benchDeals(): Promise<Record<string, unknown>> {
  clearBuckets();
  const b24 = new Bitrix24Server();
  await b24.start();
  const deals = new Map<string, Row>();
  b24.tables.set('deal', deals);
  let rows = 0;
  b24.methods.set('crm.deal.list', (p) => b24.list('deal', p));
  b24.methods.set('crm.deal.add', (p) => ({ result: Number(b24.put('deal', { ...(p.fields as Row), STAGE_ID: 'NEW' })) }));
  b24.methods.set('crm.deal.update', (p) => {
    const d = deals.get(String(p.id));
    if (!d) throw new B24Fault('ERROR_NOT_FOUND', 'Not found');
    Object.assign(d, p.fields);
    return { result: true };
  });
  b24.methods.set('crm.deal.productrows.set', (p) => {
    if (!deals.has(String(p.id))) throw new B24Fault('ERROR_NOT_FOUND', 'Not found');
    rows += Object.keys((p.rows ?? {}) as object).length;
    return { result: true };
  });
  process.env.BENCH_B24_DEALS_WEBHOOK = b24.webhookUrl;
  const fx = await portalFixture('b24dealbench');
  try {
    await fx.tp.rt.pool.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT 'client', 'bitrix24', '2917', id FROM clients WHERE code = 'C1'`);
    await fx.tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: bench-deals
source: { connector: bitrix24.deals, system: bitrix24, options: { webhookUrlEnv: BENCH_B24_DEALS_WEBHOOK } }
target: orders
mode: delta
`);
    const before = b24.stats.requests;
    const t0 = performance.now();
    for (let i = 0; i < M; i++) {
      const r = await fx.call('POST', '/api/v1/orders', { headers: { 'x-client-id': 'C1', 'x-contact-id': 'K1' }, body: { legalEntity: 'LE1', lines: [{ sku: 'P1', quantity: '2' }, { sku: 'P2', quantity: '1' }] } });
      if (r.statusCode !== 201) throw new Error(r.body);
    }
    await until(async () => Number((await fx.tp.rt.pool.query(`SELECT count(*) AS n FROM order_exports WHERE state = 'sent'`)).rows[0].n) === M);
    const sec = (performance.now() - t0) / 1000;
    const requests = b24.stats.requests - before;
    return {
      orders: M, deals: deals.size, productRows: rows, requestsPerOrder: +(requests / M).toFixed(2), ordersPerSec: +(M / sec).toFixed(2),
      requestsPerSec: +(requests / sec).toFixed(2), bitrix24Limited: b24.stats.limited, seconds: +sec.toFixed(1),
    };
  } finally {
    await fx.close();
    await b24.stop();
  }
}

const events = N > 0 ? await benchEvents() : {};
console.log('events', JSON.stringify(events));
const dealsResult = M > 0 ? await benchDeals() : {};
console.log('deals', JSON.stringify(dealsResult));
console.log(JSON.stringify({ ...events, ...dealsResult }));
process.exit(0);
