// Lineage benchmark (`npm run bench:lineage`, issue 15: "lineage of one price with 10,000 history rows
// < 50 ms"): one price with BENCH_LINEAGE_CHANGES history rows (default 10,000), each from a run and file
// of its own, among as many rows of BENCH_LINEAGE_NOISE other products of the same price type, in a
// catalog of BENCH_LINEAGE_CATALOG products (default 500,000) with external ids in two systems; then
// BENCH_LINEAGE_ROUNDS calls (default 200) of the service (first page, a deep page, the product's live
// values) and of GET /admin/api/lineage over a real socket. Prints p50/p95 per case; the last line is JSON.
// A scratch database and queue prefix of its own (the test fixture), dropped at the end.
import { sql } from 'kysely';
import { lineageHistory, lineageOverview } from '../../src/pipeline/lineage.ts';
import { apiFixture } from '../../test/api/api-fixture.ts';
import { seedPriceHistory } from '../../test/helpers/lineage.ts';
import { progress } from './lib.ts';

const CHANGES = Number(process.env.BENCH_LINEAGE_CHANGES ?? 10_000);
const NOISE = Number(process.env.BENCH_LINEAGE_NOISE ?? 20);
const ROUNDS = Number(process.env.BENCH_LINEAGE_ROUNDS ?? 200);
/** Other products, each with an external id in two systems: finding the product must not scan them. */
const CATALOG = Number(process.env.BENCH_LINEAGE_CATALOG ?? 500_000);
const TARGET_P95_MS = 50;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2));
};

/** p50/p95 of `fn` over ROUNDS calls, after a few to warm the caches and the plans. */
async function measure(name: string, fn: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 5; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  const r = { p50: pct(ms, 50), p95: pct(ms, 95) };
  progress(`${name}: p50 ${r.p50} ms, p95 ${r.p95} ms (${ROUNDS} calls)`);
  return r;
}

async function main(): Promise<void> {
  const fx = await apiFixture('bench-lineage');
  try {
    let t = performance.now();
    const seeded = await seedPriceHistory(fx.db.pool, { product: 'SKU-BENCH', priceType: 'retail', changes: CHANGES, noiseProducts: NOISE });
    await fx.db.pool.query(`
      WITH p AS (INSERT INTO products (code, name) SELECT 'CAT-' || g, 'CAT-' || g FROM generate_series(1, $1::int) g RETURNING id, code)
      INSERT INTO external_ids (entity, system, external_id, internal_id)
      SELECT 'product', s, CASE s WHEN 'local' THEN code ELSE 'MAT-' || id END, id FROM p CROSS JOIN (VALUES ('local'), ('sap')) v(s)`, [CATALOG]);
    await fx.db.pool.query(`ANALYZE products; ANALYZE external_ids`);
    const rows = Number((await fx.db.pool.query(`SELECT count(*) AS n FROM price_history`)).rows[0].n);
    progress(`seeded ${CHANGES} changes of one price (${rows} history rows in all, ${seeded.runIds.length} runs) and ${CATALOG} other products with ids in 2 systems in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const q = { product: 'SKU-BENCH', priceType: 'retail', limit: 50 };
    const first = await lineageHistory(fx.db.db, q);
    if (first.entries.length !== 50 || !first.nextBefore) throw new Error('the seeded price has no full first page');
    // A cursor deep in the history: the 9,000th newest change (keyset: as cheap as the first page).
    const deepRow = await sql<{ c: string }>`
      SELECT ((extract(epoch FROM at) * 1000000)::numeric(20, 0))::text || '-' || run_id AS c FROM price_history
      WHERE product_id = ${seeded.productId} AND price_type_id = ${seeded.priceTypeId} ORDER BY at DESC, run_id DESC OFFSET ${Math.floor(CHANGES * 0.9)} LIMIT 1`.execute(fx.db.db);
    const deep = deepRow.rows[0]!.c;
    const plan = (await fx.db.pool.query(`EXPLAIN SELECT 1 FROM price_history h WHERE h.product_id = $1 AND h.price_type_id = $2 ORDER BY h.at DESC, h.run_id DESC LIMIT 51`,
      [seeded.productId, seeded.priceTypeId])).rows.map((r) => r['QUERY PLAN'] as string).join(' | ');
    progress(`history page plan: ${plan}`);

    const service = await measure('service, first page of 50', () => lineageHistory(fx.db.db, q));
    const serviceDeep = await measure('service, page at the 9,000th change', () => lineageHistory(fx.db.db, { ...q, before: deep }));
    const service500 = await measure('service, first page of 500', () => lineageHistory(fx.db.db, { ...q, limit: 500 }));
    const overview = await measure('service, live values of the product', () => lineageOverview(fx.db.db, 'SKU-BENCH'));

    const address = await fx.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address}/admin/api/lineage?product=SKU-BENCH&priceType=retail&limit=50`;
    const http = await measure('GET /admin/api/lineage over HTTP, first page of 50', async () => {
      const res = await fetch(url, { headers: fx.auth });
      if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
      await res.json();
    });
    t = performance.now();
    const result = {
      historyRowsOfPrice: CHANGES, historyRows: rows, catalogProducts: CATALOG, rounds: ROUNDS,
      lineageP50Ms: service.p50, lineageP95Ms: service.p95,
      lineageDeepP50Ms: serviceDeep.p50, lineageDeepP95Ms: serviceDeep.p95,
      lineage500P50Ms: service500.p50, lineage500P95Ms: service500.p95,
      overviewP50Ms: overview.p50, overviewP95Ms: overview.p95,
      httpP50Ms: http.p50, httpP95Ms: http.p95,
      targets: {
        lineageP95Ms: { target: `< ${TARGET_P95_MS}`, ok: service.p95 < TARGET_P95_MS },
        httpP95Ms: { target: `< ${TARGET_P95_MS}`, ok: http.p95 < TARGET_P95_MS },
      },
    };
    console.log(JSON.stringify(result));
    if (!result.targets.lineageP95Ms.ok || !result.targets.httpP95Ms.ok) process.exitCode = 1;
  } finally {
    await fx.close();
  }
}

await main();
