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

-- reference property: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "property" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."property")) AS any
-- values: ["property","erp"]

-- reference property: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "property" AS code FROM staging.run_42 WHERE "property" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO properties (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["property","erp"]

-- reference property: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "property" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."property")
      RETURNING s._line, s._file, s._path, s."property" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"property","erp",["offers0_1.xml","offers0_2.xml"],"property","property"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "product", "property", "value" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."product" || ' / ' || s."property" || ' / ' || s."value" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"product,property,value","product and property and value"]

-- delta: upsert
WITH src AS (SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value, (SELECT pv.id FROM property_values pv WHERE pv.property_id = ref_property.internal_id AND pv.code = s.value) AS value_id FROM staging.run_42 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" WHERE NOT s._reject),
    changed AS MATERIALIZED (
      SELECT x.*, (t.product_id IS NULL) AS is_new
      FROM src x LEFT JOIN product_properties t ON t.product_id = x.product_id AND t.property_id = x.property_id AND t.value = x.value
      WHERE t.product_id IS NULL OR t.flow_id IS DISTINCT FROM $2
        OR (t.value_id) IS DISTINCT FROM (x.value_id)
    ), up AS (
      INSERT INTO product_properties AS t (product_id, property_id, value, value_id, flow_id, run_id)
      SELECT product_id, property_id, value, value_id, $2, $3 FROM changed
      ON CONFLICT (product_id, property_id, value) DO UPDATE SET value_id = excluded.value_id, flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    )
    SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd FROM changed
-- values: ["erp",7,42]

-- delta: remove
WITH keys AS MATERIALIZED (SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_42 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property"),
      del AS (
        DELETE FROM product_properties t WHERE ((t.product_id, t.property_id) IN (SELECT product_id, property_id FROM keys))
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.product_id = t.product_id AND x.property_id = t.property_id AND x.value = t.value)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: ["erp"]

-- delta: count flow
SELECT count(*)::bigint AS n FROM product_properties WHERE flow_id = $1
-- values: [7]

-- snapshot scope flow: upsert: as delta: upsert

-- snapshot scope flow: remove
WITH keys AS MATERIALIZED (SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_42 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property"),
      del AS (
        DELETE FROM product_properties t WHERE ((t.product_id, t.property_id) IN (SELECT product_id, property_id FROM keys) OR t.flow_id = $2)
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.product_id = t.product_id AND x.property_id = t.property_id AND x.value = t.value)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7]

-- snapshot scope flow: count flow: as delta: count flow

-- snapshot scope keys: upsert: as delta: upsert

-- snapshot scope keys: remove
WITH keys AS MATERIALIZED (SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_42 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property"),
      del AS (
        DELETE FROM product_properties t WHERE ((t.product_id, t.property_id) IN (SELECT product_id, property_id FROM keys) OR t.product_id IN (SELECT product_id FROM keys))
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.product_id = t.product_id AND x.property_id = t.property_id AND x.value = t.value)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: ["erp"]

-- snapshot scope keys: count flow: as delta: count flow

-- snapshot of an open group: upsert: as delta: upsert

-- snapshot of an open group: remove: as delta: remove

-- snapshot of an open group: count flow: as delta: count flow

-- finalize scope flow, 2 staged: scope ids: none

-- finalize scope flow, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM product_properties t WHERE t.flow_id = $2
-- values: [[40,41,42],7]

-- finalize scope flow, 2 staged: remove
WITH del AS (
          DELETE FROM product_properties t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_42 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" UNION ALL SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_43 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property") x WHERE x.product_id = t.product_id AND x.property_id = t.property_id AND x.value = t.value)
          RETURNING t.product_id, t.property_id, t.value
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope flow, 0 staged: scope ids: none

-- finalize scope flow, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope flow, 0 staged: remove
WITH del AS (
          DELETE FROM product_properties t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.product_id, t.property_id, t.value
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope keys, 2 staged: scope ids
SELECT DISTINCT product_id AS id FROM (SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_42 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" UNION ALL SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_43 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property") x UNION 
        SELECT DISTINCT product_id AS id FROM product_properties WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM product_properties t WHERE t.product_id = ANY($2::bigint[])
-- values: [[40,41,42],[11,12]]

-- finalize scope keys, 2 staged: remove
WITH del AS (
          DELETE FROM product_properties t WHERE t.product_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_42 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" UNION ALL SELECT ref_product.internal_id AS product_id, ref_property.internal_id AS property_id, s."value" AS value FROM staging.run_43 s JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s."product" JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property") x WHERE x.product_id = t.product_id AND x.property_id = t.property_id AND x.value = t.value)
          RETURNING t.product_id, t.property_id, t.value
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42]]

-- finalize scope keys, 0 staged: scope ids
SELECT DISTINCT product_id AS id FROM product_properties WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 0 staged: counts: as finalize scope keys, 2 staged: counts

-- finalize scope keys, 0 staged: remove
WITH del AS (
          DELETE FROM product_properties t WHERE t.product_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.product_id, t.property_id, t.value
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42]]

-- finalize history off, 2 staged: scope ids: none

-- finalize history off, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 2 staged: remove: as finalize scope flow, 2 staged: remove

-- finalize history off, 0 staged: scope ids: none

-- finalize history off, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 0 staged: remove: as finalize scope flow, 0 staged: remove
