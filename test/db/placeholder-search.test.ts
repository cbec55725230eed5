// Search documents of placeholder products (migration 0043): a placeholder (a code a price or stock row
// named before the catalog described it) gets an empty document, which is never searched; the moment the
// catalog makes it a real product its name, article and group are searchable, whether its name changed
// then or not. Real products are indexed as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';

let t: TestDb;
beforeAll(async () => { t = await createTestDb('phsearch'); }, 60_000);
afterAll(async () => { await t?.drop(); });

/** Codes of the products whose search document matches the words of `q` (as the portal's search reads it). */
const found = async (q: string): Promise<string[]> => (await t.pool.query<{ code: string }>(`
  SELECT p.code FROM product_search ps JOIN products p ON p.id = ps.product_id
  WHERE ps.doc @@ plainto_tsquery('russian', $1) ORDER BY p.code`, [q])).rows.map((r) => r.code);
const doc = async (code: string): Promise<string> =>
  (await t.pool.query<{ d: string }>(`SELECT ps.doc::text AS d FROM product_search ps JOIN products p ON p.id = ps.product_id WHERE p.code = $1`, [code])).rows[0]!.d;

describe('placeholder products in search', () => {
  it('a placeholder gets an empty document; made real, it is found by name, article and group', async () => {
    const g = (await t.pool.query<{ id: number }>(`INSERT INTO groups (code, name) VALUES ('g-lamps', 'Светильники') RETURNING id`)).rows[0]!.id;
    // As a first load inserts them: id, code, name = code, placeholder. Enough of them to pass the
    // trigger's threshold for a large insert.
    await t.pool.query(`INSERT INTO products (id, code, name, placeholder)
      SELECT 900000 + i, 'ph-' || i, 'ph-' || i, true FROM generate_series(1, 10050) i`);
    expect(await doc('ph-1')).toBe('');
    expect(await found('ph')).toEqual([]);
    // A real product inserted beside them is indexed at once.
    await t.pool.query(`INSERT INTO products (code, name, article) VALUES ('real-1', 'Лампа настольная', 'LN-100')`);
    expect(await found('лампа')).toEqual(['real-1']);

    // The catalog completes two placeholders: one renamed, one keeping its name (the code).
    await t.pool.query(`UPDATE products SET name = 'Светильник потолочный', article = 'SP-7', group_id = $1, placeholder = false WHERE code = 'ph-1'`, [g]);
    await t.pool.query(`UPDATE products SET placeholder = false WHERE code = 'ph-2'`);
    expect(await found('светильник потолочный')).toEqual(['ph-1']);
    expect(await found('SP-7')).toEqual(['ph-1']);
    expect(await found('светильники')).toEqual(['ph-1']);
    expect(await doc('ph-2')).not.toBe('');
    expect(await found('ph-2')).toEqual(['ph-2']);
    // The rest are still placeholders, with nothing to search.
    expect(await doc('ph-3')).toBe('');
    // The words of the completed product reach the suggestions' dictionary.
    expect((await t.pool.query(`SELECT word FROM search_words WHERE word IN ('потолочный', 'светильник') ORDER BY word`)).rows.map((r) => r.word))
      .toEqual(['потолочный', 'светильник']);
  });
});
