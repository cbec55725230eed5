// Catalog and search: product properties as merged targets (properties are dimensions with external
// ids, values and product values keyed rows with flow and run), product ranking columns, and search
// on PostgreSQL alone — a russian tsvector per product kept current by triggers, a word list for
// typo and keyboard-layout correction (pg_trgm), and synonyms a flow fills.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE EXTENSION IF NOT EXISTS pg_trgm;

    -- Properties are identified like every other entity: through external_ids per source system
    -- (the same code may come from two systems), created as placeholders when a product names one first.
    ALTER TABLE properties DROP CONSTRAINT IF EXISTS properties_code_key;
    -- suggest: autocomplete offers the property's values (brands, series) as suggestions.
    ALTER TABLE properties
      ADD COLUMN suggest     boolean NOT NULL DEFAULT false,
      ADD COLUMN placeholder boolean NOT NULL DEFAULT false,
      ADD COLUMN created_at  timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now();
    CREATE INDEX properties_code ON properties(code);

    -- Reference dictionaries (1C Справочник values): a value code unique per property.
    ALTER TABLE property_values
      ADD COLUMN flow_id    integer,
      ADD COLUMN run_id     bigint,
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

    -- A product's value of a property: the literal, or the value code of a reference property (value_id
    -- links the dictionary entry when it is known; removing a dictionary entry keeps the product's code).
    -- Several values per property are allowed (multi-select properties), so the value is part of the key.
    UPDATE product_properties pp SET value = pv.code FROM property_values pv WHERE pp.value IS NULL AND pv.id = pp.value_id;
    DELETE FROM product_properties WHERE value IS NULL;
    ALTER TABLE product_properties DROP CONSTRAINT product_properties_pkey;
    ALTER TABLE product_properties DROP CONSTRAINT IF EXISTS product_properties_value_id_fkey;
    ALTER TABLE product_properties
      ALTER COLUMN value SET NOT NULL,
      ADD PRIMARY KEY (product_id, property_id, value),
      ADD CONSTRAINT product_properties_value_id_fkey FOREIGN KEY (value_id) REFERENCES property_values(id) ON DELETE SET NULL,
      ADD COLUMN flow_id    integer,
      ADD COLUMN run_id     bigint,
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
    -- Filters (property = value → products) and linking late dictionary entries read this; facets read
    -- the primary key. product_id is included, not a key column: with stale statistics (a first load,
    -- still in its transaction) the planner would otherwise scan this whole index for one product's rows.
    CREATE INDEX product_properties_value ON product_properties(property_id, value) INCLUDE (product_id);

    -- Ranking: popularity (orders, views: whatever a flow reports) and a configured search priority.
    -- NULL means "never set"; readers take it as 0, and a flow without the field keeps the stored value.
    ALTER TABLE products
      ADD COLUMN image_url       text,
      ADD COLUMN popularity      bigint,
      ADD COLUMN search_priority integer,
      ADD COLUMN facets          bigint[] NOT NULL DEFAULT '{}';

    -- Facet keys: one per (property, value) met in product_properties, the property's id in the high
    -- 32 bits. products.facets holds a product's keys (kept by the trigger below), so the catalog
    -- filters with an array overlap and counts facets by unnesting the filtered rows' arrays: no join
    -- with product_properties per request, and the property of a key is key >> 32.
    CREATE SEQUENCE facet_key_seq;
    CREATE TABLE facet_keys (
      key         bigint PRIMARY KEY,
      property_id bigint NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
      value       text NOT NULL,
      UNIQUE (property_id, value)
    );
    -- With two or more property filters a row that can count anywhere (failing at most one filter)
    -- matches at least one of any two of them: the catalog narrows its base through this index.
    CREATE INDEX products_facets ON products USING gin (facets);
    -- Exact search by article (case-insensitive, also prefix for autocomplete) and by barcode.
    CREATE INDEX products_article ON products (lower(article) text_pattern_ops) WHERE article IS NOT NULL;
    CREATE INDEX products_barcode ON products (barcode) WHERE barcode IS NOT NULL;

    -- The search document of each product, beside products so that the catalog's scans of products
    -- stay narrow and search updates do not bloat it. doc = base || props: base holds name and article
    -- (weight A) and the group's name (B), props the property values (C); each is recomputed only when
    -- its sources change, set-based, by the statement triggers below.
    -- pri and pop copy the product's search priority and popularity, so autocomplete ranks the
    -- matches of a prefix here and reads products and prices for its best few only.
    CREATE TABLE product_search (
      product_id bigint PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
      base       tsvector NOT NULL DEFAULT '',
      props      tsvector NOT NULL DEFAULT '',
      doc        tsvector NOT NULL DEFAULT '',
      pri        integer NOT NULL DEFAULT 0,
      pop        bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX product_search_doc ON product_search USING gin (doc);

    -- Every word of the searchable texts: typo correction finds the nearest ones by trigram distance,
    -- autocomplete completes the last word by prefix (C collation: a plain btree serves LIKE 'pre%').
    CREATE TABLE search_words (word text COLLATE "C" PRIMARY KEY);
    CREATE INDEX search_words_trgm ON search_words USING gist (word gist_trgm_ops);

    -- Synonyms: a term and its equivalents. keys holds the stemmed form of each, so a query word in any
    -- inflection finds its group.
    CREATE TABLE synonyms (
      term       text PRIMARY KEY,
      synonyms   text[] NOT NULL,
      keys       text[] NOT NULL DEFAULT '{}',
      flow_id    integer,
      run_id     bigint,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX synonyms_keys ON synonyms USING gin (keys);

    CREATE FUNCTION search_norm(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
      $$ SELECT replace(lower(coalesce(t, '')), 'ё', 'е') $$;

    -- The stems of a phrase in order, space-separated: what synonyms and queries are compared by.
    CREATE FUNCTION search_key(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT coalesce(string_agg(lexeme, ' ' ORDER BY pos), '')
      FROM (SELECT lexeme, positions[1] AS pos FROM unnest(to_tsvector('russian'::regconfig, search_norm(t)))) x
    $$;

    -- Set-based maintenance, one statement per merge statement (never a query per row: at 50,000 rows
    -- that costs seconds of planning and lookups). A large change first refreshes the statistics of
    -- the tables it joins, which may still say "empty" right after a first load: a nested loop planned
    -- on that would be quadratic.
    CREATE FUNCTION search_base_of(name text, article text, group_name text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT setweight(to_tsvector('russian'::regconfig, replace(lower(name || ' ' || coalesce(article, '')), 'ё', 'е')), 'A')
          || setweight(to_tsvector('russian'::regconfig, replace(lower(coalesce(group_name, '')), 'ё', 'е')), 'B')
    $$;

    -- Words of texts into search_words, in sorted order so concurrent merges lock keys in the same order.
    CREATE FUNCTION search_words_add(texts text[]) RETURNS void LANGUAGE sql AS $$
      INSERT INTO search_words (word)
      SELECT DISTINCT w FROM unnest(texts) t, regexp_split_to_table(replace(lower(t), 'ё', 'е'), '[^0-9a-zа-я]+') w
      WHERE length(w) BETWEEN 2 AND 40 AND w !~ '^[0-9]+$'
      ORDER BY 1
      ON CONFLICT DO NOTHING
    $$;

    -- New products get their document; renamed, re-articled or regrouped ones get a new base.
    -- (Transition tables admit no column list: an update compares old and new rows itself.)
    CREATE FUNCTION products_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (SELECT count(*) FROM new_rows) > 10000 THEN
        ANALYZE groups;
        ANALYZE product_search;
      END IF;
      IF TG_OP = 'INSERT' THEN
        INSERT INTO product_search (product_id, base, doc, pri, pop)
        SELECT n.id, b.base, b.base, coalesce(n.search_priority, 0), coalesce(n.popularity, 0)
        FROM new_rows n LEFT JOIN groups g ON g.id = n.group_id, LATERAL (SELECT search_base_of(n.name, n.article, g.name) AS base) b
        ON CONFLICT (product_id) DO UPDATE SET base = excluded.base, doc = excluded.base || product_search.props, pri = excluded.pri, pop = excluded.pop;
        PERFORM search_words_add(ARRAY(SELECT n.name || ' ' || coalesce(n.article, '') FROM new_rows n WHERE NOT n.placeholder));
      ELSE
        UPDATE product_search ps SET pri = coalesce(n.search_priority, 0), pop = coalesce(n.popularity, 0)
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE ps.product_id = n.id AND (o.search_priority IS DISTINCT FROM n.search_priority OR o.popularity IS DISTINCT FROM n.popularity);
        UPDATE product_search ps SET base = x.base, doc = x.base || ps.props
        FROM (
          SELECT n.id, search_base_of(n.name, n.article, g.name) AS base
          FROM new_rows n JOIN old_rows o ON o.id = n.id LEFT JOIN groups g ON g.id = n.group_id
          WHERE o.name IS DISTINCT FROM n.name OR o.article IS DISTINCT FROM n.article OR o.group_id IS DISTINCT FROM n.group_id
        ) x
        WHERE ps.product_id = x.id;
        IF FOUND THEN
          PERFORM search_words_add(ARRAY(SELECT n.name || ' ' || coalesce(n.article, '') FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE NOT n.placeholder AND (o.name IS DISTINCT FROM n.name OR o.article IS DISTINCT FROM n.article)));
        END IF;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER products_search_ins AFTER INSERT ON products REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION products_search();
    CREATE TRIGGER products_search_upd AFTER UPDATE ON products REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION products_search();

    -- A product's properties changed: recompute the facet keys and the searchable props of those
    -- products (boolean values are facets but not searchable).
    CREATE FUNCTION product_properties_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (SELECT count(*) FROM changed_rows) > 10000 THEN
        ANALYZE product_properties;
        ANALYZE product_search;
        ANALYZE facet_keys;
        ANALYZE products;
      END IF;
      IF TG_OP <> 'DELETE' THEN
        INSERT INTO facet_keys (key, property_id, value)
        SELECT (x.property_id << 32) | nextval('facet_key_seq'), x.property_id, x.value
        FROM (SELECT DISTINCT property_id, value FROM changed_rows) x
        WHERE NOT EXISTS (SELECT 1 FROM facet_keys f WHERE f.property_id = x.property_id AND f.value = x.value)
        ORDER BY 2, 3
        ON CONFLICT DO NOTHING;
      END IF;
      UPDATE products p SET facets = x.keys
      FROM (
        SELECT a.id, coalesce(array_agg(fk.key ORDER BY fk.key) FILTER (WHERE fk.key IS NOT NULL), '{}') AS keys
        FROM (SELECT DISTINCT product_id AS id FROM changed_rows) a
        LEFT JOIN product_properties pp ON pp.product_id = a.id
        LEFT JOIN facet_keys fk ON fk.property_id = pp.property_id AND fk.value = pp.value
        GROUP BY a.id
      ) x
      WHERE p.id = x.id AND p.facets IS DISTINCT FROM x.keys;
      UPDATE product_search ps SET props = x.props, doc = ps.base || x.props
      FROM (
        SELECT a.id, setweight(to_tsvector('russian'::regconfig, replace(lower(coalesce(
                 string_agg(CASE WHEN pr.value_type <> 'boolean' THEN coalesce(pv.value, pp.value) END, ' '), '')), 'ё', 'е')), 'C') AS props
        FROM (SELECT DISTINCT product_id AS id FROM changed_rows) a
        LEFT JOIN product_properties pp ON pp.product_id = a.id
        LEFT JOIN properties pr ON pr.id = pp.property_id
        LEFT JOIN property_values pv ON pv.id = pp.value_id
        GROUP BY a.id
      ) x
      WHERE ps.product_id = x.id AND ps.props IS DISTINCT FROM x.props;
      IF TG_OP <> 'DELETE' THEN
        PERFORM search_words_add(ARRAY(SELECT DISTINCT n.value FROM changed_rows n WHERE n.value_id IS NULL));
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER product_properties_search_ins AFTER INSERT ON product_properties REFERENCING NEW TABLE AS changed_rows
      FOR EACH STATEMENT EXECUTE FUNCTION product_properties_search();
    CREATE TRIGGER product_properties_search_upd AFTER UPDATE ON product_properties REFERENCING NEW TABLE AS changed_rows
      FOR EACH STATEMENT EXECUTE FUNCTION product_properties_search();
    CREATE TRIGGER product_properties_search_del AFTER DELETE ON product_properties REFERENCING OLD TABLE AS changed_rows
      FOR EACH STATEMENT EXECUTE FUNCTION product_properties_search();

    -- Dictionary entries arriving after the products that use their codes are linked to them; a renamed
    -- entry is touched on its products' rows. Either way the trigger above refreshes those products.
    CREATE FUNCTION property_values_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE product_properties pp SET value_id = n.id
      FROM new_rows n WHERE pp.property_id = n.property_id AND pp.value = n.code AND pp.value_id IS DISTINCT FROM n.id;
      IF TG_OP = 'UPDATE' THEN
        UPDATE product_properties pp SET updated_at = now()
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.value IS DISTINCT FROM n.value AND pp.property_id = n.property_id AND pp.value = n.code;
      END IF;
      PERFORM search_words_add(ARRAY(SELECT n.value FROM new_rows n));
      RETURN NULL;
    END $$;
    CREATE TRIGGER property_values_search_ins AFTER INSERT ON property_values REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION property_values_search();
    CREATE TRIGGER property_values_search_upd AFTER UPDATE ON property_values REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION property_values_search();

    -- A renamed group gives its products a new base.
    CREATE FUNCTION groups_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        UPDATE product_search ps SET base = y.base, doc = y.base || ps.props
        FROM (
          SELECT p.id, search_base_of(p.name, p.article, x.name) AS base
          FROM (SELECT n.id, n.name FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.name IS DISTINCT FROM n.name) x
          JOIN products p ON p.group_id = x.id
        ) y
        WHERE ps.product_id = y.id;
      END IF;
      PERFORM search_words_add(ARRAY(SELECT n.name FROM new_rows n WHERE NOT n.placeholder));
      RETURN NULL;
    END $$;
    CREATE TRIGGER groups_search_ins AFTER INSERT ON groups REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION groups_search();
    CREATE TRIGGER groups_search_upd AFTER UPDATE ON groups REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION groups_search();

    CREATE FUNCTION synonyms_keys() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.keys := ARRAY(SELECT DISTINCT k FROM unnest(NEW.term || NEW.synonyms) t, search_key(t) k WHERE k <> '');
      RETURN NEW;
    END $$;
    CREATE TRIGGER synonyms_keys BEFORE INSERT OR UPDATE ON synonyms FOR EACH ROW EXECUTE FUNCTION synonyms_keys();
    -- Synonyms are words a query may hold even when no product text does: correct typos towards them too.
    CREATE FUNCTION synonyms_words() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM search_words_add(ARRAY(SELECT t FROM new_rows n, unnest(n.term || n.synonyms) t));
      RETURN NULL;
    END $$;
    CREATE TRIGGER synonyms_words_ins AFTER INSERT ON synonyms REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION synonyms_words();
    CREATE TRIGGER synonyms_words_upd AFTER UPDATE ON synonyms REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION synonyms_words();
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER IF EXISTS products_search_ins ON products;
    DROP TRIGGER IF EXISTS products_search_upd ON products;
    DROP TRIGGER IF EXISTS product_properties_search_ins ON product_properties;
    DROP TRIGGER IF EXISTS product_properties_search_upd ON product_properties;
    DROP TRIGGER IF EXISTS product_properties_search_del ON product_properties;
    DROP TRIGGER IF EXISTS property_values_search_ins ON property_values;
    DROP TRIGGER IF EXISTS property_values_search_upd ON property_values;
    DROP TRIGGER IF EXISTS groups_search_ins ON groups;
    DROP TRIGGER IF EXISTS groups_search_upd ON groups;
    DROP TABLE IF EXISTS synonyms, search_words, product_search, facet_keys;
    DROP SEQUENCE IF EXISTS facet_key_seq;
    DROP FUNCTION IF EXISTS products_search(), product_properties_search(), property_values_search(), groups_search(),
      synonyms_keys(), synonyms_words(), search_words_add(text[]), search_base_of(text, text, text), search_key(text), search_norm(text);
    DROP INDEX IF EXISTS products_article, products_barcode, product_properties_value, properties_code;
    ALTER TABLE products DROP COLUMN IF EXISTS image_url, DROP COLUMN IF EXISTS popularity, DROP COLUMN IF EXISTS search_priority,
      DROP COLUMN IF EXISTS facets;
    ALTER TABLE product_properties DROP CONSTRAINT product_properties_pkey;
    ALTER TABLE product_properties DROP COLUMN flow_id, DROP COLUMN run_id, DROP COLUMN updated_at, ALTER COLUMN value DROP NOT NULL;
    DELETE FROM product_properties a USING product_properties b
      WHERE a.product_id = b.product_id AND a.property_id = b.property_id AND a.value > b.value;
    ALTER TABLE product_properties ADD PRIMARY KEY (product_id, property_id);
    ALTER TABLE property_values DROP COLUMN flow_id, DROP COLUMN run_id, DROP COLUMN updated_at;
    ALTER TABLE properties DROP COLUMN suggest, DROP COLUMN placeholder, DROP COLUMN created_at, DROP COLUMN updated_at;
  `.execute(db);
}
