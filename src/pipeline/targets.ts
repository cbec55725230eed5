// What each canonical target looks like in staging and how its references resolve. Staging tables
// hold the canonical fields as text plus the row's position; merges (merge.ts) work from these specs.

export type EntityKind = 'product' | 'group' | 'priceType' | 'warehouse' | 'city';

/** A canonical field that refers to another entity by its external code. */
export interface RefSpec {
  field: string;
  entity: EntityKind;
  /** Live table of the entity and the column that holds the resolved id in the fact table. */
  table: string;
  column: string;
  label: string;
}

export const ENTITY_TABLE: Record<EntityKind, { table: string; label: string }> = {
  product: { table: 'products', label: 'product' },
  group: { table: 'groups', label: 'group' },
  priceType: { table: 'price_types', label: 'price type' },
  warehouse: { table: 'warehouses', label: 'warehouse' },
  city: { table: 'cities', label: 'city' },
};

function ref(field: string, entity: EntityKind, column: string): RefSpec {
  return { field, entity, column, table: ENTITY_TABLE[entity].table, label: ENTITY_TABLE[entity].label };
}

/** Facts: one row per pair of entities (price type × product, warehouse × product), history kept. */
export interface FactSpec {
  kind: 'fact';
  name: 'prices' | 'stock';
  fields: string[];
  table: string;
  historyTable: string;
  /** Both key references; the first one is the partition key (price type, warehouse). */
  keys: [RefSpec, RefSpec];
  /** Live value columns and the SQL expression computing each from staging row `s`. */
  values: Array<{ column: string; expr: string }>;
  /** The value whose old and new versions the history keeps. */
  historyValue: { column: string; oldColumn: string; newColumn: string };
  /** Live value columns filled straight from canonical fields by a direct load (default when absent). */
  direct: Array<{ column: string; field: string; default?: string }>;
}

/** Dimensions: entities identified by external code, created or updated in place. */
export interface DimensionSpec {
  kind: 'dimension';
  name: 'products' | 'groups' | 'priceTypes' | 'warehouses' | 'cities';
  entity: EntityKind;
  fields: string[];
  table: string;
  /** Live columns set from plain fields: column ← SQL expression over staging row `s`. */
  values: Array<{ column: string; expr: string }>;
  /** References to other entities resolved (and auto-created) before the upsert. */
  refs: RefSpec[];
}

export type TargetSpec = FactSpec | DimensionSpec;

export const TARGETS: Record<string, TargetSpec> = {
  prices: {
    kind: 'fact',
    name: 'prices',
    fields: ['product', 'priceType', 'price', 'currency', 'unit', 'factor'],
    table: 'prices',
    historyTable: 'price_history',
    keys: [ref('priceType', 'priceType', 'price_type_id'), ref('product', 'product', 'product_id')],
    values: [
      { column: 'value', expr: 's.price::numeric(20,6)' },
      { column: 'currency', expr: 's.currency' },
      { column: 'unit', expr: 's.unit' },
      { column: 'factor', expr: 'coalesce(s.factor::numeric(20,6), 1)' },
    ],
    historyValue: { column: 'value', oldColumn: 'old_value', newColumn: 'new_value' },
    direct: [
      { column: 'value', field: 'price' },
      { column: 'currency', field: 'currency' },
      { column: 'unit', field: 'unit' },
      { column: 'factor', field: 'factor', default: '1' },
    ],
  },
  stock: {
    kind: 'fact',
    name: 'stock',
    fields: ['product', 'warehouse', 'quantity'],
    table: 'stock',
    historyTable: 'stock_history',
    keys: [ref('warehouse', 'warehouse', 'warehouse_id'), ref('product', 'product', 'product_id')],
    values: [{ column: 'quantity', expr: 's.quantity::numeric(20,6)' }],
    historyValue: { column: 'quantity', oldColumn: 'old_quantity', newColumn: 'new_quantity' },
    direct: [{ column: 'quantity', field: 'quantity' }],
  },
  products: {
    kind: 'dimension',
    name: 'products',
    entity: 'product',
    fields: ['code', 'name', 'article', 'barcode', 'group', 'unit', 'deleted'],
    table: 'products',
    values: [
      { column: 'name', expr: 's.name' },
      { column: 'article', expr: 's.article' },
      { column: 'barcode', expr: 's.barcode' },
      { column: 'deleted', expr: "coalesce(s.deleted = 'true', false)" },
    ],
    refs: [ref('group', 'group', 'group_id')],
  },
  groups: {
    kind: 'dimension',
    name: 'groups',
    entity: 'group',
    fields: ['code', 'name', 'parent'],
    table: 'groups',
    values: [{ column: 'name', expr: 's.name' }],
    refs: [ref('parent', 'group', 'parent_id')],
  },
  priceTypes: {
    kind: 'dimension',
    name: 'priceTypes',
    entity: 'priceType',
    fields: ['code', 'name', 'currency', 'city'],
    table: 'price_types',
    values: [{ column: 'name', expr: 's.name' }, { column: 'currency', expr: 's.currency' }],
    refs: [ref('city', 'city', 'city_id')],
  },
  warehouses: {
    kind: 'dimension',
    name: 'warehouses',
    entity: 'warehouse',
    fields: ['code', 'name', 'city'],
    table: 'warehouses',
    values: [{ column: 'name', expr: 's.name' }],
    refs: [ref('city', 'city', 'city_id')],
  },
  cities: {
    kind: 'dimension',
    name: 'cities',
    entity: 'city',
    fields: ['code', 'name'],
    table: 'cities',
    values: [{ column: 'name', expr: 's.name' }],
    refs: [],
  },
};

export function targetSpec(name: string): TargetSpec {
  const t = TARGETS[name];
  if (!t) throw new Error(`unknown target ${name}`);
  return t;
}

/** Fields that identify a row of the target: a rejected row with readable keys still names its live row. */
export function keyFields(spec: TargetSpec): string[] {
  return spec.kind === 'fact' ? spec.keys.map((k) => k.field) : ['code'];
}

/**
 * Staging columns: canonical fields as text (quoted: they are camelCase), then the row's position
 * and `_reject`: a row that failed validation but whose key could be read. A snapshot does not
 * remove the live row such a row speaks of — a bad value must not delete a good price.
 */
export function stagingColumnsSql(spec: TargetSpec): string {
  return [...spec.fields.map((f) => `"${f}" text`), '_line integer', '_file smallint', '_reject boolean NOT NULL'].join(', ');
}

export function stagingColumnList(spec: TargetSpec): string {
  return [...spec.fields.map((f) => `"${f}"`), '_line', '_file', '_reject'].join(', ');
}
