// The authorization matrix (issue 17): every route the server registers has a row here saying who may call
// it, and the test calls each route as nobody, with a wrong credential and with the other surface's
// credential. A protected route must refuse (and never answer 5xx); a public one must answer without a
// credential. A route added without its row fails the first test, so no route is ever exposed by accident.
// Each request comes from its own address: the login throttle (5 failures per address) must not mask
// what the route itself answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { registeredRoutes } from '../../src/api/server.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';

type Access =
  | 'public' // anyone: answers without a credential (never 401/403, never 5xx) — the guest catalog and price lists too
  | 'form' // a public form (sign-in, registration, reset): its POST needs the page's CSRF token, refused 403 without
  | 'admin' // the admin bearer token (/admin/api, /admin/queues)
  | 'portal' // a portal API key
  | 'cabinet' // a buyer's session (pages: a redirect to the sign-in, forms: refused)
  | 'manager' // a manager's session
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

beforeAll(async () => {
  f = await cabinetFixture('authmatrix', { env: { MAGISTRAL_ADMIN_TOKEN: ADMIN } });
  app = f.app;
  portalKey = (await createApiKey(f.tp.rt.db, { name: 'matrix', scopes: ['catalog:read', 'prices:read', 'stock:read', 'orders:read', 'orders:write', 'clients:read'] })).key;
}, 120_000);
afterAll(async () => {
  await f?.close();
});

const routes = () => [...new Set(registeredRoutes(app).filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`))];

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
      const s = res.statusCode;
      const access = MATRIX[r]!;
      const ok = s < 500 && (
        access === 'public' ? s !== 401 && s !== 403
        : access === 'form' ? s === 403
        : access === 'cabinet' || access === 'manager' ? (method === 'GET' ? (s === 303 || s === 302) && /\/(cabinet|manager)\/login/.test(String(res.headers.location)) : s === 303 || s === 401 || s === 403)
        : access === 'onec' ? s === 200 && res.body.startsWith('failure')
        // An unknown flow's webhook is 404, a known one's without its token 401: neither reads the body.
        : access === 'webhook' ? s === 401 || s === 404
        : s === 401);
      if (!ok) wrong.push(`${r} (${access}): ${s} ${String(res.headers.location ?? '')} ${res.body.slice(0, 120)}`);
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
