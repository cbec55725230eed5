// A long price history made by SQL in one go (lineage tests and bench:lineage): one flow, one run per
// change with its own inbox file, the history rows those runs would have written, and the live price.
import type pg from 'pg';

export interface SeededHistory {
  productId: number;
  priceTypeId: number;
  flowId: number;
  /** Run ids, oldest first (run i brought value i + 1 from line i + 2 of its file). */
  runIds: number[];
}

/**
 * `changes` history rows for (product, priceType): an insert, then updates 1 → 2 → … each from a run of its
 * own a minute apart; `noiseProducts` other products get as many changes of the same price type, so the
 * history is not one key only (the index must find the key among the others).
 */
export async function seedPriceHistory(
  pool: Pick<pg.Pool, 'query'>, opts: { product: string; priceType: string; changes: number; noiseProducts?: number; flow?: string },
): Promise<SeededHistory> {
  const one = async <T>(text: string, values: unknown[]): Promise<T> => (await pool.query(text, values)).rows[0] as T;
  const flowName = opts.flow ?? 'seeded-prices';
  const flow = await one<{ id: number }>(`INSERT INTO flows (name, definition) VALUES ($1, $2) RETURNING id`, [flowName, { name: flowName, target: 'prices' }]);
  const pt = await one<{ id: number }>(`INSERT INTO price_types (code, name, currency) VALUES ($1, $1, 'RUB') RETURNING id`, [opts.priceType]);
  const noise = opts.noiseProducts ?? 0;
  const products = (await pool.query<{ id: string }>(`
    WITH p AS (INSERT INTO products (code, name) SELECT c, c FROM unnest($1::text[]) WITH ORDINALITY u(c, n) ORDER BY n RETURNING id, code)
    SELECT id FROM p ORDER BY id`, [[opts.product, ...Array.from({ length: noise }, (_, i) => `${opts.product}-noise-${i + 1}`)]])).rows.map((r) => Number(r.id));
  const productId = products[0]!;
  await pool.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) VALUES ('product', 'local', $1, $2), ('priceType', 'local', $3, $4)`,
    [opts.product, productId, opts.priceType, pt.id]);
  // One inbox file and one run per change, a minute apart, ending now.
  const runs = await pool.query<{ id: string }>(`
    WITH f AS (
      INSERT INTO inbox (flow_id, file_name, path, sha256, size_bytes, received_at)
      SELECT $1, 'prices-' || g || '.csv', '/inbox/prices-' || g || '.csv', repeat('0', 64), 100, now() - ($2 - g) * interval '1 minute'
      FROM generate_series(1, $2) g ORDER BY g
      RETURNING id, received_at
    )
    INSERT INTO runs (flow_id, inbox_ids, state, mode, target, received_at, staged_at, finished_at)
    SELECT $1, ARRAY[id], 'done', 'delta', 'prices', received_at, received_at, received_at + interval '1 second' FROM f ORDER BY id
    RETURNING id`, [flow.id, opts.changes]);
  const runIds = runs.rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  await pool.query(`
    INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value, new_value, inbox_id, line, at)
    SELECT r.id, $1, p.id, CASE WHEN r.n = 1 THEN 'I' ELSE 'U' END, CASE WHEN r.n > 1 THEN r.n - 1 END, r.n, r.inbox_ids[1], r.n + 1, r.finished_at
    FROM (SELECT id, inbox_ids, finished_at, row_number() OVER (ORDER BY id) AS n FROM runs WHERE id = ANY($2::bigint[])) r
    CROSS JOIN unnest($3::bigint[]) p(id)`, [pt.id, runIds, products]);
  await pool.query(`
    INSERT INTO prices (price_type_id, product_id, value, currency, flow_id, run_id)
    SELECT $1, p.id, $2, 'RUB', $3, $4 FROM unnest($5::bigint[]) p(id)`, [pt.id, opts.changes, flow.id, runIds[runIds.length - 1], products]);
  await pool.query(`ANALYZE price_history; ANALYZE runs; ANALYZE inbox`);
  return { productId, priceTypeId: pt.id, flowId: flow.id, runIds };
}
