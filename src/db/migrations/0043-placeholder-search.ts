// A placeholder product (a code a price or stock row named before the catalog described it) is never
// found by search (the portal's search queries skip placeholders), yet it got a full search document:
// its name (the code) through to_tsvector and the GIN index of product_search. bench:ingest, the first
// load's 50,000 placeholders: 0.81 s to insert with the document, 0.28 s without (the GIN insert and the
// ANALYZEs of a large insert were the rest). Now a placeholder's document is empty; it gets its base the
// moment it becomes a real product (placeholder false), whether or not its name changes then.
import { sql, type Kysely } from 'kysely';

const FUNCTION = (placeholderAware: boolean) => sql.raw(`
    CREATE OR REPLACE FUNCTION products_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (SELECT count(*) FROM new_rows${placeholderAware ? ' WHERE NOT placeholder' : ''}) > 10000 THEN
        ANALYZE groups;
        ANALYZE product_search;
      END IF;
      IF TG_OP = 'INSERT' THEN
        INSERT INTO product_search (product_id, base, doc, pri, pop)
        SELECT n.id, b.base, b.base, coalesce(n.search_priority, 0), coalesce(n.popularity, 0)
        FROM new_rows n LEFT JOIN groups g ON g.id = n.group_id,
          LATERAL (SELECT ${placeholderAware ? `CASE WHEN n.placeholder THEN ''::tsvector ELSE search_base_of(n.name, n.article, g.name) END` : 'search_base_of(n.name, n.article, g.name)'} AS base) b
        ON CONFLICT (product_id) DO UPDATE SET base = excluded.base, doc = excluded.base || product_search.props, pri = excluded.pri, pop = excluded.pop;
        PERFORM search_words_add(ARRAY(SELECT n.name || ' ' || coalesce(n.article, '') FROM new_rows n WHERE NOT n.placeholder));
      ELSE
        UPDATE product_search ps SET pri = coalesce(n.search_priority, 0), pop = coalesce(n.popularity, 0)
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE ps.product_id = n.id AND (o.search_priority IS DISTINCT FROM n.search_priority OR o.popularity IS DISTINCT FROM n.popularity);
        UPDATE product_search ps SET base = x.base, doc = x.base || ps.props
        FROM (
          SELECT n.id, ${placeholderAware ? `CASE WHEN n.placeholder THEN ''::tsvector ELSE search_base_of(n.name, n.article, g.name) END` : 'search_base_of(n.name, n.article, g.name)'} AS base
          FROM new_rows n JOIN old_rows o ON o.id = n.id LEFT JOIN groups g ON g.id = n.group_id
          WHERE o.name IS DISTINCT FROM n.name OR o.article IS DISTINCT FROM n.article OR o.group_id IS DISTINCT FROM n.group_id${placeholderAware ? ' OR o.placeholder IS DISTINCT FROM n.placeholder' : ''}
        ) x
        WHERE ps.product_id = x.id;
        IF FOUND THEN
          PERFORM search_words_add(ARRAY(SELECT n.name || ' ' || coalesce(n.article, '') FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE NOT n.placeholder AND (o.name IS DISTINCT FROM n.name OR o.article IS DISTINCT FROM n.article${placeholderAware ? ' OR o.placeholder' : ''})));
        END IF;
      END IF;
      RETURN NULL;
    END $$`);

export async function up(db: Kysely<any>): Promise<void> {
  await FUNCTION(true).execute(db);
  // Placeholders already in the store keep what they had: their documents are never searched, and an
  // UPDATE to rewrite them all would be the cost this migration avoids.
}

export async function down(db: Kysely<any>): Promise<void> {
  await FUNCTION(false).execute(db);
}
