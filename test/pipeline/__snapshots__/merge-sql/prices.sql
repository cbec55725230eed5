-- reference priceType: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "priceType" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."priceType")) AS any
-- values: ["priceType","erp"]

-- reference priceType: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "priceType" AS code FROM staging.run_42 WHERE "priceType" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO price_types (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["priceType","erp"]

-- reference priceType: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "priceType" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."priceType")
      RETURNING s._line, s._file, s._path, s."priceType" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"priceType","erp",["offers0_1.xml","offers0_2.xml"],"priceType","price type"]

-- reference product: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "product" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."product")) AS any
-- values: ["product","erp"]

-- reference product: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "product" AS code FROM staging.run_42 WHERE "product" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO products (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["product","erp"]

-- reference product: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "product" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."product")
      RETURNING s._line, s._file, s._path, s."product" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"product","erp",["offers0_1.xml","offers0_2.xml"],"product","product"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "priceType", "product" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."priceType" || ' / ' || s."product" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"priceType,product","price type and product"]

-- delta: partition ids
SELECT DISTINCT e.internal_id::int AS id FROM (SELECT DISTINCT "priceType" AS code FROM staging.run_42 WHERE NOT _reject) d
    JOIN external_ids e ON e.entity = $1 AND e.system = $2 AND e.external_id = d.code
-- values: ["priceType","erp"]

-- delta: partitions live
SELECT EXISTS (SELECT 1 FROM prices WHERE price_type_id = ANY($1::int[])) AS e
-- values: [[3,5]]

-- delta: insert all
INSERT INTO prices (price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id)
      SELECT price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, $2, $3 FROM (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id,
           s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, NULL::timestamptz AS valid_from, NULL::timestamptz AS valid_until, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" WHERE NOT s._reject) x
-- values: ["erp",7,42]

-- delta: upsert
WITH src AS (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id,
           s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, NULL::timestamptz AS valid_from, NULL::timestamptz AS valid_until, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" WHERE NOT s._reject),
      changed AS MATERIALIZED (
        SELECT x.*, t.value AS old_value, (t.product_id IS NULL) AS is_new, t.flow_id AS old_flow_id
        FROM src x LEFT JOIN prices t ON t.price_type_id = x.price_type_id AND t.product_id = x.product_id
        WHERE t.product_id IS NULL
           OR (t.value, t.currency, t.unit, t.factor, t.tiers, t.valid_from, t.valid_until) IS DISTINCT FROM (x.value, x.currency, x.unit, x.factor, x.tiers, x.valid_from, x.valid_until)
           OR t.flow_id <> $2
      ), up AS (
        INSERT INTO prices AS t (price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id)
        SELECT price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, $2, $3 FROM changed
        ON CONFLICT (price_type_id, product_id) DO UPDATE SET value = excluded.value, currency = excluded.currency, unit = excluded.unit, factor = excluded.factor, tiers = excluded.tiers, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
          flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
      ), hist AS (
        -- A new key is a history row too (op I), so lineage names the file and line of its first value.
        INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value, new_value, inbox_id, line, path)
        SELECT $3, price_type_id, product_id, CASE WHEN is_new THEN 'I' ELSE 'U' END, old_value, value, ($4::bigint[])[_file + 1], _line, _path
        FROM changed WHERE is_new OR old_value IS DISTINCT FROM value
      )
      SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd,
        count(*) FILTER (WHERE NOT is_new AND old_flow_id <> $2)::bigint AS took,
        array_agg(DISTINCT old_flow_id) FILTER (WHERE NOT is_new AND old_flow_id <> $2) AS took_from
      FROM changed
-- values: ["erp",7,42,[11,12]]

-- delta: count scope
SELECT count(*)::bigint AS n FROM prices t WHERE t.flow_id = $1
-- values: [7]

-- delta: remove: none

-- snapshot scope flow: partition ids: as delta: partition ids

-- snapshot scope flow: partitions live: as delta: partitions live

-- snapshot scope flow: insert all: as delta: insert all

-- snapshot scope flow: upsert: as delta: upsert

-- snapshot scope flow: count scope: as delta: count scope

-- snapshot scope flow: remove
WITH del AS (
          DELETE FROM prices t WHERE t.flow_id = $2
            AND NOT EXISTS (SELECT 1 FROM (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id,
           s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, NULL::timestamptz AS valid_from, NULL::timestamptz AS valid_until, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.price_type_id = t.price_type_id AND x.product_id = t.product_id)
          RETURNING t.price_type_id, t.product_id, t.value
        ), hist AS (
          INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value) SELECT $3::bigint, price_type_id, product_id, 'D', value FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,42]

-- snapshot scope keys: partition ids: as delta: partition ids

-- snapshot scope keys: partitions live: as delta: partitions live

-- snapshot scope keys: insert all: as delta: insert all

-- snapshot scope keys: upsert: as delta: upsert

-- snapshot scope keys: count scope
SELECT count(*)::bigint AS n FROM prices t WHERE t.price_type_id = ANY($1::int[])
-- values: [[3,5]]

-- snapshot scope keys: remove
WITH del AS (
          DELETE FROM prices t WHERE t.price_type_id = ANY($2::int[])
            AND NOT EXISTS (SELECT 1 FROM (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id,
           s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, NULL::timestamptz AS valid_from, NULL::timestamptz AS valid_until, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.price_type_id = t.price_type_id AND x.product_id = t.product_id)
          RETURNING t.price_type_id, t.product_id, t.value
        ), hist AS (
          INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value) SELECT $3::bigint, price_type_id, product_id, 'D', value FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[3,5],42]

-- snapshot of an open group: partition ids: as delta: partition ids

-- snapshot of an open group: partitions live: as delta: partitions live

-- snapshot of an open group: insert all: as delta: insert all

-- snapshot of an open group: upsert: as delta: upsert

-- snapshot of an open group: count scope: as delta: count scope

-- snapshot of an open group: remove: none

-- snapshot scope flow, history off: partition ids: as delta: partition ids

-- snapshot scope flow, history off: partitions live: as delta: partitions live

-- snapshot scope flow, history off: insert all: as delta: insert all

-- snapshot scope flow, history off: upsert
WITH src AS (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id,
           s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, NULL::timestamptz AS valid_from, NULL::timestamptz AS valid_until, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" WHERE NOT s._reject),
      changed AS MATERIALIZED (
        SELECT x.*, t.value AS old_value, (t.product_id IS NULL) AS is_new, t.flow_id AS old_flow_id
        FROM src x LEFT JOIN prices t ON t.price_type_id = x.price_type_id AND t.product_id = x.product_id
        WHERE t.product_id IS NULL
           OR (t.value, t.currency, t.unit, t.factor, t.tiers, t.valid_from, t.valid_until) IS DISTINCT FROM (x.value, x.currency, x.unit, x.factor, x.tiers, x.valid_from, x.valid_until)
           OR t.flow_id <> $2
      ), up AS (
        INSERT INTO prices AS t (price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id)
        SELECT price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, $2, $3 FROM changed
        ON CONFLICT (price_type_id, product_id) DO UPDATE SET value = excluded.value, currency = excluded.currency, unit = excluded.unit, factor = excluded.factor, tiers = excluded.tiers, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
          flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
      )
      SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd,
        count(*) FILTER (WHERE NOT is_new AND old_flow_id <> $2)::bigint AS took,
        array_agg(DISTINCT old_flow_id) FILTER (WHERE NOT is_new AND old_flow_id <> $2) AS took_from
      FROM changed
-- values: ["erp",7,42]

-- snapshot scope flow, history off: count scope: as delta: count scope

-- snapshot scope flow, history off: remove
WITH del AS (
          DELETE FROM prices t WHERE t.flow_id = $2
            AND NOT EXISTS (SELECT 1 FROM (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id,
           s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, NULL::timestamptz AS valid_from, NULL::timestamptz AS valid_until, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.price_type_id = t.price_type_id AND x.product_id = t.product_id)
          RETURNING t.price_type_id, t.product_id, t.value
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,42]

-- periods: present
SELECT EXISTS (SELECT 1 FROM staging.run_42 WHERE NOT _reject
      AND ("validFrom" IS NOT NULL OR "validTo" IS NOT NULL OR "deleted" IS NOT NULL)) AS any
-- values: []

-- periods: reject inverted
WITH bad AS (
        DELETE FROM staging.run_42 s WHERE NOT s._reject AND s."validTo" IS NOT NULL AND CASE WHEN s."validTo" IS NULL THEN NULL::timestamptz
    WHEN s."validTo" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN ((s."validTo"::date + 1)::timestamp AT TIME ZONE 'Europe/Moscow')
    ELSE s."validTo"::timestamptz END <= CASE WHEN s."validFrom" IS NULL THEN '-infinity'::timestamptz
    WHEN s."validFrom" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN (s."validFrom"::date::timestamp AT TIME ZONE 'Europe/Moscow')
    ELSE s."validFrom"::timestamptz END
        RETURNING s._line, s._file, s._path, s."validFrom" AS vf, s."validTo" AS vt
      )
      INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
      SELECT $1, ($2::text[])[_file + 1], _line, _path, 'validTo', 'validity',
        format('validTo %s is before validFrom %s: the price would never hold', vt, coalesce(vf, '(none)')) FROM bad
-- values: [42,["offers0_1.xml","offers0_2.xml"]]

-- periods: upsert
WITH src AS (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id, CASE WHEN s."validFrom" IS NULL THEN '-infinity'::timestamptz
    WHEN s."validFrom" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN (s."validFrom"::date::timestamp AT TIME ZONE 'Europe/Moscow')
    ELSE s."validFrom"::timestamptz END AS valid_from, CASE WHEN s."validTo" IS NULL THEN NULL::timestamptz
    WHEN s."validTo" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN ((s."validTo"::date + 1)::timestamp AT TIME ZONE 'Europe/Moscow')
    ELSE s."validTo"::timestamptz END AS valid_until,
      s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, coalesce(s."deleted" = 'true', false) AS del, s._file, s._line
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" WHERE NOT s._reject),
      last AS (
        SELECT DISTINCT ON (price_type_id, product_id, valid_from) * FROM src ORDER BY price_type_id, product_id, valid_from, _file DESC, _line DESC
      ),
      gone AS (
        DELETE FROM price_periods t USING last l
        WHERE l.del AND t.price_type_id = l.price_type_id AND t.product_id = l.product_id AND t.valid_from = l.valid_from
        RETURNING 1
      ),
      up AS (
        INSERT INTO price_periods AS t (price_type_id, product_id, valid_from, valid_until, value, currency, unit, factor, tiers, flow_id, run_id)
        SELECT price_type_id, product_id, valid_from, valid_until, value, currency, unit, factor, tiers, $2, $3 FROM last WHERE NOT del
        ON CONFLICT (price_type_id, product_id, valid_from) DO UPDATE SET valid_until = excluded.valid_until,
          value = excluded.value, currency = excluded.currency, unit = excluded.unit, factor = excluded.factor, tiers = excluded.tiers, flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
        WHERE (t.valid_until, t.value, t.currency, t.unit, t.factor, t.tiers) IS DISTINCT FROM
              (excluded.valid_until, excluded.value, excluded.currency, excluded.unit, excluded.factor, excluded.tiers)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM up)::int AS written, (SELECT count(*) FROM gone)::int AS deleted
-- values: ["erp",7,42]

-- periods: apply in force
WITH keys AS MATERIALIZED (SELECT DISTINCT price_type_id, product_id, $1::int AS flow_id, $2::bigint AS run_id FROM (
    SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id, CASE WHEN s."validFrom" IS NULL THEN '-infinity'::timestamptz
    WHEN s."validFrom" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN (s."validFrom"::date::timestamp AT TIME ZONE 'Europe/Moscow')
    ELSE s."validFrom"::timestamptz END AS valid_from, CASE WHEN s."validTo" IS NULL THEN NULL::timestamptz
    WHEN s."validTo" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN ((s."validTo"::date + 1)::timestamp AT TIME ZONE 'Europe/Moscow')
    ELSE s."validTo"::timestamptz END AS valid_until,
      s.price::numeric(20,6) AS value, s.currency AS currency, s.unit AS unit, coalesce(s.factor::numeric(20,6), CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END, 1) AS factor, CASE WHEN s.tiers IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(s.tiers, ';')) WITH ORDINALITY t(x, n)) END AS tiers, coalesce(s."deleted" = 'true', false) AS del, s._file, s._line
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $4 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $4 AND ik.external_id = s."product" WHERE NOT s._reject) k),
    eff AS (
      -- The row's end is when the next change happens: its own end, or an overlapping later period's start,
      -- so a read of the row knows exactly when to look at the periods instead (price-at.ts).
      SELECT DISTINCT ON (pp.price_type_id, pp.product_id) pp.price_type_id, pp.product_id, pp.value, pp.currency, pp.unit, pp.factor,
        pp.tiers, pp.valid_from, pp.flow_id, pp.run_id,
        least(pp.valid_until, (SELECT min(n.valid_from) FROM price_periods n
          WHERE n.price_type_id = pp.price_type_id AND n.product_id = pp.product_id AND n.valid_from > pp.valid_from)) AS valid_until
      FROM keys k JOIN price_periods pp ON pp.price_type_id = k.price_type_id AND pp.product_id = k.product_id
      WHERE pp.valid_from <= now() AND (pp.valid_until IS NULL OR pp.valid_until > now())
      ORDER BY pp.price_type_id, pp.product_id, pp.valid_from DESC
    ),
    changed AS MATERIALIZED (
      SELECT e.price_type_id, e.product_id, e.value, e.currency, e.unit, e.factor, e.tiers,
        nullif(e.valid_from, '-infinity') AS valid_from, e.valid_until, e.flow_id, e.run_id,
        t.value AS old_value, (t.product_id IS NULL) AS is_new
      FROM eff e LEFT JOIN prices t ON t.price_type_id = e.price_type_id AND t.product_id = e.product_id
      WHERE t.product_id IS NULL
         OR (t.value, t.currency, t.unit, t.factor, t.tiers, t.valid_from, t.valid_until, t.flow_id)
            IS DISTINCT FROM (e.value, e.currency, e.unit, e.factor, e.tiers, nullif(e.valid_from, '-infinity'), e.valid_until, e.flow_id)
    ),
    up AS (
      INSERT INTO prices AS t (price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id)
      SELECT price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id FROM changed
      ON CONFLICT (price_type_id, product_id) DO UPDATE SET value = excluded.value, currency = excluded.currency, unit = excluded.unit,
        factor = excluded.factor, tiers = excluded.tiers, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
        flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    ),
    gone AS (
      DELETE FROM prices t USING keys k
      WHERE t.price_type_id = k.price_type_id AND t.product_id = k.product_id AND t.flow_id = k.flow_id
        AND NOT EXISTS (SELECT 1 FROM eff e WHERE e.price_type_id = k.price_type_id AND e.product_id = k.product_id)
      RETURNING t.price_type_id, t.product_id, t.value, k.run_id
    ),
    hist_u AS (
      INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value, new_value)
      SELECT run_id, price_type_id, product_id, 'U', old_value, value FROM changed
      WHERE $3::boolean AND NOT is_new AND old_value IS DISTINCT FROM value
    ),
    hist_d AS (
      INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value)
      SELECT run_id, price_type_id, product_id, 'D', value FROM gone WHERE $3::boolean
    )
    SELECT count(*) FILTER (WHERE is_new)::int AS ins, count(*) FILTER (WHERE NOT is_new)::int AS upd,
      (SELECT count(*) FROM gone)::int AS del
    FROM changed
-- values: [7,42,true,"erp"]

-- periods: roll
WITH keys AS MATERIALIZED (
    SELECT DISTINCT ON (price_type_id, product_id) price_type_id, product_id, flow_id, run_id FROM (
      SELECT price_type_id, product_id, flow_id, run_id, valid_from AS at FROM price_periods WHERE valid_from > $1 AND valid_from <= $2
      UNION ALL
      SELECT price_type_id, product_id, flow_id, run_id, valid_until FROM price_periods WHERE valid_until > $1 AND valid_until <= $2
    ) moved ORDER BY price_type_id, product_id, at DESC),
    eff AS (
      -- The row's end is when the next change happens: its own end, or an overlapping later period's start,
      -- so a read of the row knows exactly when to look at the periods instead (price-at.ts).
      SELECT DISTINCT ON (pp.price_type_id, pp.product_id) pp.price_type_id, pp.product_id, pp.value, pp.currency, pp.unit, pp.factor,
        pp.tiers, pp.valid_from, pp.flow_id, pp.run_id,
        least(pp.valid_until, (SELECT min(n.valid_from) FROM price_periods n
          WHERE n.price_type_id = pp.price_type_id AND n.product_id = pp.product_id AND n.valid_from > pp.valid_from)) AS valid_until
      FROM keys k JOIN price_periods pp ON pp.price_type_id = k.price_type_id AND pp.product_id = k.product_id
      WHERE pp.valid_from <= now() AND (pp.valid_until IS NULL OR pp.valid_until > now())
      ORDER BY pp.price_type_id, pp.product_id, pp.valid_from DESC
    ),
    changed AS MATERIALIZED (
      SELECT e.price_type_id, e.product_id, e.value, e.currency, e.unit, e.factor, e.tiers,
        nullif(e.valid_from, '-infinity') AS valid_from, e.valid_until, e.flow_id, e.run_id,
        t.value AS old_value, (t.product_id IS NULL) AS is_new
      FROM eff e LEFT JOIN prices t ON t.price_type_id = e.price_type_id AND t.product_id = e.product_id
      WHERE t.product_id IS NULL
         OR (t.value, t.currency, t.unit, t.factor, t.tiers, t.valid_from, t.valid_until, t.flow_id)
            IS DISTINCT FROM (e.value, e.currency, e.unit, e.factor, e.tiers, nullif(e.valid_from, '-infinity'), e.valid_until, e.flow_id)
    ),
    up AS (
      INSERT INTO prices AS t (price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id)
      SELECT price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id FROM changed
      ON CONFLICT (price_type_id, product_id) DO UPDATE SET value = excluded.value, currency = excluded.currency, unit = excluded.unit,
        factor = excluded.factor, tiers = excluded.tiers, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
        flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    ),
    gone AS (
      DELETE FROM prices t USING keys k
      WHERE t.price_type_id = k.price_type_id AND t.product_id = k.product_id AND t.flow_id = k.flow_id
        AND NOT EXISTS (SELECT 1 FROM eff e WHERE e.price_type_id = k.price_type_id AND e.product_id = k.product_id)
      RETURNING t.price_type_id, t.product_id, t.value, k.run_id
    ),
    hist_u AS (
      INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value, new_value)
      SELECT run_id, price_type_id, product_id, 'U', old_value, value FROM changed
      WHERE $3::boolean AND NOT is_new AND old_value IS DISTINCT FROM value
    ),
    hist_d AS (
      INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value)
      SELECT run_id, price_type_id, product_id, 'D', value FROM gone WHERE $3::boolean
    )
    SELECT count(*) FILTER (WHERE is_new)::int AS ins, count(*) FILTER (WHERE NOT is_new)::int AS upd,
      (SELECT count(*) FROM gone)::int AS del
    FROM changed
-- values: ["1970-01-01T00:00:00.000Z","1970-01-01T00:00:01.000Z",true]

-- finalize scope flow, 2 staged: scope ids: none

-- finalize scope flow, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM prices t WHERE t.flow_id = $2
-- values: [[40,41,42],7]

-- finalize scope flow, 2 staged: remove
WITH del AS (
          DELETE FROM prices t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.price_type_id = t.price_type_id AND x.product_id = t.product_id)
          RETURNING t.price_type_id, t.product_id, t.value
        ), hist AS (
          INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value) SELECT $4::bigint, price_type_id, product_id, 'D', value FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42],42]

-- finalize scope flow, 0 staged: scope ids: none

-- finalize scope flow, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope flow, 0 staged: remove
WITH del AS (
          DELETE FROM prices t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.price_type_id, t.product_id, t.value
        ), hist AS (
          INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value) SELECT $4::bigint, price_type_id, product_id, 'D', value FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42],42]

-- finalize scope keys, 2 staged: scope ids
SELECT DISTINCT price_type_id AS id FROM (SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x UNION 
        SELECT DISTINCT price_type_id AS id FROM prices WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM prices t WHERE t.price_type_id = ANY($2::bigint[])
-- values: [[40,41,42],[11,12]]

-- finalize scope keys, 2 staged: remove
WITH del AS (
          DELETE FROM prices t WHERE t.price_type_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.price_type_id = t.price_type_id AND x.product_id = t.product_id)
          RETURNING t.price_type_id, t.product_id, t.value
        ), hist AS (
          INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value) SELECT $4::bigint, price_type_id, product_id, 'D', value FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42],42]

-- finalize scope keys, 0 staged: scope ids
SELECT DISTINCT price_type_id AS id FROM prices WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 0 staged: counts: as finalize scope keys, 2 staged: counts

-- finalize scope keys, 0 staged: remove
WITH del AS (
          DELETE FROM prices t WHERE t.price_type_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.price_type_id, t.product_id, t.value
        ), hist AS (
          INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value) SELECT $4::bigint, price_type_id, product_id, 'D', value FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42],42]

-- finalize history off, 2 staged: scope ids: none

-- finalize history off, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 2 staged: remove
WITH del AS (
          DELETE FROM prices t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS price_type_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1 AND pk.external_id = s."priceType" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.price_type_id = t.price_type_id AND x.product_id = t.product_id)
          RETURNING t.price_type_id, t.product_id, t.value
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize history off, 0 staged: scope ids: none

-- finalize history off, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 0 staged: remove
WITH del AS (
          DELETE FROM prices t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.price_type_id, t.product_id, t.value
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]
