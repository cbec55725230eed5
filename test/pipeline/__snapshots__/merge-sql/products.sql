-- reference group: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "group" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."group")) AS any
-- values: ["group","erp"]

-- reference group: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "group" AS code FROM staging.run_42 WHERE "group" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO groups (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["group","erp"]

-- reference group: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "group" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."group")
      RETURNING s._line, s._file, s._path, s."group" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"group","erp",["offers0_1.xml","offers0_2.xml"],"group","group"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "code" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."code" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"code","code"]

-- drop rejected
DELETE FROM staging.run_42 WHERE _reject
-- values: []

-- units
INSERT INTO units (code, name) SELECT DISTINCT unit, unit FROM staging.run_42 WHERE unit IS NOT NULL ON CONFLICT (code) DO NOTHING
-- values: []

-- staged
SELECT count(*)::bigint AS n FROM staging.run_42
-- values: []

-- insert new
WITH fresh AS (
      SELECT s.code, s.name AS c0, s.article AS c1, s.barcode AS c2, coalesce(s.deleted = 'true', false) AS c3, s."imageUrl" AS c4, s.popularity::bigint AS c5, s."searchPriority"::integer AS c6, s.promotion AS c7, (SELECT e0.internal_id FROM external_ids e0 WHERE e0.entity = 'group' AND e0.system = $1 AND e0.external_id = s."group") AS c8, (SELECT u.id FROM units u WHERE u.code = s.unit) AS c9 FROM staging.run_42 s
      WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $1 AND e.external_id = s.code)
    ), created AS (
      INSERT INTO products (code, name, article, barcode, deleted, image_url, popularity, search_priority, promotion, group_id, unit_id) SELECT code, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 FROM fresh RETURNING id, code
    )
    INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $2, $1, code, id FROM created
-- values: ["erp","product"]

-- update known
UPDATE products t SET name = x.c0, article = x.c1, barcode = x.c2, deleted = x.c3, image_url = x.c4, popularity = coalesce(x.c5, t.popularity), search_priority = coalesce(x.c6, t.search_priority), promotion = x.c7, group_id = x.c8, unit_id = x.c9, placeholder = false, updated_at = now()
    FROM (
      SELECT e.internal_id AS id, s.name AS c0, s.article AS c1, s.barcode AS c2, coalesce(s.deleted = 'true', false) AS c3, s."imageUrl" AS c4, s.popularity::bigint AS c5, s."searchPriority"::integer AS c6, s.promotion AS c7, (SELECT e0.internal_id FROM external_ids e0 WHERE e0.entity = 'group' AND e0.system = $1 AND e0.external_id = s."group") AS c8, (SELECT u.id FROM units u WHERE u.code = s.unit) AS c9
      FROM staging.run_42 s JOIN external_ids e ON e.entity = $2 AND e.system = $1 AND e.external_id = s.code
    ) x
    WHERE t.id = x.id AND (t.placeholder OR (t.name, t.article, t.barcode, t.deleted, t.image_url, t.popularity, t.search_priority, t.promotion, t.group_id, t.unit_id) IS DISTINCT FROM (x.c0, x.c1, x.c2, x.c3, x.c4, coalesce(x.c5, t.popularity), coalesce(x.c6, t.search_priority), x.c7, x.c8, x.c9))
-- values: ["erp","product"]
