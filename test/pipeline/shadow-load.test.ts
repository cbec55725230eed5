// A first load into an empty partitioned table goes into a shadow without indexes whose partitions then
// take the live ones' place (src/pipeline/extract/shadow-load.ts): the table must come out as its
// migrations made it (names, bounds, triggers, storage options, indexes), a write that reached the live
// table meanwhile must send the load to staging, and nothing of a shadow may outlive its transaction.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShadow, ShadowConflict } from '../../src/pipeline/extract/shadow-load.ts';
import { createTestPipeline, csv, pricesPicture, stockPicture, type TestPipeline } from '../helpers/pipeline.ts';

/** What a table's partitions are, beyond their rows. */
async function shape(tp: TestPipeline, table: string): Promise<unknown[]> {
  return (await tp.rt.pool.query(`
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound, c.reloptions,
      (SELECT array_agg(pg_get_triggerdef(t.oid) ORDER BY t.tgname) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers,
      (SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY 1) FROM pg_index i WHERE i.indrelid = c.oid) AS indexes,
      (SELECT array_agg(conname || ' ' || pg_get_constraintdef(k.oid) ORDER BY conname) FROM pg_constraint k WHERE k.conrelid = c.oid) AS constraints
    FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = $1::regclass ORDER BY c.relname`, [table])).rows;
}

async function shadows(tp: TestPipeline): Promise<string[]> {
  return (await tp.rt.pool.query(`SELECT relname FROM pg_class WHERE relname ~ '_load_[0-9]+'`)).rows.map((r) => r.relname as string);
}

describe('a first load through a shadow of the table', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('shadow');
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
    await tp.applyFlowFile('ops/flows/stock-csv.yaml');
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('leaves prices and stock as their migrations made them, with the storage options set on a partition', async () => {
    await tp.rt.pool.query('ALTER TABLE prices_p3 SET (fillfactor = 95, autovacuum_vacuum_scale_factor = 0.02)');
    const before = { prices: await shape(tp, 'prices'), stock: await shape(tp, 'stock') };
    expect((before.prices.find((p) => (p as { relname: string }).relname === 'prices_p3') as { reloptions: string[] }).reloptions).toEqual(['fillfactor=95', 'autovacuum_vacuum_scale_factor=0.02']);
    const rows: string[] = [];
    for (const t of ['retail', 'wholesale', 'msk', 'spb', 'ekb']) for (let p = 0; p < 400; p++) rows.push(`S${p};${t};${p + 1}.5;RUB`);
    const run = await tp.ingest('prices-csv', csv('sku;price_type;price;currency', rows), 'prices.csv');
    expect(run.state).toBe('done');
    expect((await tp.rt.pool.query('SELECT load_path FROM runs WHERE id = $1', [run.id])).rows[0].load_path).toBe('direct');
    const stockRows: string[] = [];
    for (const w of ['w1', 'w2', 'w3']) for (let p = 0; p < 300; p++) stockRows.push(`S${p};${w};${p % 7}`);
    const srun = await tp.ingest('stock-csv', csv('sku;warehouse;qty', stockRows), 'stock.csv');
    expect(srun.state).toBe('done');
    expect((await tp.rt.pool.query('SELECT load_path FROM runs WHERE id = $1', [srun.id])).rows[0].load_path).toBe('direct');
    expect({ prices: await shape(tp, 'prices'), stock: await shape(tp, 'stock') }).toEqual(before);
    expect(await shadows(tp)).toEqual([]);
    const picture = await pricesPicture(tp);
    expect(picture).toHaveLength(2000);
    expect(picture).toContain('S399|ekb|400.500000|RUB');
    expect(await stockPicture(tp)).toHaveLength(900);
    // The rows are where the table's own partitioning puts them, and its key holds.
    const misplaced = await tp.rt.pool.query(`SELECT count(*)::int AS n FROM prices p
      WHERE p.tableoid <> (SELECT c.oid FROM pg_class c WHERE c.relname = 'prices_p' || (SELECT r FROM generate_series(0, 15) r
        WHERE satisfies_hash_partition('prices'::regclass, 16, r, p.price_type_id)))`);
    expect(misplaced.rows[0].n).toBe(0);
    await expect(tp.rt.pool.query(`INSERT INTO prices (price_type_id, product_id, value, currency, flow_id, run_id)
      SELECT price_type_id, product_id, value, currency, flow_id, run_id FROM prices LIMIT 1`)).rejects.toMatchObject({ code: '23505' });
    // The partitions' own triggers work: a write behind the bus's back clears the flow's fingerprint.
    expect((await tp.rt.pool.query('SELECT count(*)::int AS n FROM fingerprints WHERE valid')).rows[0].n).toBeGreaterThan(0);
    await tp.rt.pool.query(`UPDATE prices_p3 SET value = value + 1 WHERE product_id = (SELECT min(product_id) FROM prices_p3)`);
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM fingerprints f JOIN flows fl ON fl.id = f.flow_id WHERE fl.name = 'prices-csv' AND f.valid`)).rows[0].n).toBe(0);
  });

  it('finds duplicate keys when it builds the key, and loads through staging: the last row wins', async () => {
    await tp.rt.pool.query('TRUNCATE prices');
    const run = await tp.ingest('prices-csv', csv('sku;price_type;price;currency', ['D1;retail;1;RUB', 'D2;retail;2;RUB', 'D1;retail;3;RUB']), 'dups.csv');
    expect(run.state).toBe('done');
    expect((await tp.rt.pool.query('SELECT load_path FROM runs WHERE id = $1', [run.id])).rows[0].load_path).toBe('staged');
    expect((await pricesPicture(tp)).filter((l) => l.startsWith('D'))).toEqual(['D1|retail|3.000000|RUB', 'D2|retail|2.000000|RUB']);
    expect(await shadows(tp)).toEqual([]);
  });

  it('refuses the swap when the live table got a row meanwhile, and a rollback leaves no shadow', async () => {
    await tp.rt.pool.query('TRUNCATE prices');
    const c = await tp.rt.pool.connect();
    try {
      await c.query('BEGIN');
      const s = (await openShadow(c, 'prices', 999_001))!;
      expect(s.table).toBe('prices_load_999001');
      const pt = (await tp.rt.pool.query(`INSERT INTO price_types (code, name) VALUES ('shadow-pt', 'shadow-pt') RETURNING id`)).rows[0].id;
      const pr = (await tp.rt.pool.query(`INSERT INTO products (code, name) VALUES ('shadow-p', 'shadow-p') RETURNING id`)).rows[0].id;
      const fl = (await tp.rt.pool.query(`SELECT id FROM flows WHERE name = 'prices-csv'`)).rows[0].id;
      await c.query(`INSERT INTO ${s.table} (price_type_id, product_id, value, currency, flow_id, run_id) VALUES ($1, $2, 5, 'RUB', $3, 1)`, [pt, pr, fl]);
      await s.buildIndexes(c);
      // Another connection writes a row to the live table (as nothing of the bus may, without the lock).
      await tp.rt.pool.query(`INSERT INTO prices (price_type_id, product_id, value, currency, flow_id, run_id) VALUES ($1, $2, 7, 'RUB', $3, 1)`, [pt, pr, fl]);
      await expect(s.swap(c)).rejects.toBeInstanceOf(ShadowConflict);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    expect(await shadows(tp)).toEqual([]);
    expect(await pricesPicture(tp)).toEqual(['shadow-p|shadow-pt|7.000000|RUB']);
  });
});

describe('placeholders inserted while a first load is read', () => {
  let tp: TestPipeline;
  const logs: string[] = [];
  beforeAll(async () => {
    tp = await createTestPipeline('early-ph', { log: pino({ level: 'info' }, { write: (l: string) => { logs.push(l); } }) });
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('inserts the catalog met so far between two COPYs, the rest at the end, and loses no row', async () => {
    // 1,500 products under each of 60 price types: every product is met in the first 1,500 rows, then
    // 88,500 rows bring no new product; the last price type brings 200 products more.
    const rows: string[] = [];
    for (let t = 0; t < 60; t++) for (let p = 0; p < 1500; p++) rows.push(`E${p};t${t};${p + t}.25;RUB`);
    for (let p = 1500; p < 1700; p++) rows.push(`E${p};t59;${p}.75;RUB`);
    const run = await tp.ingest('prices-csv', csv('sku;price_type;price;currency', rows), 'early.csv');
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ read: 90_200, inserted: 90_200, rejected: 0 });
    expect((await tp.rt.pool.query('SELECT load_path FROM runs WHERE id = $1', [run.id])).rows[0].load_path).toBe('direct');
    const early = logs.map((l) => JSON.parse(l) as { msg: string; placeholders?: number; atRow?: number }).find((l) => l.msg === 'placeholders inserted while the load was read');
    // 1,500 products and the price types met by then; the 200 late products and the last price types at the end.
    expect(early?.placeholders).toBeGreaterThan(1500);
    expect(early!.placeholders).toBeLessThan(1560);
    expect(early!.atRow).toBeGreaterThanOrEqual(51_500);
    expect(early!.atRow).toBeLessThan(90_000);
    const picture = await pricesPicture(tp);
    expect(picture).toHaveLength(90_200);
    expect(picture).toContain('E1499|t59|1558.250000|RUB');
    expect(picture).toContain('E1699|t59|1699.750000|RUB');
    const ext = await tp.rt.pool.query(`SELECT count(*)::int AS n, count(DISTINCT internal_id)::int AS ids FROM external_ids e JOIN products p ON p.id = e.internal_id AND p.code = e.external_id
      WHERE e.entity = 'product' AND p.placeholder`);
    expect(ext.rows[0]).toEqual({ n: 1700, ids: 1700 });
    // The fingerprint it wrote: the same file again is passed over whole.
    const again = await tp.ingest('prices-csv', csv('sku;price_type;price;currency', rows), 'early.csv');
    expect(again.rows).toMatchObject({ read: 90_200, skipped: 90_200, inserted: 0, updated: 0, removed: 0 });
  });
});
