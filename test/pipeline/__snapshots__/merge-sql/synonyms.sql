-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "term" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."term" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"term","term"]

-- delta: upsert
WITH src AS (SELECT s."term" AS term, ARRAY(SELECT DISTINCT btrim(x) FROM regexp_split_to_table(s.synonyms, '[,;|]') x WHERE btrim(x) <> '' ORDER BY 1) AS synonyms FROM staging.run_42 s  WHERE NOT s._reject),
    changed AS MATERIALIZED (
      SELECT x.*, (t.term IS NULL) AS is_new
      FROM src x LEFT JOIN synonyms t ON t.term = x.term
      WHERE t.term IS NULL OR t.flow_id IS DISTINCT FROM $1
        OR (t.synonyms) IS DISTINCT FROM (x.synonyms)
    ), up AS (
      INSERT INTO synonyms AS t (term, synonyms, flow_id, run_id)
      SELECT term, synonyms, $1, $2 FROM changed
      ON CONFLICT (term) DO UPDATE SET synonyms = excluded.synonyms, flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    )
    SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd FROM changed
-- values: [7,42]

-- delta: remove: none

-- delta: count flow
SELECT count(*)::bigint AS n FROM synonyms WHERE flow_id = $1
-- values: [7]

-- snapshot scope flow: upsert: as delta: upsert

-- snapshot scope flow: remove
WITH keys AS MATERIALIZED (SELECT s."term" AS term FROM staging.run_42 s ),
      del AS (
        DELETE FROM synonyms t WHERE (t.flow_id = $1)
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.term = t.term)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: [7]

-- snapshot scope flow: count flow: as delta: count flow

-- snapshot scope keys: upsert: as delta: upsert

-- snapshot scope keys: remove: as snapshot scope flow: remove

-- snapshot scope keys: count flow: as delta: count flow

-- snapshot of an open group: upsert: as delta: upsert

-- snapshot of an open group: remove: none

-- snapshot of an open group: count flow: as delta: count flow

-- finalize scope flow, 2 staged: scope ids: none

-- finalize scope flow, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM synonyms t WHERE t.flow_id = $2
-- values: [[40,41,42],7]

-- finalize scope flow, 2 staged: remove
WITH del AS (
          DELETE FROM synonyms t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT s."term" AS term FROM staging.run_42 s  UNION ALL SELECT s."term" AS term FROM staging.run_43 s ) x WHERE x.term = t.term)
          RETURNING t.term
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope flow, 0 staged: scope ids: none

-- finalize scope flow, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope flow, 0 staged: remove
WITH del AS (
          DELETE FROM synonyms t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.term
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope keys, 2 staged: scope ids: none

-- finalize scope keys, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope keys, 2 staged: remove: as finalize scope flow, 2 staged: remove

-- finalize scope keys, 0 staged: scope ids: none

-- finalize scope keys, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope keys, 0 staged: remove: as finalize scope flow, 0 staged: remove

-- finalize history off, 2 staged: scope ids: none

-- finalize history off, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 2 staged: remove: as finalize scope flow, 2 staged: remove

-- finalize history off, 0 staged: scope ids: none

-- finalize history off, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 0 staged: remove: as finalize scope flow, 0 staged: remove
