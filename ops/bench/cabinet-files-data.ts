// Store for the cabinet's file benchmarks (price list, quick order) when the 10M-price store of
// bench:api (magistral_bench_api) is not there: its own database `magistral_bench_cabinet_pl`, made
// with set-based SQL (the shape matters here, not the load path, which bench:api measures): 50,000
// products in 10 sections of 5,000 (each with 5 sub-sections), 40 price types → 2,000,000 prices, 3 cities
// with 2 warehouses each and stock for every product, one client with an agreement (price type, 3 %).
import pg from 'pg';
import { createDb, ensureDatabase, migrate, withDefaultUser } from '../../src/db/index.ts';
import { registry } from '../../test/helpers/registry.ts';
import { progress } from './lib.ts';

export const PL_DB_NAME = 'magistral_bench_cabinet_pl';
export const SECTION_PRODUCTS = 5_000;

export async function ensureFilesStore(url: string, rebuild = false): Promise<void> {
  await ensureDatabase(url);
  const c = new pg.Client({ connectionString: withDefaultUser(url) });
  await c.connect();
  try {
    const has = await c.query(`SELECT to_regclass('products') IS NOT NULL AS t`);
    if (has.rows[0].t && !rebuild) {
      const n = await c.query('SELECT count(*)::int AS n FROM products');
      if (n.rows[0].n >= 50_000) return;
    }
  } finally {
    await c.end();
  }
  progress(`building ${url.replace(/.*\//, '')} (50,000 products, 2,000,000 prices)`);
  const d = createDb(url, { max: 2 });
  try {
    await migrate(d.db, registry.migrationSets());
    const sql = `
      TRUNCATE products, groups, prices, stock, warehouses, cities, price_types, units, clients, legal_entities, agreements, product_units CASCADE;
      INSERT INTO units (code, name) VALUES ('pcs', 'pcs'), ('m', 'm');
      INSERT INTO price_types (code, name, currency) SELECT 'PT-' || i, 'Тип цен ' || i, 'RUB' FROM generate_series(1, 40) i;
      INSERT INTO cities (code, name) VALUES ('msk', 'Москва'), ('spb', 'Санкт-Петербург'), ('ekb', 'Екатеринбург');
      UPDATE cities c SET price_type_id = (SELECT id FROM price_types WHERE code = 'PT-' || (SELECT count(*) FROM cities x WHERE x.id <= c.id));
      INSERT INTO warehouses (code, name, city_id) SELECT c.code || '-' || w, c.name || ', склад ' || w, c.id FROM cities c, generate_series(1, 2) w;
      INSERT INTO groups (code, name) SELECT 'sec-' || s, 'Раздел ' || s FROM generate_series(1, 10) s;
      INSERT INTO groups (code, name, parent_id) SELECT 'sec-' || s || '-' || k, 'Подраздел ' || s || '.' || k, g.id
        FROM generate_series(1, 10) s, generate_series(1, 5) k, groups g WHERE g.code = 'sec-' || s;
      INSERT INTO products (code, name, article, barcode, group_id, unit_id)
        SELECT 'SKU-' || lpad(i::text, 6, '0'),
          (ARRAY['Автоматический выключатель', 'Кабель ВВГнг', 'Розетка', 'Лампа светодиодная', 'Светильник'])[1 + i % 5] || ' ' || (i % 97) || 'А модель ' || i,
          'ART-' || lpad(i::text, 6, '0'), (4600000000000 + i)::text,
          (SELECT id FROM groups WHERE code = 'sec-' || (1 + (i - 1) / 5000) || '-' || (1 + i % 5)),
          (SELECT id FROM units WHERE code = CASE WHEN i % 5 = 1 THEN 'm' ELSE 'pcs' END)
        FROM generate_series(1, 50000) i;
      INSERT INTO flows (name, definition) VALUES ('bench-files', '{}') ON CONFLICT DO NOTHING;
      INSERT INTO prices (price_type_id, product_id, value, currency, flow_id, run_id)
        SELECT pt.id, p.id, round((100 + (p.id * 7919 + pt.id * 104729) % 100000) / 7.0, 2), 'RUB', (SELECT id FROM flows WHERE name = 'bench-files'), 0
        FROM price_types pt, products p;
      INSERT INTO stock (warehouse_id, product_id, quantity, flow_id, run_id)
        SELECT w.id, p.id, (p.id * 31 + w.id * 17) % 500, (SELECT id FROM flows WHERE name = 'bench-files'), 0 FROM warehouses w, products p;
      INSERT INTO product_units (product_id, unit, factor) SELECT id, 'box', 10 FROM products WHERE id % 10 = 0;
      INSERT INTO clients (code, name, city_id) SELECT 'CL-1', 'ООО «Бенчмарк»', id FROM cities WHERE code = 'msk';
      INSERT INTO legal_entities (code, client_id, name, inn) SELECT 'LE-1', id, 'ООО «Бенчмарк»', '7704010015' FROM clients WHERE code = 'CL-1';
      INSERT INTO agreements (code, name, client_id, price_type_id, discount_percent, currency)
        SELECT 'AG-1', 'Договор', c.id, pt.id, 3, 'RUB' FROM clients c, price_types pt WHERE c.code = 'CL-1' AND pt.code = 'PT-7';
      ANALYZE;`;
    const c2 = new pg.Client({ connectionString: withDefaultUser(url) });
    await c2.connect();
    try {
      await c2.query(sql);
    } finally {
      await c2.end();
    }
  } finally {
    await d.close();
  }
  progress('store built');
}

/** The bench client's contact (head of its legal entity): who signs in to the cabinet in bench:quick-order. Returns its ids. */
export async function ensureBenchContact(url: string): Promise<{ contactId: number; legalEntityId: number; cityId: number }> {
  const c = new pg.Client({ connectionString: withDefaultUser(url) });
  await c.connect();
  try {
    await c.query(`
      INSERT INTO contacts (code, client_id, name, email) SELECT 'K-1', id, 'Покупатель Бенчмарков', 'bench@example.ru' FROM clients
        WHERE code = 'CL-1' AND NOT EXISTS (SELECT 1 FROM contacts WHERE code = 'K-1');
      INSERT INTO contact_legal_entities (legal_entity_id, contact_id, role, flow_id, run_id)
        SELECT le.id, ct.id, 'head', (SELECT id FROM flows WHERE name = 'bench-files'), 0 FROM legal_entities le, contacts ct
        WHERE le.code = 'LE-1' AND ct.code = 'K-1' ON CONFLICT DO NOTHING;`);
    const r = await c.query(`SELECT ct.id AS contact_id, le.id AS legal_entity_id, cl.city_id FROM contacts ct JOIN clients cl ON cl.id = ct.client_id
      JOIN legal_entities le ON le.client_id = cl.id WHERE ct.code = 'K-1' AND le.code = 'LE-1'`);
    return { contactId: Number(r.rows[0].contact_id), legalEntityId: Number(r.rows[0].legal_entity_id), cityId: r.rows[0].city_id };
  } finally {
    await c.end();
  }
}
