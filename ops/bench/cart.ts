// Benchmark of the cabinet's cart pricing: the context bar's total (cartSummary, on every cabinet page)
// and the cart page (cartView, with stock in the city) for carts of 10, 100 and 500 lines, on a store of
// 100,000 products with three price types (quantity tiers on a tenth of the prices), stock in two
// warehouses, and a legal entity buying by agreement with a discount. Prints p50/p95 per case; the last
// line is JSON. Run: `npm run bench:cart` (PostgreSQL at 127.0.0.1:5432, a scratch database it drops).
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import { cartSummary, cartView, type Shopper } from '../../src/cabinet/cart.ts';
import { createDb, dropDatabase, ensureDatabase, migrate } from '../../src/db/index.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import { resolvePricing } from '../../src/portal/pricing.ts';
import { progress } from './lib.ts';

const PRODUCTS = Number(process.env.BENCH_CART_PRODUCTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_CART_ROUNDS ?? 200);
const SIZES = [10, 100, 500];
const base = process.env.TEST_PG_BASE ?? 'postgres://127.0.0.1:5432';
const url = `${base}/magistral_bench_cart_${randomBytes(4).toString('hex')}`;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2));
};

async function main(): Promise<void> {
  await ensureDatabase(url);
  const d = createDb(url, { applicationName: 'magistral-bench-cart' });
  const db = d.db;
  try {
    await migrate(db, new Registry(CONNECTOR_MODULES).migrationSets());
    progress(`filling ${PRODUCTS} products, ${PRODUCTS * 3} prices, ${PRODUCTS * 2} stock rows`);
    await sql`
      INSERT INTO units (code, name, okei) VALUES ('pcs', 'pcs', '796'), ('m', 'm', '006');
      INSERT INTO cities (code, name) VALUES ('msk', 'Москва');
      INSERT INTO price_types (code, name, currency, city_id) SELECT x, x, 'RUB', (SELECT id FROM cities) FROM unnest(ARRAY['retail', 'wholesale', 'dealer']) x;
      UPDATE cities SET price_type_id = (SELECT id FROM price_types WHERE code = 'retail');
      INSERT INTO warehouses (code, name, city_id) SELECT x, x, (SELECT id FROM cities) FROM unnest(ARRAY['W1', 'W2']) x;
    `.execute(db);
    await sql`INSERT INTO products (code, name, unit_id)
      SELECT 'SKU-' || lpad(g::text, 6, '0'), 'Товар ' || g, CASE WHEN g % 4 = 0 THEN 2 ELSE 1 END FROM generate_series(1, ${PRODUCTS}) g`.execute(db);
    await sql`INSERT INTO prices (price_type_id, product_id, value, currency, factor, flow_id, run_id, tiers)
      SELECT pt.id, p.id, round((100 + (p.id * 37 % 9000))::numeric * (1 - pt.id * 0.05), 2), 'RUB', 1, 0, 0,
        CASE WHEN p.id % 10 = 0 THEN jsonb_build_array(jsonb_build_object('minQuantity', '10', 'price', round((90 + (p.id * 37 % 9000))::numeric, 2)::text)) END
      FROM products p CROSS JOIN price_types pt`.execute(db);
    await sql`INSERT INTO stock (warehouse_id, product_id, quantity, flow_id, run_id)
      SELECT w.id, p.id, p.id % 50, 0, 0 FROM products p CROSS JOIN warehouses w`.execute(db);
    await sql`
      INSERT INTO clients (code, name, city_id) VALUES ('C1', 'Клиент', (SELECT id FROM cities));
      INSERT INTO contacts (code, client_id, name) VALUES ('K1', (SELECT id FROM clients), 'Покупатель');
      INSERT INTO legal_entities (code, client_id, name) SELECT 'LE' || s, (SELECT id FROM clients), 'Юрлицо ' || s FROM unnest(ARRAY[10, 100, 500]) s;
      INSERT INTO contact_legal_entities (legal_entity_id, contact_id, role, flow_id, run_id) SELECT id, (SELECT id FROM contacts), 'head', 0, 0 FROM legal_entities;
      INSERT INTO agreements (code, name, client_id, price_type_id, discount_percent) VALUES ('A1', 'Договор', (SELECT id FROM clients), (SELECT id FROM price_types WHERE code = 'dealer'), 3.5);
    `.execute(db);
    await sql`ANALYZE`.execute(db);

    const contact = Number((await sql<{ id: string }>`SELECT id::text FROM contacts`.execute(db)).rows[0]!.id);
    const client = Number((await sql<{ id: string }>`SELECT id::text FROM clients`.execute(db)).rows[0]!.id);
    const city = Number((await sql<{ id: string }>`SELECT id::text FROM cities`.execute(db)).rows[0]!.id);
    const results: Record<string, number> = {};
    for (const size of SIZES) {
      const le = Number((await sql<{ id: string }>`SELECT id::text FROM legal_entities WHERE code = ${`LE${size}`}`.execute(db)).rows[0]!.id);
      // Lines spread over the catalog (random products), quantities whole so every line is orderable.
      await sql`INSERT INTO cart_lines (contact_id, legal_entity_id, product_id, quantity)
        SELECT ${contact}, ${le}, id, 1 + id % 25 FROM products ORDER BY md5(id::text) LIMIT ${size}`.execute(db);
      const who: Shopper = { contactId: contact, clientId: client, legalEntityId: le, cityId: city, pricing: await resolvePricing(db, { clientId: client, legalEntityId: le, cityId: city }) };
      for (const [name, fn] of [['summary', () => cartSummary(db, who)], ['view', () => cartView(db, who)]] as const) {
        for (let i = 0; i < 20; i++) await fn();
        const times: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          const t = performance.now();
          await fn();
          times.push(performance.now() - t);
        }
        const p50 = pct(times, 50);
        const p95 = pct(times, 95);
        console.log(`${name.padEnd(8)} ${String(size).padStart(4)} lines: p50 ${p50} ms, p95 ${p95} ms (${ROUNDS} rounds)`);
        results[`${name}${size}P95Ms`] = p95;
      }
    }
    console.log(JSON.stringify({ products: PRODUCTS, ...results }));
  } finally {
    await d.close();
    await dropDatabase(url);
  }
}

await main();
