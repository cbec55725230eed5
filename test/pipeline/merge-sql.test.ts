// The merge compiler without a database: what every target's merge compiles to, in each mode, scope
// and history setting. Explicit checks of the parts that matter, and a file snapshot per target for review.
import { describe, expect, it } from 'vitest';
import {
  anyUnknown, compileDimension, compileFact, compileFinalize, compilePeriods, rollStatement, compileKeyed, createPlaceholders, rejectDuplicates, rejectUnknown,
  type MergeSqlContext, type Statement,
} from '../../src/pipeline/merge-sql/index.ts';
import { TARGETS, refsOf, type FactSpec, type KeyedSpec, type TargetName, type TargetSpec } from '../../src/pipeline/targets.ts';

const RUN = 42;
const FLOW = 7;
const SYSTEM = 'erp';
const STAGING = 'staging.run_42';
const PART_IDS = [3, 5];
const SCOPE_IDS = [11, 12];

/** A run's compiler context; each test names only what it varies. */
function context(over: Partial<MergeSqlContext> = {}): MergeSqlContext {
  return {
    runId: RUN, flowId: FLOW, system: SYSTEM, table: STAGING, mode: 'delta', deferRemoval: false, scope: 'flow', history: true,
    files: ['offers0_1.xml', 'offers0_2.xml'], inboxIds: [11, 12], ...over,
  };
}

const spec = <N extends TargetName>(name: N): (typeof TARGETS)[N] => TARGETS[name];
const fact = (name: FactSpec['name']): FactSpec => spec(name);
const keyed = (name: KeyedSpec['name']): KeyedSpec => spec(name);

/**
 * Each statement: where it comes from, its text, then its values in order. A statement a variant
 * compiles exactly as an earlier one did names that one, so the file shows what a switch changes.
 */
function render(entries: Array<[string, Statement | undefined]>): string {
  const seen = new Map<string, string>();
  return entries.map(([label, s]) => {
    if (!s) return `-- ${label}: none\n`;
    const body = `${s.text.trim()}\n-- values: ${JSON.stringify(s.values)}\n`;
    const first = seen.get(body);
    if (first) return `-- ${label}: as ${first}\n`;
    seen.set(body, label);
    return `-- ${label}\n${body}`;
  }).join('\n');
}

/** The highest `$n` a statement's text names. */
function maxParam(s: Statement): number {
  return Math.max(0, ...[...s.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
}

/** Every statement a target's merge may run, in each variant that changes its SQL. */
function compileAll(name: TargetName): Array<[string, Statement | undefined]> {
  const t: TargetSpec = spec(name);
  const out: Array<[string, Statement | undefined]> = [];
  for (const ref of refsOf(t)) {
    out.push([`reference ${ref.field}: any unknown`, anyUnknown(ref, context())]);
    out.push([`reference ${ref.field}: create placeholders`, createPlaceholders(ref, context())]);
    out.push([`reference ${ref.field}: reject unknown`, rejectUnknown(ref, context())]);
  }
  out.push(['duplicates', rejectDuplicates(t, context())]);
  if (t.kind === 'dimension') {
    const d = compileDimension(t, context());
    out.push(['drop rejected', d.dropRejected], ['units', d.units], ['staged', d.staged], ['insert new', d.insertNew], ['update known', d.updateKnown]);
    return out;
  }
  const variants: Array<[string, Partial<MergeSqlContext>]> = [
    ['delta', {}],
    ['snapshot scope flow', { mode: 'snapshot' }],
    ['snapshot scope keys', { mode: 'snapshot', scope: 'keys' }],
    ['snapshot of an open group', { mode: 'snapshot', deferRemoval: true }],
  ];
  if (t.kind === 'fact') {
    variants.push(['snapshot scope flow, history off', { mode: 'snapshot', history: false }]);
    for (const [label, over] of variants) {
      const f = compileFact(t, context(over));
      out.push([`${label}: partition ids`, f.partitionIds], [`${label}: partitions live`, f.partitionsLive(PART_IDS)],
        [`${label}: insert all`, f.insertAll], [`${label}: upsert`, f.upsert], [`${label}: count scope`, f.countScope(PART_IDS)],
        [`${label}: remove`, f.removes ? f.remove(PART_IDS) : undefined]);
    }
    if (t.periods) {
      const p = compilePeriods(t, context(), 'Europe/Moscow');
      out.push(['periods: present', p.present], ['periods: reject inverted', p.rejectInverted], ['periods: upsert', p.upsert],
        ['periods: apply in force', p.applyInForce], ['periods: roll', rollStatement(new Date(0), new Date(1000))]);
    }
  } else {
    for (const [label, over] of variants) {
      const k = compileKeyed(t, context(over));
      out.push([`${label}: upsert`, k.upsert], [`${label}: remove`, k.remove], [`${label}: count flow`, k.countFlow]);
    }
  }
  for (const [label, over] of [['scope flow', {}], ['scope keys', { scope: 'keys' }], ['history off', { history: false }]] as const) {
    for (const staged of [[STAGING, 'staging.run_43'], []]) {
      const f = compileFinalize(t, { ...context(over), groupIds: [40, 41, 42], stagedTables: staged });
      const what = `finalize ${label}, ${staged.length} staged`;
      out.push([`${what}: scope ids`, f.scopeIds], [`${what}: counts`, f.counts(SCOPE_IDS)], [`${what}: remove`, f.remove(SCOPE_IDS)]);
    }
  }
  return out;
}

describe('merge compiler', () => {
  const names = Object.keys(TARGETS) as TargetName[];

  it('knows every target of the flow schema', () => {
    expect(names).toHaveLength(21);
  });

  describe.each(names)('%s', (name) => {
    it('names no parameter it has no value for', () => {
      for (const [label, s] of compileAll(name)) {
        if (s) expect(maxParam(s), label).toBeLessThanOrEqual(s.values.length);
      }
    });

    it('compiles to the SQL in its snapshot', async () => {
      await expect(render(compileAll(name))).toMatchFileSnapshot(`__snapshots__/merge-sql/${name}.sql`);
    });
  });
});

describe('references', () => {
  const ref = fact('prices').keys[1];

  it('creates placeholders in code order, into the entity table and external_ids', () => {
    const s = createPlaceholders(ref, context());
    expect(s.text).toContain('INSERT INTO products (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code');
    expect(s.text).toContain('INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created');
    expect(s.text).toContain(`FROM ${STAGING} WHERE "product" IS NOT NULL AND NOT _reject`);
    expect(s.values).toEqual(['product', SYSTEM]);
  });

  it('asks first whether any code is unknown, with the same parameters', () => {
    const s = anyUnknown(ref, context());
    expect(s.text).toMatch(/SELECT EXISTS \(SELECT 1 FROM staging\.run_42 s WHERE "product" IS NOT NULL AND NOT _reject/);
    expect(s.values).toEqual(['product', SYSTEM]);
  });

  it('rejects unknown codes into rejects with run, entity, system, files, field and label in order', () => {
    const s = rejectUnknown(ref, context());
    expect(s.text).toContain(`DELETE FROM ${STAGING} s WHERE "product" IS NOT NULL AND NOT s._reject`);
    expect(s.text).toContain("'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text)");
    expect(s.values).toEqual([RUN, 'product', SYSTEM, ['offers0_1.xml', 'offers0_2.xml'], 'product', 'product']);
  });

  it('names a fact duplicate by both key labels, the last row of the payload kept', () => {
    const s = rejectDuplicates(fact('prices'), context());
    expect(s.text).toContain('PARTITION BY "priceType", "product" ORDER BY _file DESC, _line DESC');
    expect(s.values).toEqual([RUN, ['offers0_1.xml', 'offers0_2.xml'], 'priceType,product', 'price type and product']);
  });
});

describe('facts', () => {
  const prices = fact('prices');

  it('upserts only rows that differ, with system, flow and run as $1 $2 $3', () => {
    const f = compileFact(prices, context());
    expect(f.upsert.text).toContain(`FROM ${STAGING} s JOIN external_ids pk ON pk.entity = 'priceType' AND pk.system = $1`);
    expect(f.upsert.text).toContain('(t.value, t.currency, t.unit, t.factor, t.tiers, t.valid_from, t.valid_until) IS DISTINCT FROM (x.value, x.currency, x.unit, x.factor, x.tiers, x.valid_from, x.valid_until)');
    expect(f.upsert.text).toContain('ON CONFLICT (price_type_id, product_id) DO UPDATE SET');
    // History names each row's file by its inbox id ($4, parallel to the run's files) with line and path.
    expect(f.upsert.text).toContain('INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value, new_value, inbox_id, line, path)');
    expect(f.upsert.text).toContain(`CASE WHEN is_new THEN 'I' ELSE 'U' END, old_value, value, ($4::bigint[])[_file + 1], _line, _path`);
    expect(f.upsert.values).toEqual([SYSTEM, FLOW, RUN, [11, 12]]);
    expect(f.insertAll.text).toMatch(/INSERT INTO prices \(price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id\)\s+SELECT .*, \$2, \$3 FROM/);
    expect(f.insertAll.values).toEqual([SYSTEM, FLOW, RUN]);
  });

  it('writes no history when the flow keeps none', () => {
    const f = compileFact(prices, context({ mode: 'snapshot', history: false }));
    expect(f.upsert.text).not.toContain('price_history');
    expect(f.remove(PART_IDS).text).not.toContain('price_history');
    // Nor binds the inbox ids it would not use (PostgreSQL refuses an untyped unused parameter).
    expect(f.upsert.values).toEqual([SYSTEM, FLOW, RUN]);
  });

  it('removes nothing in delta mode, nor in a snapshot whose group removes later', () => {
    expect(compileFact(prices, context()).removes).toBe(false);
    expect(compileFact(prices, context({ mode: 'snapshot', deferRemoval: true })).removes).toBe(false);
    expect(compileFact(prices, context({ mode: 'snapshot' })).removes).toBe(true);
  });

  it('names the price types a removal reaches beyond the payload, with the flow\'s rows in each, only for a snapshot scoped to the flow (their locks, its count)', () => {
    expect(compileFact(prices, context({ mode: 'snapshot' })).removalPartitionIds)
      .toEqual({ text: 'SELECT price_type_id AS id, count(*)::bigint AS n FROM prices WHERE flow_id = $1 GROUP BY 1', values: [FLOW] });
    expect(compileFact(fact('stock'), context({ mode: 'snapshot' })).removalPartitionIds?.text)
      .toBe('SELECT warehouse_id AS id, count(*)::bigint AS n FROM stock WHERE flow_id = $1 GROUP BY 1');
    for (const over of [{}, { mode: 'snapshot', scope: 'keys' }, { mode: 'snapshot', deferRemoval: true }] as const) {
      expect(compileFact(prices, context(over)).removalPartitionIds).toBeNull();
    }
  });

  it('scopes a snapshot to the flow, or with scope keys to the touched partitions', () => {
    const byFlow = compileFact(prices, context({ mode: 'snapshot' }));
    expect(byFlow.remove(PART_IDS).text).toContain('DELETE FROM prices t WHERE t.flow_id = $2');
    expect(byFlow.remove(PART_IDS).values).toEqual([SYSTEM, FLOW, RUN]);
    expect(byFlow.countScope(PART_IDS)).toEqual({ text: 'SELECT count(*)::bigint AS n FROM prices t WHERE t.flow_id = $1', values: [FLOW] });

    const byKeys = compileFact(prices, context({ mode: 'snapshot', scope: 'keys' }));
    expect(byKeys.remove(PART_IDS).text).toContain('DELETE FROM prices t WHERE t.price_type_id = ANY($2::int[])');
    expect(byKeys.remove(PART_IDS).values).toEqual([SYSTEM, PART_IDS, RUN]);
    expect(byKeys.countScope(PART_IDS)).toEqual({ text: 'SELECT count(*)::bigint AS n FROM prices t WHERE t.price_type_id = ANY($1::int[])', values: [PART_IDS] });
  });

  it('keeps the live rows every staged row names, rejected ones included', () => {
    const text = compileFact(prices, context({ mode: 'snapshot' })).remove(PART_IDS).text;
    const antiJoin = text.slice(text.indexOf('NOT EXISTS'));
    expect(antiJoin).not.toContain('_reject');
    expect(antiJoin).toContain('x.price_type_id = t.price_type_id AND x.product_id = t.product_id');
  });
});

describe('dimensions', () => {
  it('creates new codes and updates known ones where anything differs, with system then entity', () => {
    const d = compileDimension(spec('products'), context());
    expect(d.insertNew.text).toContain('INSERT INTO products (code, name, article, barcode, deleted, image_url, popularity, search_priority, promotion, group_id, unit_id)');
    expect(d.updateKnown.text).toContain('IS DISTINCT FROM');
    expect(d.updateKnown.text).toContain('t.placeholder OR');
    // Ranking columns other flows set keep their value when the payload has none.
    expect(d.updateKnown.text).toContain('popularity = coalesce(x.c5, t.popularity)');
    expect(d.insertNew.values).toEqual([SYSTEM, 'product']);
    expect(d.updateKnown.values).toEqual([SYSTEM, 'product']);
    expect(d.units?.text).toContain('INSERT INTO units');
  });

  it('creates units for products only', () => {
    expect(compileDimension(spec('groups'), context()).units).toBeUndefined();
  });
});

describe('keyed rows', () => {
  it('numbers parameters in the order the text uses them', () => {
    const synonyms = compileKeyed(keyed('synonyms'), context({ mode: 'snapshot' }));
    expect(synonyms.upsert.values).toEqual([FLOW, RUN]);
    expect(synonyms.upsert.text).toContain('t.flow_id IS DISTINCT FROM $1');
    expect(synonyms.remove?.text).toContain('DELETE FROM synonyms t WHERE (t.flow_id = $1)');
    expect(synonyms.remove?.values).toEqual([FLOW]);

    const values = compileKeyed(keyed('propertyValues'), context());
    expect(values.upsert.values).toEqual([SYSTEM, FLOW, RUN]);
    expect(values.upsert.text).toContain("JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1");
  });

  it('removes nothing in a delta without replaceBy', () => {
    expect(compileKeyed(keyed('propertyValues'), context()).remove).toBeUndefined();
    expect(compileKeyed(keyed('propertyValues'), context({ mode: 'snapshot', deferRemoval: true })).remove).toBeUndefined();
  });

  it('replaces the groups of replaceBy in any mode, and a snapshot scope as the scope says', () => {
    const delta = compileKeyed(keyed('productProperties'), context()).remove;
    expect(delta?.text).toContain('WHERE ((t.product_id, t.property_id) IN (SELECT product_id, property_id FROM keys))');
    expect(delta?.values).toEqual([SYSTEM]);

    const byFlow = compileKeyed(keyed('productProperties'), context({ mode: 'snapshot' })).remove;
    expect(byFlow?.text).toContain('OR t.flow_id = $2)');
    expect(byFlow?.values).toEqual([SYSTEM, FLOW]);

    const byKeys = compileKeyed(keyed('productProperties'), context({ mode: 'snapshot', scope: 'keys' })).remove;
    expect(byKeys?.text).toContain('OR t.product_id IN (SELECT product_id FROM keys))');
    expect(byKeys?.values).toEqual([SYSTEM]);
  });
});

describe('finalize of a snapshot group', () => {
  const group = { groupIds: [40, 41], stagedTables: ['staging.run_40'] };

  it('removes the flow rows no run of the group wrote nor staged', () => {
    const f = compileFinalize(fact('stock'), { ...context(), ...group });
    expect(f.scopeIds).toBeUndefined();
    const del = f.remove([]);
    expect(del.text).toContain('DELETE FROM stock t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])');
    expect(del.text).toContain("FROM staging.run_40 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1");
    expect(del.text).toContain("INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity) SELECT $4::bigint");
    expect(del.values).toEqual([SYSTEM, FLOW, [40, 41], RUN]);
    expect(f.counts([]).values).toEqual([[40, 41], FLOW]);
  });

  it('with scope keys removes only in the partitions the group carried or wrote', () => {
    const f = compileFinalize(fact('stock'), { ...context({ scope: 'keys', history: false }), ...group });
    expect(f.scopeIds?.text).toContain('SELECT DISTINCT warehouse_id AS id FROM stock WHERE run_id = ANY($2::bigint[])');
    expect(f.scopeIds?.values).toEqual([SYSTEM, [40, 41]]);
    const del = f.remove(SCOPE_IDS);
    expect(del.text).toContain('DELETE FROM stock t WHERE t.warehouse_id = ANY($2::bigint[])');
    expect(del.text).not.toContain('stock_history');
    expect(del.values).toEqual([SYSTEM, SCOPE_IDS, [40, 41]]);
  });

  it('joins keyed references the way the merge does', () => {
    const f = compileFinalize(keyed('productProperties'), { ...context(), ...group });
    const merge = compileKeyed(keyed('productProperties'), context());
    const join = "JOIN external_ids ref_product ON ref_product.entity = 'product' AND ref_product.system = $1 AND ref_product.external_id = s.\"product\"";
    expect(f.remove([]).text).toContain(join);
    expect(merge.upsert.text).toContain(join);
  });
});
