// The authorization matrix (issue 17): every route the server registers has a row here saying who may call
// it, and the test calls each route as nobody, with a wrong credential and with the other surface's
// credential. A protected route must refuse (and never answer 5xx); a public one must answer without a
// credential. A route added without its row fails the first test, so no route is ever exposed by accident.
// Each request comes from its own address: the login throttle (5 failures per address) must not mask
// what the route itself answers. The column "another client's credential" (FOREIGN) calls every route that
// serves one client's (or one flow's) data with a valid credential of another client or flow, on real
// objects of the first one: refused (403/404) and nothing of the first client shown or changed; a route
// where "another client" means nothing says why in its row. The admin column: the admin token opens the
// admin routes and nothing of the cabinet, the manager workplace or the console.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { registeredRoutes } from '../../src/api/server.ts';
import { createApiKey, KNOWN_SCOPES } from '../../src/portal/keys.ts';
import { applyFlows, parseFlowFile } from '../../src/pipeline/flows.ts';
import { createSession } from '../../src/cabinet/sessions.ts';
import { createManagerSession, loadManagerSession } from '../../src/backoffice/managers.ts';
import { storeFile } from '../../src/backoffice/files.ts';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';
import { registry } from '../helpers/registry.ts';

type Access =
  | 'public' // anyone: answers without a credential (never 401/403, never 5xx) — the guest catalog and price lists too
  | 'form' // a public form (sign-in, registration, reset): its POST needs the page's CSRF token, refused 403 without
  | 'admin' // the admin bearer token (/admin/api, /admin/queues)
  | 'portal' // a portal API key
  | 'cabinet' // a buyer's session (pages: a redirect to the sign-in, forms: refused)
  | 'manager' // a manager's session
  | 'console' // a console user's session (operations console, roles viewer / operator / admin)
  | 'onec' // the 1C exchange's login (answers "failure" in its protocol)
  | 'sap' // the SAP IDoc endpoint's Basic credentials
  | 'webhook'; // a Bitrix24 flow's application token

const MATRIX: Record<string, Access> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  'GET /admin/api/flows': 'admin',
  'GET /admin/api/flows/:name': 'admin',
  'POST /admin/api/flows': 'admin',
  'PUT /admin/api/flows/:name': 'admin',
  'POST /admin/api/flows/:name/pause': 'admin',
  'POST /admin/api/flows/:name/resume': 'admin',
  'POST /admin/api/flows/:name/runs': 'admin',
  'GET /admin/api/runs': 'admin',
  'GET /admin/api/runs/:id': 'admin',
  'GET /admin/api/runs/:id/rejects': 'admin',
  'GET /admin/api/runs/:id/rejects.csv': 'admin',
  'GET /admin/api/runs/:id/files/:n': 'admin',
  'POST /admin/api/runs/:id/approve': 'admin',
  'POST /admin/api/runs/:id/reject': 'admin',
  'POST /admin/api/runs/:id/replay': 'admin',
  'GET /admin/api/orders/:number/exports': 'admin',
  'POST /admin/api/orders/:number/exports/:flow/retry': 'admin',
  'GET /admin/api/cities': 'admin',
  'PUT /admin/api/cities/:code/price-type': 'admin',
  'PUT /admin/api/price-types/:code/city': 'admin',
  'PUT /admin/api/warehouses/:code/city': 'admin',
  'PUT /admin/api/settings/default-city': 'admin',
  'GET /admin/api/keys': 'admin',
  'POST /admin/api/keys': 'admin',
  'DELETE /admin/api/keys/:id': 'admin',
  'POST /admin/api/cabinet/invitations': 'admin',
  'GET /admin/api/cabinet/signups': 'admin',
  'POST /admin/api/cabinet/signups/:id/approve': 'admin',
  'POST /admin/api/cabinet/signups/:id/reject': 'admin',
  'GET /admin/api/mail': 'admin',
  'POST /admin/api/mail/:id/retry': 'admin',
  'POST /admin/api/documents/batches': 'admin',
  'GET /admin/api/documents/batches': 'admin',
  'GET /admin/api/documents/seller': 'admin',
  'PUT /admin/api/documents/seller': 'admin',
  'GET /admin/api/act-requests': 'admin',
  'GET /admin/api/lineage': 'admin',
  'GET /admin/queues': 'admin',
  'GET /admin/queues/metrics-history': 'admin',
  'GET /admin/queues/job-schedulers': 'admin',
  'GET /admin/queues/queue/:queueName': 'admin',
  'GET /admin/queues/queue/:queueName/:jobId': 'admin',
  'GET /admin/queues/api/redis/stats': 'admin',
  'GET /admin/queues/api/queues': 'admin',
  'GET /admin/queues/api/job-schedulers': 'admin',
  'GET /admin/queues/api/queues/:queueName/metrics': 'admin',
  'GET /admin/queues/api/queues/:queueName/default-job-options': 'admin',
  'GET /admin/queues/api/queues/:queueName/workers': 'admin',
  'GET /admin/queues/api/queues/:queueName/rate-limit': 'admin',
  'GET /admin/queues/api/queues/:queueName/job-data-schema': 'admin',
  'PUT /admin/queues/api/queues/pause': 'admin',
  'PUT /admin/queues/api/queues/resume': 'admin',
  'GET /admin/queues/api/queues/:queueName/:jobId/logs': 'admin',
  'GET /admin/queues/api/queues/:queueName/:jobId/flow': 'admin',
  'GET /admin/queues/api/queues/:queueName/:jobId': 'admin',
  'POST /admin/queues/api/queues/:queueName/add': 'admin',
  'PUT /admin/queues/api/queues/:queueName/retry/:queueStatus': 'admin',
  'PUT /admin/queues/api/queues/:queueName/promote': 'admin',
  'PUT /admin/queues/api/queues/:queueName/clean/:queueStatus': 'admin',
  'PUT /admin/queues/api/queues/:queueName/pause': 'admin',
  'PUT /admin/queues/api/queues/:queueName/resume': 'admin',
  'PUT /admin/queues/api/queues/:queueName/concurrency': 'admin',
  'PUT /admin/queues/api/queues/:queueName/rate-limit': 'admin',
  'PUT /admin/queues/api/queues/:queueName/rate-limit/release': 'admin',
  'PUT /admin/queues/api/queues/:queueName/empty': 'admin',
  'PUT /admin/queues/api/queues/:queueName/obliterate': 'admin',
  'PUT /admin/queues/api/queues/:queueName/job-schedulers/:schedulerId/remove': 'admin',
  'PATCH /admin/queues/api/queues/:queueName/job-schedulers/:schedulerId': 'admin',
  'PUT /admin/queues/api/queues/:queueName/job-schedulers/:schedulerId/run': 'admin',
  'PUT /admin/queues/api/queues/:queueName/:jobId/retry': 'admin',
  'PUT /admin/queues/api/queues/:queueName/:jobId/clean': 'admin',
  'PUT /admin/queues/api/queues/:queueName/:jobId/promote': 'admin',
  'PATCH /admin/queues/api/queues/:queueName/:jobId/update-data': 'admin',
  'PATCH /admin/queues/api/queues/:queueName/:jobId/delay': 'admin',
  'PATCH /admin/queues/api/queues/:queueName/:jobId/priority': 'admin',
  'PUT /admin/queues/api/queues/:queueName/:jobId/remove-unprocessed-children': 'admin',
  'GET /admin/queues/static/*': 'admin',
  'GET /api/docs': 'public',
  'GET /api/docs/static/index.html': 'public',
  'GET /api/docs/static/swagger-initializer.js': 'public',
  'GET /api/docs/json': 'public',
  'GET /api/docs/yaml': 'public',
  'GET /api/docs/static/*': 'public',
  'GET /api/v1/me': 'portal',
  'GET /api/v1/me/balance': 'portal',
  'GET /api/v1/prices/:sku': 'portal',
  'POST /api/v1/prices/batch': 'portal',
  'GET /api/v1/stock/:sku': 'portal',
  'POST /api/v1/stock/batch': 'portal',
  'POST /api/v1/orders': 'portal',
  'GET /api/v1/orders': 'portal',
  'GET /api/v1/orders/:number': 'portal',
  'GET /api/v1/order-statuses': 'portal',
  'GET /api/v1/orders/:number/documents': 'portal',
  'GET /api/v1/documents/:id/file': 'portal',
  'GET /api/v1/catalog/groups': 'portal',
  'GET /api/v1/catalog/products': 'portal',
  'GET /api/v1/search': 'portal',
  'GET /api/v1/search/suggest': 'portal',
  'GET /cabinet/assets/:name': 'public',
  'GET /cabinet/login': 'public',
  'POST /cabinet/login': 'form',
  'POST /cabinet/logout': 'cabinet',
  'GET /cabinet/password/:token': 'public',
  'POST /cabinet/password/:token': 'form',
  'GET /cabinet/reset': 'public',
  'POST /cabinet/reset': 'form',
  'GET /cabinet/register': 'public',
  'POST /cabinet/register': 'form',
  'POST /cabinet/context': 'cabinet',
  'POST /cabinet/manager/message': 'cabinet',
  'GET /cabinet': 'public',
  'GET /cabinet/account': 'cabinet',
  'POST /cabinet/account/notifications': 'cabinet',
  'POST /cabinet/account/password': 'cabinet',
  'GET /cabinet/catalog': 'public',
  'GET /cabinet/product/:sku': 'public',
  'GET /cabinet/search': 'public',
  'GET /cabinet/search/suggest': 'public',
  'GET /cabinet/cart': 'cabinet',
  'POST /cabinet/cart/add': 'cabinet',
  'POST /cabinet/cart/lines/:productId': 'cabinet',
  'POST /cabinet/cart/lines/:productId/remove': 'cabinet',
  'POST /cabinet/cart/clear': 'cabinet',
  'POST /cabinet/cart/save': 'cabinet',
  'GET /cabinet/saved-carts/:id': 'cabinet',
  'POST /cabinet/saved-carts/:id/:action': 'cabinet',
  'POST /cabinet/checkout': 'cabinet',
  'GET /cabinet/orders': 'cabinet',
  'GET /cabinet/orders/:number': 'cabinet',
  'POST /cabinet/orders/:number/repeat': 'cabinet',
  'GET /cabinet/documents': 'cabinet',
  'GET /cabinet/documents/order/:id/file': 'cabinet',
  'GET /cabinet/documents/contracts/:id/file': 'cabinet',
  'GET /cabinet/documents/scans/:id/file': 'cabinet',
  'GET /cabinet/documents/contracts/:id': 'cabinet',
  'POST /cabinet/documents/contracts/:id/scan': 'cabinet',
  'GET /cabinet/quick-order': 'cabinet',
  'GET /cabinet/quick-order/template.csv': 'public',
  'POST /cabinet/quick-order': 'cabinet',
  'POST /cabinet/quick-order/cart': 'cabinet',
  'GET /cabinet/price-lists': 'public',
  'GET /cabinet/price-lists/download': 'public',
  'POST /cabinet/price-lists/upload': 'cabinet',
  'GET /cabinet/balance': 'cabinet',
  'GET /cabinet/balance/act': 'cabinet',
  'POST /cabinet/balance/act-requests': 'cabinet',
  'GET /cabinet/balance/act-requests': 'cabinet',
  'GET /cabinet/balance/act-requests/:id/pdf': 'cabinet',
  'GET /cabinet/team': 'cabinet',
  'POST /cabinet/team/authority': 'cabinet',
  'POST /cabinet/team/threshold': 'cabinet',
  'POST /cabinet/team/invite': 'cabinet',
  'GET /cabinet/approvals': 'cabinet',
  'POST /cabinet/approvals/:number': 'cabinet',
  'POST /cabinet/impersonation/end': 'cabinet',
  'GET /manager/assets/manager.css': 'public',
  'GET /manager/login': 'public',
  'POST /manager/login': 'form',
  'POST /manager/logout': 'manager',
  'GET /manager/password/:token': 'public',
  'POST /manager/password/:token': 'form',
  'GET /manager/reset': 'public',
  'POST /manager/reset': 'form',
  'GET /manager': 'manager',
  'GET /manager/clients/:id': 'manager',
  'POST /manager/clients/:id/contacts/:contactId/invite': 'manager',
  'POST /manager/clients/:id/impersonate': 'manager',
  'GET /manager/orders': 'manager',
  'GET /manager/orders/:number': 'manager',
  'GET /manager/signups': 'manager',
  'POST /manager/signups/:id/:decision': 'manager',
  'GET /manager/impersonations': 'manager',
  'GET /manager/clients/:id/credit': 'manager',
  'POST /manager/clients/:id/credit/terms': 'manager',
  'POST /manager/clients/:id/credit/rule': 'manager',
  'GET /manager/clients/:id/documents': 'manager',
  'POST /manager/clients/:id/documents': 'manager',
  'POST /manager/orders/:number/confirm': 'manager',
  'GET /manager/documents': 'manager',
  'GET /manager/documents/contracts/:id/file': 'manager',
  'GET /manager/documents/scans/:id/file': 'manager',
  'GET /manager/documents/order/:id/file': 'manager',
  'GET /console/assets/console.css': 'public',
  'GET /console/login': 'public',
  'POST /console/login': 'form',
  'POST /console/logout': 'console',
  'GET /console': 'console',
  'GET /console/flows': 'console',
  'GET /console/flows/:name': 'console',
  'POST /console/flows/:name/apply': 'console',
  'POST /console/flows/:name/pause': 'console',
  'POST /console/flows/:name/resume': 'console',
  'POST /console/flows/:name/pull': 'console',
  'GET /console/runs': 'console',
  'GET /console/held': 'console',
  'GET /console/lineage': 'console',
  'GET /console/runs/:id': 'console',
  'GET /console/runs/:id/live': 'console',
  'GET /console/runs/:id/rejects.csv': 'console',
  'GET /console/runs/:id/files/:n': 'console',
  'POST /console/runs/:id/approve': 'console',
  'POST /console/runs/:id/reject': 'console',
  'POST /console/runs/:id/replay': 'console',
  'GET /console/queues': 'console',
  'GET /console/users': 'console',
  'POST /console/users/:name/disable': 'console',
  'GET /exchange/onec/:exchange': 'onec',
  'POST /exchange/onec/:exchange': 'onec',
  'GET /exchange/sap/idoc/:endpoint': 'sap',
  'POST /exchange/sap/idoc/:endpoint': 'sap',
  'POST /exchange/webhooks/:flow': 'webhook',
};

const ADMIN = 'matrix-admin-token-0123456789abcdef';
let f: CabinetFixture;
let app: FastifyInstance;
let portalKey: string;
let n = 0;
/** A fresh source address per request (10.x.y.z). */
const address = (): string => `10.${(++n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
const concrete = (url: string): string => url.replace(/:[A-Za-z]+/g, '1').replace(/\*$/, 'x');

async function call(method: string, url: string, headers: Record<string, string> = {}) {
  return app.inject({ method: method as 'GET', url: concrete(url), headers, remoteAddress: address() });
}

/** Two of each external surface, each with its own credential: the second one's must not open the first. */
const SECRETS: Record<string, string> = {
  MATRIX_ONEC_A_USER: 'onec-a', MATRIX_ONEC_A_PASSWORD: 'onec-a-password', MATRIX_ONEC_B_USER: 'onec-b', MATRIX_ONEC_B_PASSWORD: 'onec-b-password',
  MATRIX_SAP_A_USER: 'sap-a', MATRIX_SAP_A_PASSWORD: 'sap-a-password', MATRIX_SAP_B_USER: 'sap-b', MATRIX_SAP_B_PASSWORD: 'sap-b-password',
  MATRIX_BX_A_TOKEN: 'bitrix-a-token', MATRIX_BX_B_TOKEN: 'bitrix-b-token', MATRIX_BX_URL: 'https://example.bitrix24.ru/rest/1/abc/',
};
const flowsYaml = (x: 'a' | 'b', X: 'A' | 'B'): string => `
apiVersion: magistral/v1
kind: Flow
name: matrix-onec-${x}
source: { connector: onec.commerceml, system: onec, options: { exchange: matrix${x}, userEnv: MATRIX_ONEC_${X}_USER, passwordEnv: MATRIX_ONEC_${X}_PASSWORD } }
mapping: onec/groups.yaml
target: groups
mode: delta
---
apiVersion: magistral/v1
kind: Flow
name: matrix-sap-${x}
source: { connector: sap.idoc, system: sap, options: { endpoint: matrix${x}, messageTypes: [MATMAS], userEnv: MATRIX_SAP_${X}_USER, passwordEnv: MATRIX_SAP_${X}_PASSWORD } }
mapping: sap/matmas.products.yaml
target: products
mode: delta
autoCreate: true
---
apiVersion: magistral/v1
kind: Flow
name: matrix-webhook-${x}
source: { connector: bitrix24.events, system: bitrix24, options: { tokenEnv: MATRIX_BX_${X}_TOKEN, webhookUrlEnv: MATRIX_BX_URL } }
mapping: crm/bitrix24-companies.yaml
target: clients
mode: delta
autoCreate: true
`;

/** Real objects of the first client (C1: LE1, LE2, contacts P1, P2, manager M1) and who the second one is (C2: LE3, P3, M2). */
interface Objects {
  c1: number; c2: number; le1: number; le3: number; p1: number; p2: number; p3: number; agreementA1: number;
  order: string; orderDoc: number; contract: number; scan: number; savedCart: number; act: number;
}
let o: Objects;
/** Headers of each credential: the first client's (owner) and the second one's (other). */
const who: Record<'owner' | 'other', Record<string, Record<string, string>>> = { owner: {}, other: {} };
/** The 1C session ids (sessid=) of the owner's and the other's exchange. */
const sessid: Record<'owner' | 'other', string> = { owner: '', other: '' };
/** What the first client's objects are called: none of it may reach the second client's pages. */
const C1_MARKERS = ['Энергомонтаж', 'AUTHX-C1-0001', 'Корзина C1 секретная', 'Договор C1 секретный'];
const saved = { ...process.env };

beforeAll(async () => {
  Object.assign(process.env, SECRETS);
  f = await cabinetFixture('authmatrix', { env: { MAGISTRAL_ADMIN_TOKEN: ADMIN } });
  app = f.app;
  const db = f.tp.rt.db;
  portalKey = (await createApiKey(db, { name: 'matrix', scopes: ['catalog:read', 'prices:read', 'stock:read', 'orders:read', 'orders:write', 'clients:read'] })).key;
  for (const [x, X] of [['a', 'A'], ['b', 'B']] as const) await applyFlows(db, await parseFlowFile(flowsYaml(x, X), `matrix-${x}.yaml`, registry));

  const id = async (table: 'clients' | 'legal_entities' | 'contacts' | 'agreements' | 'managers', code: string): Promise<number> =>
    Number((await db.selectFrom(table).select('id').where('code', '=', code).executeTakeFirstOrThrow()).id);
  const [c1, c2, le1, le3, p1, p2, p3, agreementA1, m1, m2] = await Promise.all([
    id('clients', 'C1'), id('clients', 'C2'), id('legal_entities', 'LE1'), id('legal_entities', 'LE3'),
    id('contacts', 'P1'), id('contacts', 'P2'), id('contacts', 'P3'), id('agreements', 'A1'), id('managers', 'M1'), id('managers', 'M2'),
  ]);
  const dataDir = f.tp.config.MAGISTRAL_DATA_DIR;
  const pdf = await storeFile(db, dataDir, Buffer.from('%PDF-1.4 first client\'s document\n%%EOF\n'), 'application/pdf');
  const order = 'AUTHX-C1-0001';
  // Waiting for the head's approval: the approval routes have an object of the first client too.
  const orderId = Number((await db.insertInto('orders').values({
    number: order, client_id: c1, legal_entity_id: le1, contact_id: p2, currency: 'RUB', total: '100.00', approval: 'waiting',
  }).returning('id').executeTakeFirstOrThrow()).id);
  const orderDoc = Number((await db.insertInto('order_documents').values({
    order_id: orderId, kind: 'invoice', number: 'СЧ-1', amount: '100.00', file_name: 'invoice.pdf', sha256: pdf.sha256, content_type: 'application/pdf', size_bytes: pdf.sizeBytes,
  }).returning('id').executeTakeFirstOrThrow()).id);
  const contract = Number((await db.insertInto('client_documents').values({
    client_id: c1, legal_entity_id: le1, kind: 'contract', title: 'Договор C1 секретный', sha256: pdf.sha256, file_name: 'contract.pdf',
  }).returning('id').executeTakeFirstOrThrow()).id);
  const scan = Number((await db.insertInto('client_document_scans').values({
    document_id: contract, sha256: pdf.sha256, file_name: 'scan.pdf', content_type: 'application/pdf', size_bytes: pdf.sizeBytes, uploaded_by: p1,
  }).returning('id').executeTakeFirstOrThrow()).id);
  const product = await db.selectFrom('products').select('id').orderBy('id').executeTakeFirstOrThrow();
  const savedCart = Number((await db.insertInto('saved_carts').values({ legal_entity_id: le1, owner_contact_id: p1, name: 'Корзина C1 секретная', shared: true })
    .returning('id').executeTakeFirstOrThrow()).id);
  await db.insertInto('saved_cart_lines').values({ saved_cart_id: savedCart, product_id: Number(product.id), line_no: 1, quantity: '2' }).execute();
  const flow = await db.selectFrom('flows').select('id').where('name', '=', 'matrix-onec-a').executeTakeFirstOrThrow();
  const act = Number((await db.insertInto('act_requests').values({
    legal_entity_id: le1, period_from: '2026-01-01', period_to: '2026-03-31', contact_id: p1, flow_id: Number(flow.id), state: 'done', sha256: pdf.sha256, done_at: new Date(),
  }).returning('id').executeTakeFirstOrThrow()).id);
  // M1's past session as C1 (the impersonation history lists the manager's own sessions).
  await db.insertInto('impersonations').values({
    manager_id: m1, client_id: c1, contact_id: p1, legal_entity_id: le1, expires_at: new Date(), ended_at: new Date(), end_reason: 'ended',
  }).execute();
  o = { c1, c2, le1, le3, p1, p2, p3, agreementA1, order, orderDoc, contract, scan, savedCart, act };

  // Sessions made the way sign-in makes them (the contact, the legal entity it acts for), keys bound to a client.
  for (const [as, contact, le, manager, client] of [['owner', p1, le1, m1, 'C1'], ['other', p3, le3, m2, 'C2']] as const) {
    const cab = await createSession(db, { contactId: contact, legalEntityId: le });
    who[as].cabinet = { cookie: `mg_cab=${cab.id}`, 'x-csrf-token': cab.row.csrf };
    const mgr = await createManagerSession(db, manager, {});
    who[as].manager = { cookie: `mg_mgr=${mgr}`, 'x-csrf-token': (await loadManagerSession(db, mgr))!.csrf };
    who[as].portal = { authorization: `Bearer ${(await createApiKey(db, { name: `matrix-${client}`, scopes: [...KNOWN_SCOPES], clientCode: client })).key}` };
    const X = as === 'owner' ? 'A' : 'B';
    const basic = `Basic ${Buffer.from(`${SECRETS[`MATRIX_ONEC_${X}_USER`]}:${SECRETS[`MATRIX_ONEC_${X}_PASSWORD`]}`).toString('base64')}`;
    const login = await app.inject({ url: `/exchange/onec/matrix${X.toLowerCase()}?type=catalog&mode=checkauth`, headers: { authorization: basic }, remoteAddress: address() });
    const [status, cookieName, cookieValue, sid] = login.body.split('\n');
    expect(status, login.body).toBe('success');
    sessid[as] = sid!.replace(/^sessid=/, '');
    who[as].onec = { authorization: basic, cookie: `${cookieName}=${cookieValue}` };
    who[as].sap = { authorization: `Basic ${Buffer.from(`${SECRETS[`MATRIX_SAP_${X}_USER`]}:${SECRETS[`MATRIX_SAP_${X}_PASSWORD`]}`).toString('base64')}` };
    who[as].webhook = { 'content-type': 'application/x-www-form-urlencoded' };
  }
}, 120_000);
afterAll(async () => {
  await f?.close();
  for (const k of Object.keys(SECRETS)) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** One request of the FOREIGN column: its URL, a form or JSON body, headers of its own (besides the credential's). */
interface Probe { url: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> }
type As = 'owner' | 'other';
type ProbeOf = (x: Objects, as: As) => Probe | string;
type Foreign =
  /** Every probe with the other client's credential is refused (a GET one is served to the owner: the object is real). */
  | { refuse: ProbeOf[]; /** an own route naming a foreign object in the body may answer 400 (not found among yours) */ body?: true }
  /**
   * A list of the caller's own things: served to both, the owner's shows the first client's objects, the
   * other's none of them; `refuse`: the list filtered by an object of the first client is refused.
   */
  | { hides: ProbeOf; refuse?: ProbeOf[] }
  /** "Another client" means nothing here: why. */
  | { none: string };

/** Why whole surfaces have no "another client" column (their rows need no decision of their own). */
const NO_CLIENT: Partial<Record<Access, string>> = {
  admin: 'one operator token over the whole installation: there is no other client\'s admin token (the admin column below checks it opens only /admin)',
  form: 'a sign-in, registration or reset form: no session yet, so no client to be another one',
  console: 'operators of the whole installation (flows, runs, queues): no client\'s data is theirs or another\'s',
};

const event = (token: string): Record<string, string> => ({ event: 'ONCRMCOMPANYUPDATE', 'data[FIELDS][ID]': '7', ts: '1700000000', 'auth[domain]': 'example.bitrix24.ru', 'auth[application_token]': token });
/** A portal route asked by the second client's key for the first client, by code or through its contact. */
const portal = (url: string | ((x: Objects) => string), body?: unknown): ProbeOf[] => [
  (x) => ({ url: typeof url === 'string' ? url : url(x), json: body, headers: { 'x-client-id': 'C1' } }),
  (x) => ({ url: typeof url === 'string' ? url : url(x), json: body, headers: { 'x-contact-id': 'P1' } }),
];
/** The trusted frontend's key (bound to no client) acting for the first client (owner) or the second (other) by X-Client-Id. */
const frontend = (url: (x: Objects) => string): ProbeOf => (x, as) => ({ url: url(x), headers: { authorization: `Bearer ${portalKey}`, 'x-client-id': as === 'owner' ? 'C1' : 'C2' } });
/** A portal object of the first client, asked for by the second client's key every way: naming C1 or P1, plainly, and through the frontend's key. */
const everyWay = (url: (x: Objects) => string): ProbeOf[] => [...portal(url), (x) => url(x), frontend(url)];
const openApi = { none: 'the OpenAPI document' };
const ownCart = 'the caller\'s own cart (of its contact and legal entity); a product is nobody\'s object';

const FOREIGN: Record<string, Foreign> = {
  'GET /healthz': { none: 'public probe, no client data' },
  'GET /readyz': { none: 'public probe, no client data' },
  'GET /metrics': { none: 'installation-wide counters, no client data' },
  'GET /api/docs': openApi,
  'GET /api/docs/static/index.html': openApi,
  'GET /api/docs/static/swagger-initializer.js': openApi,
  'GET /api/docs/json': openApi,
  'GET /api/docs/yaml': openApi,
  'GET /api/docs/static/*': openApi,

  'GET /api/v1/me': { refuse: portal('/api/v1/me') },
  'GET /api/v1/me/balance': { refuse: [...portal('/api/v1/me/balance'), () => '/api/v1/me/balance?legalEntity=LE1'] },
  'GET /api/v1/prices/:sku': { refuse: portal('/api/v1/prices/SKU-00001') },
  'POST /api/v1/prices/batch': { refuse: portal('/api/v1/prices/batch', { skus: ['SKU-00001'] }) },
  'GET /api/v1/stock/:sku': { refuse: portal('/api/v1/stock/SKU-00001') },
  'POST /api/v1/stock/batch': { refuse: portal('/api/v1/stock/batch', { skus: ['SKU-00001'] }) },
  'POST /api/v1/orders': { refuse: [...portal('/api/v1/orders', { legalEntity: 'LE1', lines: [{ sku: 'SKU-00001', quantity: '1' }] }), () => ({ url: '/api/v1/orders', json: { legalEntity: 'LE1', lines: [{ sku: 'SKU-00001', quantity: '1' }] } })] },
  'GET /api/v1/orders': { refuse: [...portal('/api/v1/orders'), () => '/api/v1/orders?legalEntity=LE1'] },
  'GET /api/v1/orders/:number': { refuse: everyWay((x) => `/api/v1/orders/${x.order}`) },
  'GET /api/v1/order-statuses': { refuse: portal('/api/v1/order-statuses') },
  'GET /api/v1/orders/:number/documents': { refuse: everyWay((x) => `/api/v1/orders/${x.order}/documents`) },
  'GET /api/v1/documents/:id/file': { refuse: everyWay((x) => `/api/v1/documents/${x.orderDoc}/file`) },
  'GET /api/v1/catalog/groups': { refuse: portal('/api/v1/catalog/groups') },
  'GET /api/v1/catalog/products': { refuse: portal('/api/v1/catalog/products') },
  'GET /api/v1/search': { refuse: portal('/api/v1/search?q=кабель') },
  'GET /api/v1/search/suggest': { refuse: portal('/api/v1/search/suggest?q=каб') },

  'GET /cabinet/assets/:name': { none: 'static files' },
  'GET /cabinet/login': { none: 'the sign-in form' },
  'POST /cabinet/logout': { none: 'ends the caller\'s own session; names no object' },
  'GET /cabinet/password/:token': { none: 'a one-time link: the token is the credential' },
  'GET /cabinet/reset': { none: 'the reset form' },
  'GET /cabinet/register': { none: 'the registration form' },
  'POST /cabinet/context': { refuse: [() => ({ url: '/cabinet/context', form: { legalEntity: 'LE1' } })] },
  'POST /cabinet/manager/message': { none: 'writes to the caller\'s own personal manager; names no object' },
  'GET /cabinet': { hides: () => '/cabinet' },
  'GET /cabinet/account': { none: 'the caller\'s own contact (no id in the request)' },
  'POST /cabinet/account/notifications': { none: 'the caller\'s own contact (no id in the request)' },
  'POST /cabinet/account/password': { none: 'the caller\'s own contact (no id in the request)' },
  'GET /cabinet/catalog': { none: 'the catalog, priced for the caller\'s own legal entity' },
  'GET /cabinet/product/:sku': { none: 'a product, priced for the caller\'s own legal entity' },
  'GET /cabinet/search': { none: 'the catalog search' },
  'GET /cabinet/search/suggest': { none: 'the catalog search' },
  'GET /cabinet/cart': { none: ownCart },
  'POST /cabinet/cart/add': { none: ownCart },
  'POST /cabinet/cart/lines/:productId': { none: ownCart },
  'POST /cabinet/cart/lines/:productId/remove': { none: ownCart },
  'POST /cabinet/cart/clear': { none: ownCart },
  'POST /cabinet/cart/save': { none: ownCart },
  'GET /cabinet/saved-carts/:id': { refuse: [(x) => `/cabinet/saved-carts/${x.savedCart}`] },
  'POST /cabinet/saved-carts/:id/:action': { refuse: ['add', 'rename', 'share', 'replace', 'delete'].map((a) => (x: Objects) => ({ url: `/cabinet/saved-carts/${x.savedCart}/${a}`, form: { name: 'захвачена', shared: '0' } })) },
  'POST /cabinet/checkout': { none: ownCart },
  'GET /cabinet/orders': { hides: () => '/cabinet/orders', refuse: [() => '/cabinet/orders?legalEntity=LE1'] },
  'GET /cabinet/orders/:number': { refuse: [(x) => `/cabinet/orders/${x.order}`] },
  'POST /cabinet/orders/:number/repeat': { refuse: [(x) => `/cabinet/orders/${x.order}/repeat`] },
  'GET /cabinet/documents': { hides: () => '/cabinet/documents' },
  'GET /cabinet/documents/order/:id/file': { refuse: [(x) => `/cabinet/documents/order/${x.orderDoc}/file`] },
  'GET /cabinet/documents/contracts/:id/file': { refuse: [(x) => `/cabinet/documents/contracts/${x.contract}/file`] },
  'GET /cabinet/documents/scans/:id/file': { refuse: [(x) => `/cabinet/documents/scans/${x.scan}/file`] },
  'GET /cabinet/documents/contracts/:id': { refuse: [(x) => `/cabinet/documents/contracts/${x.contract}`] },
  'POST /cabinet/documents/contracts/:id/scan': { refuse: [(x) => `/cabinet/documents/contracts/${x.contract}/scan`] },
  'GET /cabinet/quick-order': { none: ownCart },
  'GET /cabinet/quick-order/template.csv': { none: 'a blank template' },
  'POST /cabinet/quick-order': { none: ownCart },
  'POST /cabinet/quick-order/cart': { none: ownCart },
  'GET /cabinet/price-lists': { none: 'the catalog\'s price list, priced for the caller\'s own legal entity' },
  'GET /cabinet/price-lists/download': { none: 'the catalog\'s price list, priced for the caller\'s own legal entity' },
  'POST /cabinet/price-lists/upload': { none: ownCart },
  'GET /cabinet/balance': { hides: () => '/cabinet/balance' },
  'GET /cabinet/balance/act': { refuse: [() => '/cabinet/balance/act?legalEntity=LE1&from=2026-01-01&to=2026-03-31'] },
  'POST /cabinet/balance/act-requests': { refuse: [() => ({ url: '/cabinet/balance/act-requests', form: { legalEntity: 'LE1', from: '2026-01-01', to: '2026-03-31' } })] },
  'GET /cabinet/balance/act-requests': { hides: () => '/cabinet/balance/act-requests' },
  'GET /cabinet/balance/act-requests/:id/pdf': { refuse: [(x) => `/cabinet/balance/act-requests/${x.act}/pdf`] },
  'GET /cabinet/team': { hides: () => '/cabinet/team' },
  'POST /cabinet/team/authority': { body: true, refuse: [(x) => ({ url: '/cabinet/team/authority', form: { contact: String(x.p2), legalEntity: String(x.le1), confirmed: '1' } })] },
  'POST /cabinet/team/threshold': { body: true, refuse: [(x) => ({ url: '/cabinet/team/threshold', form: { contact: String(x.p2), legalEntity: String(x.le1), amount: '1' } })] },
  'POST /cabinet/team/invite': { body: true, refuse: [(x) => ({ url: '/cabinet/team/invite', form: { contact: String(x.p2), email: 'thief@example.com' } })] },
  'GET /cabinet/approvals': { hides: () => '/cabinet/approvals' },
  'POST /cabinet/approvals/:number': { refuse: [(x) => ({ url: `/cabinet/approvals/${x.order}`, form: { decision: 'approve' } }), (x) => ({ url: `/cabinet/approvals/${x.order}`, form: { decision: 'reject', comment: 'нет' } })] },
  'POST /cabinet/impersonation/end': { none: 'ends the session\'s own impersonation' },

  'GET /console/assets/console.css': { none: 'static file' },
  'GET /console/login': { none: 'the sign-in form' },
  'GET /manager/assets/manager.css': { none: 'static file' },
  'GET /manager/login': { none: 'the sign-in form' },
  'POST /manager/logout': { none: 'ends the caller\'s own session' },
  'GET /manager/password/:token': { none: 'a one-time link: the token is the credential' },
  'GET /manager/reset': { none: 'the reset form' },
  'GET /manager': { hides: () => '/manager' },
  'GET /manager/clients/:id': { refuse: [(x) => `/manager/clients/${x.c1}`] },
  'POST /manager/clients/:id/contacts/:contactId/invite': { refuse: [(x) => `/manager/clients/${x.c1}/contacts/${x.p1}/invite`, (x) => `/manager/clients/${x.c2}/contacts/${x.p1}/invite`] },
  'POST /manager/clients/:id/impersonate': { refuse: [
    (x) => ({ url: `/manager/clients/${x.c1}/impersonate`, form: { contact: String(x.p1), legalEntity: String(x.le1) } }),
    (x) => ({ url: `/manager/clients/${x.c2}/impersonate`, form: { contact: String(x.p1), legalEntity: String(x.le1) } }),
  ] },
  'GET /manager/orders': { hides: () => '/manager/orders', refuse: [(x) => `/manager/orders?client=${x.c1}`] },
  'GET /manager/orders/:number': { refuse: [(x) => `/manager/orders/${x.order}`] },
  'GET /manager/signups': { none: 'sign-ups of companies that are nobody\'s client yet: every manager may take one (approving makes it theirs)' },
  'POST /manager/signups/:id/:decision': { none: 'sign-ups of companies that are nobody\'s client yet: every manager may take one (approving makes it theirs)' },
  'GET /manager/impersonations': { hides: () => '/manager/impersonations' },
  'GET /manager/clients/:id/credit': { refuse: [(x) => `/manager/clients/${x.c1}/credit`] },
  'POST /manager/clients/:id/credit/terms': { body: true, refuse: [
    (x) => ({ url: `/manager/clients/${x.c1}/credit/terms`, form: { agreement: String(x.agreementA1), limit: '1', delay: '1' } }),
    (x) => ({ url: `/manager/clients/${x.c2}/credit/terms`, form: { agreement: String(x.agreementA1), limit: '1', delay: '1' } }),
  ] },
  'POST /manager/clients/:id/credit/rule': { refuse: [(x) => ({ url: `/manager/clients/${x.c1}/credit/rule`, form: { rule: 'block' } })] },
  'GET /manager/clients/:id/documents': { refuse: [(x) => `/manager/clients/${x.c1}/documents`] },
  'POST /manager/clients/:id/documents': { refuse: [(x) => `/manager/clients/${x.c1}/documents`] },
  'POST /manager/orders/:number/confirm': { refuse: [(x) => `/manager/orders/${x.order}/confirm`] },
  'GET /manager/documents': { hides: () => '/manager/documents' },
  'GET /manager/documents/contracts/:id/file': { refuse: [(x) => `/manager/documents/contracts/${x.contract}/file`] },
  'GET /manager/documents/scans/:id/file': { refuse: [(x) => `/manager/documents/scans/${x.scan}/file`] },
  'GET /manager/documents/order/:id/file': { refuse: [(x) => `/manager/documents/order/${x.orderDoc}/file`] },

  'GET /exchange/onec/:exchange': { refuse: [
    () => '/exchange/onec/matrixa?type=catalog&mode=checkauth',
    (_x, as) => `/exchange/onec/matrixa?type=catalog&mode=init&sessid=${sessid[as]}`,
    // The sale exchange's query hands 1C the portal's orders (the first client's among them).
    (_x, as) => `/exchange/onec/matrixa?type=sale&mode=query&sessid=${sessid[as]}`,
  ] },
  'POST /exchange/onec/:exchange': { refuse: [(_x, as) => ({ url: `/exchange/onec/matrixa?type=catalog&mode=file&filename=import.xml&sessid=${sessid[as]}`, headers: { 'content-type': 'application/xml' } })] },
  'GET /exchange/sap/idoc/:endpoint': { refuse: [() => '/exchange/sap/idoc/matrixa'] },
  'POST /exchange/sap/idoc/:endpoint': { refuse: [() => ({ url: '/exchange/sap/idoc/matrixa', headers: { 'content-type': 'application/xml' } })] },
  'POST /exchange/webhooks/:flow': { refuse: [(_x, as) => ({ url: '/exchange/webhooks/matrix-webhook-a', form: event(as === 'owner' ? SECRETS.MATRIX_BX_A_TOKEN! : SECRETS.MATRIX_BX_B_TOKEN!) })] },
};

const routes = () => [...new Set(registeredRoutes(app).filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`))];

type Answer = Awaited<ReturnType<typeof call>>;

/** What a route answers a caller without its surface's credential. */
function answersNobody(access: Access, method: string, res: Answer): boolean {
  const s = res.statusCode;
  return s < 500 && (
    access === 'public' ? s !== 401 && s !== 403
    : access === 'form' ? s === 403
    : access === 'cabinet' || access === 'manager' || access === 'console'
      ? (method === 'GET' ? (s === 303 || s === 302) && /\/(cabinet|manager|console)\/login/.test(String(res.headers.location)) : s === 303 || s === 401 || s === 403)
    : access === 'onec' ? s === 200 && res.body.startsWith('failure')
    // An unknown flow's webhook is 404, a known one's without its token 401: neither reads the body.
    : access === 'webhook' ? s === 401 || s === 404
    : s === 401);
}

describe('the authorization matrix', () => {
  it('has a row for every route the server registers, and no row for a route that is gone', () => {
    const registered = routes();
    expect(registered.filter((r) => !(r in MATRIX)), 'routes without a row in MATRIX: add one, saying who may call it').toEqual([]);
    expect(Object.keys(MATRIX).filter((r) => !registered.includes(r)), 'rows whose route is gone').toEqual([]);
  });

  it('a protected route refuses nobody, a public one answers nobody; none answers 5xx', async () => {
    const wrong: string[] = [];
    for (const r of routes()) {
      const [method, url] = r.split(' ') as [string, string];
      const res = await call(method, url);
      const access = MATRIX[r]!;
      if (!answersNobody(access, method, res)) wrong.push(`${r} (${access}): ${res.statusCode} ${String(res.headers.location ?? '')} ${res.body.slice(0, 120)}`);
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('a wrong credential, or the other surface\'s, opens neither the admin API nor the portal API', async () => {
    const wrong: string[] = [];
    for (const r of routes()) {
      const access = MATRIX[r]!;
      if (access !== 'admin' && access !== 'portal') continue;
      const [method, url] = r.split(' ') as [string, string];
      const attempts: Array<[string, Record<string, string>]> = [
        ['a wrong bearer', { authorization: 'Bearer wrong-token-0123456789abcdef' }],
        [access === 'admin' ? 'a portal key' : 'the admin token', { authorization: `Bearer ${access === 'admin' ? portalKey : ADMIN}` }],
      ];
      for (const [label, headers] of attempts) {
        const res = await call(method, url, { ...headers, 'x-client-id': 'C1' });
        if (res.statusCode !== 401) wrong.push(`${r} with ${label}: ${res.statusCode} ${res.body.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});

/** Sends a probe with a credential's headers, from a fresh address. */
function send(method: string, p: Probe, credential: Record<string, string>): Promise<Answer> {
  const headers: Record<string, string> = { ...credential, ...p.headers };
  let payload: string | undefined;
  if (p.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(p.form).toString();
  } else if (p.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(p.json);
  }
  return app.inject({ method: method as 'GET', url: p.url, headers, payload, remoteAddress: address() });
}
const probe = (fn: ProbeOf, as: As): Probe => {
  const p = fn(o, as);
  return typeof p === 'string' ? { url: p } : p;
};
const marked = (body: string): string[] => C1_MARKERS.filter((m) => body.includes(m));

describe('another client\'s credential (issue 17)', () => {
  it('has a decision for every route of a surface with clients, and no row for a route that is gone', () => {
    const registered = routes();
    expect(registered.filter((r) => !(r in FOREIGN) && !NO_CLIENT[MATRIX[r]!]), 'routes without a FOREIGN row: say how another client is refused, or why it means nothing').toEqual([]);
    expect(Object.keys(FOREIGN).filter((r) => !registered.includes(r)), 'FOREIGN rows whose route is gone').toEqual([]);
  });

  it('refuses the first client\'s objects to the second client\'s session, key, manager, exchange login or webhook token (403/404, never 200 or 5xx)', async () => {
    const wrong: string[] = [];
    for (const [r, row] of Object.entries(FOREIGN)) {
      if (!('refuse' in row) || !row.refuse) continue;
      const [method] = r.split(' ') as [string];
      const access = MATRIX[r]!;
      for (const fn of row.refuse) {
        const p = probe(fn, 'other');
        const res = await send(method, p, who.other[access]!);
        const s = res.statusCode;
        const refused = access === 'onec' ? s === 200 && res.body.startsWith('failure')
          : access === 'sap' || access === 'webhook' ? s === 401 || s === 403
          : s === 403 || s === 404 || ('body' in row && row.body === true && s === 400);
        if (!refused) wrong.push(`${r} ${p.url} as the other ${access}: ${s} ${res.body.slice(0, 160)}`);
        // The object is real and the owner's credential valid: the owner is served (what makes the refusal mean something).
        if (method === 'GET') {
          const own = await send(method, probe(fn, 'owner'), who.owner[access]!);
          const served = access === 'onec' ? own.statusCode === 200 && !own.body.startsWith('failure') : own.statusCode === 200;
          if (!served) wrong.push(`${r} ${p.url} as the owner ${access}: ${own.statusCode} ${own.body.slice(0, 160)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('lists of one\'s own things show the first client\'s objects to it and none to the second client', async () => {
    const wrong: string[] = [];
    for (const [r, row] of Object.entries(FOREIGN)) {
      if (!('hides' in row)) continue;
      const [method] = r.split(' ') as [string];
      const access = MATRIX[r]!;
      const credential = (as: As) => who[as][access === 'public' ? 'cabinet' : access]!;
      const other = await send(method, probe(row.hides, 'other'), credential('other'));
      if (other.statusCode !== 200 || marked(other.body).length) wrong.push(`${r} as the other: ${other.statusCode} shows ${JSON.stringify(marked(other.body))}`);
      const own = await send(method, probe(row.hides, 'owner'), credential('owner'));
      if (own.statusCode !== 200 || !marked(own.body).length) wrong.push(`${r} as the owner: ${own.statusCode}, shows none of ${JSON.stringify(C1_MARKERS)}`);
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('changed nothing of the first client', async () => {
    const db = f.tp.rt.db;
    expect(await db.selectFrom('saved_carts').select(['name', 'shared']).where('id', '=', o.savedCart).executeTakeFirst()).toEqual({ name: 'Корзина C1 секретная', shared: true });
    expect(await db.selectFrom('orders').select(['status', 'approval']).where('number', '=', o.order).executeTakeFirst()).toEqual({ status: 'new', approval: 'waiting' });
    expect(await db.selectFrom('client_document_scans').select('id').where('document_id', '=', o.contract).execute()).toEqual([{ id: o.scan }]);
    expect(await db.selectFrom('act_requests').select('id').where('legal_entity_id', '=', o.le1).execute()).toEqual([{ id: o.act }]);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM credit_terms WHERE agreement_id = ${o.agreementA1}`.execute(db)).rows[0]!.n).toBe(0);
    expect(await db.selectFrom('impersonations').select('end_reason').where('client_id', '=', o.c1).execute()).toEqual([{ end_reason: 'ended' }]);
    expect(await db.selectFrom('contact_rights').selectAll().where('contact_id', '=', o.p2).execute()).toEqual([]);
    expect(await db.selectFrom('cart_lines').select('contact_id').where('legal_entity_id', '=', o.le1).execute()).toEqual([]);
    expect(await db.selectFrom('orders').select('number').where('legal_entity_id', '=', o.le1).execute()).toEqual([{ number: o.order }]);
  });
});

describe('the admin column', () => {
  it('the admin token opens every admin page and API read', async () => {
    const wrong: string[] = [];
    for (const r of routes()) {
      const [method, url] = r.split(' ') as [string, string];
      if (MATRIX[r] !== 'admin' || method !== 'GET') continue;
      const res = await call(method, url, { authorization: `Bearer ${ADMIN}` });
      if (res.statusCode === 401 || res.statusCode === 403 || res.statusCode >= 500) wrong.push(`${r}: ${res.statusCode} ${res.body.slice(0, 120)}`);
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('neither the admin token nor the dashboard\'s cookie opens the cabinet, the manager workplace or the console', async () => {
    const login = await app.inject({ url: `/admin/queues?token=${ADMIN}`, remoteAddress: address() });
    const dashboardCookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(dashboardCookie).toMatch(/=/);
    const wrong: string[] = [];
    for (const r of routes()) {
      const access = MATRIX[r]!;
      if (access !== 'cabinet' && access !== 'manager' && access !== 'console') continue;
      const [method, url] = r.split(' ') as [string, string];
      const tries: Array<Record<string, string>> = [{ authorization: `Bearer ${ADMIN}` }, { cookie: dashboardCookie }, { 'x-admin-token': ADMIN }];
      for (const headers of tries) {
        const res = await call(method, `${url}${url.includes('?') ? '&' : '?'}token=${ADMIN}`, headers);
        if (!answersNobody(access, method, res)) wrong.push(`${r} with ${Object.keys(headers)[0]}: ${res.statusCode} ${String(res.headers.location ?? '')}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});
