// Flows admin API on a real store: apply YAML and JSON, list, show, pause and resume, and a bad
// flow refused with every problem (path and rule) while nothing is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { apiFixture, captureLogger, type ApiFixture } from './api-fixture.ts';
import { errorHandler } from '../../src/api/error-handler.ts';

const TEST_CONNECTOR = 'file.csv';

let fx: ApiFixture;
beforeAll(async () => { fx = await apiFixture('flows'); });
afterAll(async () => { await fx?.close(); });

const flowYaml = (name: string, extra = '') => `apiVersion: magistral/v1
kind: Flow
name: ${name}
source:
  connector: ${TEST_CONNECTOR}
  options: { delimiter: ";" }
mapping: file/prices.yaml
target: prices
mode: delta
guard: { maxChangeRatio: 0.3 }
${extra}`;

const yaml = (auth: Record<string, string>) => ({ ...auth, 'content-type': 'application/yaml' });

describe('flows admin API', () => {
  it('creates a flow from YAML, then lists and shows it', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: yaml(fx.auth), payload: flowYaml('prices-a') });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toEqual({ applied: [{ name: 'prices-a', action: 'created', version: 1 }] });

    const list = await fx.app.inject({ method: 'GET', url: '/admin/api/flows', headers: fx.auth });
    expect(list.statusCode).toBe(200);
    const [row] = list.json().flows;
    expect(row).toMatchObject({ name: 'prices-a', version: 1, paused: false, connector: TEST_CONNECTOR, target: 'prices', mode: 'delta' });
    expect(new Date(row.updatedAt).getTime()).toBeGreaterThan(0);

    const show = await fx.app.inject({ method: 'GET', url: '/admin/api/flows/prices-a', headers: fx.auth });
    expect(show.statusCode).toBe(200);
    expect(show.json().definition).toMatchObject({
      name: 'prices-a', source: { connector: TEST_CONNECTOR, options: { delimiter: ';' }, system: 'local' }, guard: { maxChangeRatio: 0.3 },
      retry: { attempts: 8, backoff: 'exponential' },
    });
  });

  it('replaces a flow with PUT (JSON body), the version going up only on a change', async () => {
    const show = (await fx.app.inject({ method: 'GET', url: '/admin/api/flows/prices-a', headers: fx.auth })).json();
    const def = { ...show.definition, mode: 'snapshot' };
    let res = await fx.app.inject({ method: 'PUT', url: '/admin/api/flows/prices-a', headers: fx.auth, payload: def });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().applied).toEqual([{ name: 'prices-a', action: 'updated', version: 2 }]);
    res = await fx.app.inject({ method: 'PUT', url: '/admin/api/flows/prices-a', headers: fx.auth, payload: def });
    expect(res.json().applied).toEqual([{ name: 'prices-a', action: 'unchanged', version: 2 }]);
  });

  it('creates with PUT from text/yaml, and refuses a body whose name differs from the path', async () => {
    let res = await fx.app.inject({ method: 'PUT', url: '/admin/api/flows/prices-b', headers: { ...fx.auth, 'content-type': 'text/yaml' }, payload: flowYaml('prices-b') });
    expect(res.statusCode, res.body).toBe(201);
    res = await fx.app.inject({ method: 'PUT', url: '/admin/api/flows/prices-c', headers: yaml(fx.auth), payload: flowYaml('prices-b', 'description: changed') });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'MAG_ERR_BAD_REQUEST', problems: [{ path: '/name', rule: 'const' }] });
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/flows/prices-c', headers: fx.auth })).statusCode).toBe(404);
  });

  it('pauses and resumes a flow', async () => {
    let res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows/prices-a/pause', headers: fx.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'prices-a', paused: true });
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/flows/prices-a', headers: fx.auth })).json().paused).toBe(true);
    res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows/prices-a/resume', headers: fx.auth });
    expect(res.json()).toMatchObject({ name: 'prices-a', paused: false });
    res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows/nope/pause', headers: fx.auth });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('MAG_ERR_FLOW_NOT_FOUND');
  });

  it('refuses a bad flow with every problem and stores nothing, not even the good flow beside it', async () => {
    const bad = `apiVersion: magistral/v1
kind: Flow
name: prices-bad
source:
  connector: no.such.connector
mapping: file/prices.yaml
target: prices
mode: sometimes
guard: { maxChangeRatio: -1 }
colour: blue
`;
    const res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: yaml(fx.auth), payload: `${flowYaml('prices-good')}\n---\n${bad}` });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('MAG_ERR_FLOW_INVALID');
    const found = body.problems.map((p: { path: string; rule: string }) => `${p.path} ${p.rule}`);
    // Schema problems and, where readable, what the flow refers to: all in one answer.
    expect(found.sort()).toEqual(['[1] additionalProperties', '[1]/guard/maxChangeRatio exclusiveMinimum', '[1]/mode enum', '[1]/source/connector connector']);
    expect(body.problems.find((p: { rule: string }) => p.rule === 'additionalProperties').message).toContain('colour');
    for (const p of body.problems) expect(p.message).toEqual(expect.any(String));
    const names = (await fx.app.inject({ method: 'GET', url: '/admin/api/flows', headers: fx.auth })).json().flows.map((f: { name: string }) => f.name);
    expect(names).toEqual(['prices-a', 'prices-b']);
  });

  it('lists an unknown connector and bad connector options as problems', async () => {
    const res = await fx.app.inject({
      method: 'POST', url: '/admin/api/flows', headers: fx.auth,
      payload: [
        { apiVersion: 'magistral/v1', kind: 'Flow', name: 'x-one', source: { connector: 'no.such' }, mapping: 'file/prices.yaml', target: 'prices', mode: 'delta' },
        { apiVersion: 'magistral/v1', kind: 'Flow', name: 'x-two', source: { connector: TEST_CONNECTOR, options: { delimiter: ';;', extra: 1 } }, mapping: 'file/none.yaml', target: 'prices', mode: 'delta' },
      ],
    });
    expect(res.statusCode).toBe(400);
    const paths = res.json().problems.map((p: { path: string; rule: string }) => `${p.path} ${p.rule}`);
    expect(paths).toEqual(expect.arrayContaining([
      '[0]/source/connector connector',
      expect.stringMatching(/^\[1\]\/source\/options\/delimiter enum$/),
      expect.stringMatching(/^\[1\]\/source\/options.* additionalProperties$/),
      expect.stringMatching(/^\[1\]\/mapping/),
    ]));
  });

  it('reports unparseable YAML with its position', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: yaml(fx.auth), payload: 'name: [unclosed\nmode: delta\n' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('MAG_ERR_FLOW_INVALID');
    expect(res.json().problems[0]).toMatchObject({ rule: 'yaml' });
  });
});

describe('request validation errors', () => {
  it('lists every violation with its path and rule', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/admin/api/runs?limit=9999&state=bogus&colour=red', headers: fx.auth });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('MAG_ERR_BAD_REQUEST');
    expect(body.problems).toEqual(expect.arrayContaining([
      { path: '/querystring/limit', rule: 'maximum', message: expect.any(String) },
      { path: '/querystring/state', rule: 'enum', message: expect.stringContaining('"held"') },
      { path: '/querystring/colour', rule: 'additionalProperties', message: expect.any(String) },
    ]));
    expect(body.problems).toHaveLength(3);
  });

  it('validates path parameters and bodies too', async () => {
    let res = await fx.app.inject({ method: 'GET', url: '/admin/api/flows/Not_A_Name', headers: fx.auth });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems).toEqual([{ path: '/params/name', rule: 'pattern', message: expect.any(String) }]);
    res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: { ...fx.auth, 'content-type': 'application/json' }, payload: '"just a string"' });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems[0]).toMatchObject({ path: '/body', rule: 'type' });
    res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: { ...fx.auth, 'content-type': 'application/json' }, payload: '{"broken' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('MAG_ERR_BAD_REQUEST');
    res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: { ...fx.auth, 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(res.statusCode).toBe(415);
    expect(res.json().code).toBe('MAG_ERR_BAD_REQUEST');
  });

  it('answers unknown routes and internal failures in the same format, without internals', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/nowhere?token=secret-value' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'MAG_ERR_BAD_REQUEST', message: 'no route GET /nowhere' });

    // An unexpected error: the client sees a code and the request id; the log holds the details.
    const { log, logs } = captureLogger();
    const app = Fastify({ loggerInstance: log });
    app.setErrorHandler(errorHandler);
    app.get('/boom', async () => { throw new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2'); });
    const boom = await app.inject({ method: 'GET', url: '/boom' });
    expect(boom.statusCode).toBe(500);
    expect(boom.json().code).toBe('MAG_ERR_INTERNAL');
    expect(boom.body).not.toContain('ECONNREFUSED');
    expect(boom.json().message).toBe(`internal error (request ${boom.headers['x-request-id'] ?? 'req-1'}); details are in the server log`);
    expect(logs.text()).toContain('ECONNREFUSED');
    await app.close();
  });
});
