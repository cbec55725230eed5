// Reconciliation acts asked of 1C (flow target reconciliationActs, connector onec.http) through the real
// pipeline: PostgreSQL, the `acts` queue's real workers on Redis, the file store, the e-mail outbox; 1C is
// faked at its wire protocol only — an in-process node:http server as the base's HTTP service. A PDF answer
// makes the request done with the file stored and the buyer's e-mail written; «still building» (202) is
// asked again until the act comes; refused credentials and an HTML page sent as a PDF fail the request at
// once with the buyer's reason; an answer past maxMegabytes is cut off and refused; asking twice for the
// same period is one request; a request whose job Redis lost is queued again by the workers' sweep; which
// flow serves a legal entity.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { until } from '../helpers/wait.ts';
import { actFlowFor, actRequestById, actsEnabled, placeActRequest, type ActRequestView } from '../../src/backoffice/act-requests.ts';
import { setFlowPaused } from '../../src/pipeline/flows.ts';
import { filePath } from '../../src/backoffice/files.ts';
import { pullFlow } from '../../src/pipeline/poll.ts';
import { parseFlowFile } from '../../src/pipeline/flows.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import path from 'node:path';

const PASSWORD_ENV = 'ONEC_ACTS_TEST_PASSWORD';
const GUID = '9f1c2a3e-0000-4a5b-8c7d-111122223333';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface Seen { url: URL; authorization: string | undefined }

let tp: TestPipeline;
let fake: Server;
let handler: Handler = (_q, res) => res.writeHead(500).end();
const seen: Seen[] = [];
const ids = { legalEntity: 0, contact: 0, agreement: 0 };

const pdf = (text: string): Buffer => Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% ${text}\ntrailer << /Root 1 0 R >>\n%%EOF\n`, 'latin1');

beforeAll(async () => {
  process.env[PASSWORD_ENV] = 'секрет-1С';
  fake = createServer((req, res) => {
    seen.push({ url: new URL(req.url ?? '/', 'http://fake'), authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const port = (fake.address() as AddressInfo).port;
  tp = await createTestPipeline('actreq');
  const db = tp.rt.db;
  const c = await db.insertInto('clients').values({ code: 'C1', name: 'Ромашка' }).returning('id').executeTakeFirstOrThrow();
  const le = await db.insertInto('legal_entities').values({ code: 'LE1', name: 'ООО «Ромашка»', client_id: c.id, inn: '7701234567', kpp: '770101001' }).returning('id').executeTakeFirstOrThrow();
  const p = await db.insertInto('contacts').values({ code: 'P1', name: 'Иван Иванов', client_id: c.id, email: 'ivan@romashka.example' }).returning('id').executeTakeFirstOrThrow();
  const a = await db.insertInto('agreements').values({ code: 'AG-7', name: 'Договор поставки № 7', client_id: c.id, legal_entity_id: le.id }).returning('id').executeTakeFirstOrThrow();
  // 1C's own reference of the counterparty: the flow's system `onec` knows it.
  await db.insertInto('external_ids').values({ entity: 'legalEntity', system: 'onec', external_id: GUID, internal_id: Number(le.id) }).execute();
  Object.assign(ids, { legalEntity: Number(le.id), contact: Number(p.id), agreement: Number(a.id) });
  await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: onec-acts
source:
  connector: onec.http
  system: onec
  options: { url: "http://127.0.0.1:${port}/base/hs/portal", user: "Портал", passwordEnv: ${PASSWORD_ENV}, timeoutSeconds: 10, maxMegabytes: 1 }
target: reconciliationActs
mode: delta
retry: { attempts: 4, backoff: fixed, delayMs: 100 }
`);
}, 120_000);
afterAll(async () => {
  await tp?.close();
  await new Promise((resolve) => fake?.close(resolve));
  delete process.env[PASSWORD_ENV];
});

const ask = (from: string, to: string, agreementId: number | null = null) => placeActRequest(tp.rt, {
  legalEntityId: ids.legalEntity, agreementId, from, to, contactId: ids.contact, managerId: null,
});

async function settled(id: number): Promise<ActRequestView> {
  return until(`act request ${id} settled`, async () => {
    const r = await actRequestById(tp.rt.db, id);
    return r && r.state !== 'pending' ? r : undefined;
  });
}

const hits = (id: number) => seen.filter((s) => s.url.searchParams.get('request') === String(id));

describe('reconciliation acts asked of 1C through onec.http', () => {
  it('stores the PDF 1C answers, marks the request done and writes the buyer\'s e-mail with it', async () => {
    const act = pdf('Акт сверки из 1С №1');
    handler = (_q, res) => res.writeHead(200, { 'content-type': 'application/pdf', 'x-act-number': encodeURIComponent('АС-0042'), 'x-act-date': '2026-12-05' }).end(act);
    const { request, created } = await ask('2026-01-01', '2026-06-30', ids.agreement);
    expect(created).toBe(true);
    expect(request.state).toBe('pending');
    const done = await settled(request.id);
    expect(done).toMatchObject({ state: 'done', attempts: 1, number: 'АС-0042', actDate: '2026-12-05', reason: null, lastError: null });
    expect(await readFile(filePath(tp.dataDir, done.sha256!))).toEqual(act);
    // What 1C was asked: the requisites, its own reference of the counterparty, the agreement, the period, our id; Basic auth.
    const [q] = hits(request.id);
    expect(q!.url.pathname).toBe('/base/hs/portal/reconciliation-act');
    expect(Object.fromEntries(q!.url.searchParams)).toEqual({
      inn: '7701234567', kpp: '770101001', counterparty: GUID, agreement: 'AG-7', agreementCode: 'AG-7', from: '2026-01-01', to: '2026-06-30', request: String(request.id),
    });
    expect(Buffer.from(q!.authorization!.replace(/^Basic /, ''), 'base64').toString('utf8')).toBe('Портал:секрет-1С');
    const mail = (await sql<{ to_address: string; subject: string; kind: string; text_body: string; attachments: Array<{ sha256: string }> }>`
      SELECT to_address, subject, kind, text_body, attachments FROM email_outbox WHERE dedupe_key = ${`act-request:${request.id}`}`.execute(tp.rt.db)).rows;
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatchObject({ to_address: 'ivan@romashka.example', kind: 'document-new', subject: 'Акт сверки ООО «Ромашка» за 01.01.2026–30.06.2026 из 1С готов' });
    expect(mail[0]!.text_body).toContain('№ АС-0042');
    expect(mail[0]!.attachments.map((a) => a.sha256)).toEqual([done.sha256]);
  });

  it('asks again while 1C answers 202 (still building), then takes the act', async () => {
    let calls = 0;
    handler = (_q, res) => {
      calls++;
      if (calls < 3) res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8' }).end('Акт формируется');
      else res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf('after 202'));
    };
    const { request } = await ask('2026-07-01', '2026-07-31');
    const done = await settled(request.id);
    expect(done.state).toBe('done');
    expect(done.attempts).toBe(3);
    expect(hits(request.id)).toHaveLength(3);
    expect(hits(request.id)[0]!.url.searchParams.has('agreement')).toBe(false);
  });

  it('fails at once, with the buyer\'s reason, when 1C refuses the credentials (401): not retried', async () => {
    handler = (_q, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="1C"' }).end('Unauthorized');
    const { request } = await ask('2026-08-01', '2026-08-31');
    const failed = await settled(request.id);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, lastErrorCode: 'MAG_ERR_UNAUTHORIZED' });
    expect(failed.lastError).toContain('HTTP 401 — 1C refused the credentials (user \'Портал\', password from ONEC_ACTS_TEST_PASSWORD)');
    expect(failed.lastError).not.toContain('секрет');
    expect(failed.reason).toBe('Портал не смог подключиться к 1С (ошибка настройки обмена). Обратитесь к менеджеру.');
    await new Promise((r) => setTimeout(r, 600));
    expect(hits(request.id)).toHaveLength(1);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM email_outbox WHERE dedupe_key = ${`act-request:${request.id}`}`.execute(tp.rt.db)).rows[0]!.n).toBe(0);
  });

  it('refuses an HTML page sent with a PDF content type: "not a PDF", not retried', async () => {
    handler = (_q, res) => res.writeHead(200, { 'content-type': 'application/pdf' }).end('<!DOCTYPE html><html><body>Ошибка сеанса 1С</body></html>');
    const { request } = await ask('2026-09-01', '2026-09-30');
    const failed = await settled(request.id);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, lastErrorCode: 'MAG_ERR_SEND_REFUSED', sha256: null });
    expect(failed.lastError).toMatch(/the answer is not a PDF \(Content-Type application\/pdf, starts with "<!DOCTYPE html>/);
    expect(failed.reason).toBe('1С не выдала акт в формате PDF. Обратитесь к менеджеру.');
    expect(hits(request.id)).toHaveLength(1);
  });

  it('cuts off an answer past maxMegabytes (streamed, no length announced) and refuses it', async () => {
    let closedEarly = false;
    handler = (_q, res) => {
      // 32 MiB in 64 KiB chunks without Content-Length (more than socket buffers hold): only the bytes read tell the size.
      res.writeHead(200, { 'content-type': 'application/pdf' });
      res.on('close', () => { if (!res.writableFinished) closedEarly = true; });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const more = (): void => {
        while (sent < 512) {
          if (res.destroyed) return;
          sent++;
          if (!res.write(sent === 1 ? Buffer.concat([Buffer.from('%PDF-1.4\n'), chunk]) : chunk)) { res.once('drain', more); return; }
        }
        res.end('%%EOF\n');
      };
      more();
    };
    const { request } = await ask('2026-10-01', '2026-10-31');
    const failed = await settled(request.id);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, lastErrorCode: 'MAG_ERR_PAYLOAD_TOO_LARGE', sha256: null });
    expect(failed.lastError).toContain(`the act is larger than ${1024 * 1024} bytes (maxMegabytes); the answer was cut off`);
    expect(failed.reason).toBe('Акт из 1С слишком большой, чтобы передать его через портал. Обратитесь к менеджеру.');
    await until('the fake saw the connection cut', async () => closedEarly);
  });

  it('answers the same pending request when the buyer asks twice for the same period', async () => {
    let release = false;
    handler = (_q, res) => (release ? res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf('once')) : res.writeHead(202).end());
    const [a, b] = await Promise.all([ask('2026-11-01', '2026-11-30'), ask('2026-11-01', '2026-11-30')]);
    expect(a.request.id).toBe(b.request.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    const again = await ask('2026-11-01', '2026-11-30');
    expect(again).toMatchObject({ created: false, request: { id: a.request.id, state: 'pending' } });
    // Another agreement or period is another request.
    const other = await ask('2026-11-01', '2026-11-30', ids.agreement);
    expect(other.request.id).not.toBe(a.request.id);
    release = true;
    expect((await settled(a.request.id)).state).toBe('done');
    expect((await settled(other.request.id)).state).toBe('done');
    const n = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM act_requests WHERE period_from = '2026-11-01'`.execute(tp.rt.db)).rows[0]!.n;
    expect(n).toBe(2);
  });

  it('queues a pending request again when its job is gone (Redis lost it): the workers\' sweep', async () => {
    handler = (_q, res) => res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf('swept'));
    const flow = await tp.rt.db.selectFrom('flows').select('id').where('name', '=', 'onec-acts').executeTakeFirstOrThrow();
    // A row as placeActRequest leaves it when Redis refused the job: nothing in the queue.
    const row = await tp.rt.db.insertInto('act_requests').values({
      legal_entity_id: ids.legalEntity, agreement_id: null, period_from: '2025-01-01', period_to: '2025-12-31', contact_id: ids.contact, manager_id: null, flow_id: flow.id,
    }).returning('id').executeTakeFirstOrThrow();
    expect(await tp.rt.queues.acts.getJob(`act-${row.id}`)).toBeUndefined();
    expect((await settled(Number(row.id))).state).toBe('done');
  });

  it('serves a legal entity by the flow of its ERP\'s system, else by the only flow; a paused flow turns the feature off', async () => {
    expect((await actFlowFor(tp.rt.db, ids.legalEntity))?.name).toBe('onec-acts');
    const db = tp.rt.db;
    const c = await db.insertInto('clients').values({ code: 'C2', name: 'Лютик' }).returning('id').executeTakeFirstOrThrow();
    const stranger = Number((await db.insertInto('legal_entities').values({ code: 'LE9', name: 'ООО «Лютик»', client_id: c.id, inn: '7809999999' }).returning('id').executeTakeFirstOrThrow()).id);
    // One flow: it serves every legal entity, known to its ERP or not.
    expect((await actFlowFor(db, stranger))?.name).toBe('onec-acts');
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: erp2-acts
source: { connector: onec.http, system: erp2, options: { url: "http://127.0.0.1:9/hs/portal" } }
target: reconciliationActs
mode: delta
`);
    // Two flows: each legal entity goes to the ERP that knows it; one neither knows is served by none.
    expect((await actFlowFor(db, ids.legalEntity))?.name).toBe('onec-acts');
    expect(await actFlowFor(db, stranger)).toBeUndefined();
    await expect(placeActRequest(tp.rt, { legalEntityId: stranger, agreementId: null, from: '2026-01-01', to: '2026-01-31', contactId: null, managerId: null }))
      .rejects.toMatchObject({ name: 'ActsUnavailable', russian: 'Запрос акта сверки из 1С сейчас недоступен. Скачайте акт, сформированный порталом, или обратитесь к менеджеру.' });
    await db.insertInto('external_ids').values({ entity: 'legalEntity', system: 'erp2', external_id: 'L-9', internal_id: stranger }).execute();
    expect((await actFlowFor(db, stranger))?.name).toBe('erp2-acts');
    await setFlowPaused(db, 'erp2-acts', true);
    await setFlowPaused(db, 'onec-acts', true);
    expect(await actsEnabled(db)).toBe(false);
    expect(await actFlowFor(db, ids.legalEntity)).toBeUndefined();
    await setFlowPaused(db, 'onec-acts', false);
    expect(await actsEnabled(db)).toBe(true);
  });

  it('an act flow receives no payloads and is not pulled; only a connector that serves documents takes the target', async () => {
    await expect(tp.send('onec-acts', 'x')).rejects.toThrow('flow onec-acts asks the ERP for reconciliation acts (target: reconciliationActs); it receives no payloads');
    await expect(pullFlow(tp.rt, 'onec-acts')).rejects.toThrow('flow onec-acts asks the ERP for reconciliation acts (target: reconciliationActs); it is not pulled');
    await expect(tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: csv-acts
source: { connector: file.csv }
target: reconciliationActs
mode: delta
`)).rejects.toThrow(/connector 'file.csv' cannot request reconciliation acts \(target: reconciliationActs\); connectors that can: onec.http/);
    // The README's example flow is valid as written.
    const example = 'ops/flows/onec-http-acts.yaml';
    const [flow] = await parseFlowFile(await readFile(path.join(REPO_DIR, example), 'utf8'), example, tp.rt.registry);
    expect(flow).toMatchObject({ name: 'onec-http-acts', target: 'reconciliationActs', source: { connector: 'onec.http', system: 'onec' } });
  });
});
