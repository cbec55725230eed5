// Catalog flows completing placeholders, paused flows, the inbox's durability and limits, and a
// windows-1251 export with Cyrillic codes — all through the real pipeline.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, csv, stockPicture, type TestPipeline } from '../helpers/pipeline.ts';
import { receivePayload } from '../../src/pipeline/receive.ts';
import { setFlowPaused, parseFlowFile } from '../../src/pipeline/flows.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { MagistralError } from '../../src/errors/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { registry } from '../helpers/registry.ts';

describe('catalog, inbox and paused flows', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('catalog');
    for (const f of ['prices-csv', 'stock-csv', 'products-csv']) await tp.applyFlowFile(`ops/flows/${f}.yaml`);
    await tp.rt.pool.query(`UPDATE flows SET definition = definition - 'guard'`);
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('a catalog flow completes the placeholder a price flow created, keeping its id', async () => {
    await tp.ingest('prices-csv', csv('sku;price_type;price;currency', ['C-1;retail;10;RUB']));
    const ph = (await tp.rt.pool.query(`SELECT id, name, placeholder FROM products WHERE code = 'C-1'`)).rows[0];
    expect(ph).toMatchObject({ name: 'C-1', placeholder: true });

    const run = await tp.ingest('products-csv', csv('sku;name;article;group;unit', [
      'C-1;Кабель ВВГнг 3x2,5;VVG-325;cables;M',
      'C-2;Автомат 16А;;breakers;pcs',
    ]));
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ read: 2, inserted: 1, updated: 1 });
    const rows = (await tp.rt.pool.query(`
      SELECT p.id, p.code, p.name, p.article, p.placeholder, g.code AS grp, u.code AS unit
      FROM products p LEFT JOIN groups g ON g.id = p.group_id LEFT JOIN units u ON u.id = p.unit_id ORDER BY p.code`)).rows;
    expect(rows).toEqual([
      { id: ph.id, code: 'C-1', name: 'Кабель ВВГнг 3x2,5', article: 'VVG-325', placeholder: false, grp: 'cables', unit: 'm' },
      { id: expect.any(Number), code: 'C-2', name: 'Автомат 16А', article: null, placeholder: false, grp: 'breakers', unit: 'pcs' },
    ]);
    // The groups it referred to exist as placeholders until a group flow names them.
    const groups = (await tp.rt.pool.query(`SELECT code, placeholder FROM groups ORDER BY code`)).rows;
    expect(groups).toEqual([{ code: 'breakers', placeholder: true }, { code: 'cables', placeholder: true }]);

    const again = await tp.ingest('products-csv', csv('sku;name;article;group;unit', ['C-1;Кабель ВВГнг 3x2,5;VVG-325;cables;M']));
    expect(again.rows).toMatchObject({ inserted: 0, updated: 0, unchanged: 1 });
  });

  it('refuses a snapshot flow for a catalog entity, naming the rule', async () => {
    const yaml = `apiVersion: magistral/v1
kind: Flow
name: products-snap
source: { connector: file.csv }
mapping: file/products.yaml
target: products
mode: snapshot
`;
    const err = await parseFlowFile(yaml, 'products-snap.yaml', registry).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MagistralError);
    expect((err as MagistralError).problems).toEqual([expect.objectContaining({ path: '/mode', rule: 'snapshot-target' })]);
  });

  it('stores the payload with its sha256 before acknowledging, and keeps it for replays', async () => {
    const body = csv('sku;warehouse;qty', ['I-1;MSK;1']);
    const runId = await tp.send('stock-csv', body, 'inbox.csv');
    const inbox = (await tp.rt.pool.query(`SELECT i.* FROM inbox i JOIN runs r ON i.id = ANY(r.inbox_ids) WHERE r.id = $1`, [runId])).rows;
    expect(inbox).toHaveLength(1);
    expect(inbox[0].file_name).toBe('inbox.csv');
    expect(inbox[0].size_bytes).toBe(Buffer.byteLength(body));
    expect(inbox[0].sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(path.resolve(inbox[0].path).startsWith(path.resolve(tp.dataDir))).toBe(true);
    expect(await readFile(inbox[0].path, 'utf8')).toBe(body);
    await waitForRun(tp.rt.db, runId);
  });

  it('refuses a payload over the limit and keeps nothing of it', async () => {
    const small = { ...tp.rt, config: loadConfig({ ...tp.env, MAGISTRAL_MAX_PAYLOAD_BYTES: '2048' }) };
    const runsBefore = (await tp.rt.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n;
    const filesBefore = await listFiles(tp.dataDir);
    const big = Buffer.alloc(10_000, 'a');
    const err = await receivePayload(small, { flow: 'stock-csv', files: [{ fileName: 'big.csv', body: Readable.from([big]) }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MagistralError);
    expect((err as MagistralError).code).toBe('MAG_ERR_PAYLOAD_TOO_LARGE');
    expect((err as MagistralError).message).toContain('big.csv');
    expect((await tp.rt.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n).toBe(runsBefore);
    expect(await listFiles(tp.dataDir)).toEqual(filesBefore);
  });

  it('a paused flow receives payloads but processes them only after resume', async () => {
    await setFlowPaused(tp.rt.db, 'stock-csv', true);
    const runId = await tp.send('stock-csv', csv('sku;warehouse;qty', ['Z-1;MSK;3']));
    await new Promise((r) => setTimeout(r, 1000));
    expect((await tp.rt.pool.query('SELECT state FROM runs WHERE id = $1', [runId])).rows[0].state).toBe('received');
    await setFlowPaused(tp.rt.db, 'stock-csv', false);
    const run = await waitForRun(tp.rt.db, runId, { timeoutMs: 20_000 });
    expect(run.state).toBe('done');
  });

  it('reads a windows-1251 export with Cyrillic codes', async () => {
    const text = csv('sku;warehouse;qty', ['Я-1;Склад Москва;5', 'Я-2;Склад Санкт-Петербург;7,5']);
    const run = await tp.ingest('stock-csv', iconv.encode(text, 'win1251'), 'остатки.csv');
    expect(run.state).toBe('done');
    expect(run.files).toEqual(['остатки.csv']);
    const pic = await stockPicture(tp);
    expect(pic).toEqual(['Я-1|Склад Москва|5.000000', 'Я-2|Склад Санкт-Петербург|7.500000']);
    const wh = (await tp.rt.pool.query(`SELECT code, name, placeholder FROM warehouses WHERE code LIKE 'Склад%' ORDER BY code`)).rows;
    expect(wh).toEqual([
      { code: 'Склад Москва', name: 'Склад Москва', placeholder: true },
      { code: 'Склад Санкт-Петербург', name: 'Склад Санкт-Петербург', placeholder: true },
    ]);
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out.sort();
}
