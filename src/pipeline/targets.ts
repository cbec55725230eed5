// What each canonical target looks like in staging and how its references resolve. Staging tables
// hold the canonical fields as text plus the row's position; merges (merge.ts) work from these specs.

import type { Flow } from '../schemas/types.gen.ts';

/** The targets a flow may name: the flow schema's `target` enum. */
/**
 * The targets a flow writes into the store: every target but the outbound ones — `orders` (orders go out)
 * and `reconciliationActs` (acts are asked of the ERP): nothing is merged for them.
 */
export type TargetName = Exclude<Flow['target'], 'orders' | 'reconciliationActs'>;

export type EntityKind = 'product' | 'group' | 'priceType' | 'warehouse' | 'city'
  | 'manager' | 'client' | 'legalEntity' | 'contact' | 'agreement' | 'property' | 'order';

/** A canonical field that refers to another entity by its external code. */
export interface RefSpec {
  field: string;
  entity: EntityKind;
  /** Live table of the entity and the column that holds the resolved id in the fact table. */
  table: string;
  column: string;
  label: string;
  /** An entity found by its own code (not external_ids, never a placeholder): see EntityInfo.byCode. */
  byCode?: EntityInfo['byCode'];
  notFound?: string;
}

export interface EntityInfo {
  table: string;
  label: string;
  /**
   * An entity of the portal's own, found by a code in its own table instead of external_ids: the SELECT
   * of its `internal_id` for code SQL `code`. Such an entity is never made up as a placeholder.
   */
  byCode?: (code: string) => string;
  /** Why a code was not found, after "unknown <label> '<code>'" (default: the system it was looked up in). */
  notFound?: string;
}

export const ENTITY_TABLE: Record<EntityKind, EntityInfo> = {
  product: { table: 'products', label: 'product' },
  group: { table: 'groups', label: 'group' },
  priceType: { table: 'price_types', label: 'price type' },
  warehouse: { table: 'warehouses', label: 'warehouse' },
  city: { table: 'cities', label: 'city' },
  manager: { table: 'managers', label: 'manager' },
  client: { table: 'clients', label: 'client' },
  legalEntity: { table: 'legal_entities', label: 'legal entity' },
  contact: { table: 'contacts', label: 'contact' },
  agreement: { table: 'agreements', label: 'agreement' },
  property: { table: 'properties', label: 'property' },
  // Orders are the portal's own: found by the portal's number first, else the ERP's (orders.erp_number,
  // the latest order with it).
  order: {
    table: 'orders', label: 'order', notFound: 'neither a portal order number nor an ERP number of one',
    byCode: (code) => `SELECT o.id AS internal_id FROM orders o WHERE o.number = ${code} OR o.erp_number = ${code} ORDER BY (o.number = ${code}) DESC, o.id DESC LIMIT 1`,
  },
};

function ref(field: string, entity: EntityKind, column: string): RefSpec {
  const e = ENTITY_TABLE[entity];
  return { field, entity, column, table: e.table, label: e.label, ...(e.byCode ? { byCode: e.byCode } : {}), ...(e.notFound ? { notFound: e.notFound } : {}) };
}

/** Facts: one row per pair of entities (price type × product, warehouse × product), history kept. */
export interface FactSpec {
  kind: 'fact';
  name: 'prices' | 'stock' | 'contactLegalEntities';
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
  /**
   * Validity periods (prices): rows naming any of these fields are periods of their key, kept in
   * `price_periods`; the live row is the period in force now (see merge-sql/periods.ts).
   */
  periods?: { validFrom: string; validTo: string; deleted: string };
  /**
   * false: never loaded directly. The direct load inserts the placeholders it made up only after its
   * COPY, which a live table with foreign keys to those entities refuses (contact_legal_entities →
   * contacts, legal_entities): a first load of links with autoCreate failed on the foreign key.
   */
  directLoad?: false;
}

/**
 * The product's factor for a price's unit (`ik`: the product's external id row of factKey), looked up only
 * for a row naming a unit: a lookup per row would cost a merge of millions of rows an index probe each.
 */
const UNIT_FACTOR_SQL = 'CASE WHEN s.unit IS NOT NULL THEN (SELECT pu.factor FROM product_units pu WHERE pu.product_id = ik.internal_id AND pu.unit = s.unit) END';

/** Canonical tiers text (`10:95.5;100:90`) → jsonb `[{"minQuantity":"10","price":"95.5"}, …]`, NULL when absent. */
export function tiersJsonSql(text: string): string {
  return `CASE WHEN ${text} IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('minQuantity', split_part(t.x, ':', 1), 'price', split_part(t.x, ':', 2)) ORDER BY t.n)
    FROM unnest(string_to_array(${text}, ';')) WITH ORDINALITY t(x, n)) END`;
}

/** A settlements row's agreement: its code in the run's system (the legal entity's join names the system). */
const AGREEMENT_OF_ROW_SQL = `(SELECT ag.internal_id FROM external_ids ag WHERE ag.entity = 'agreement' AND ag.system = ref_legalEntity.system AND ag.external_id = s.agreement)`;

/** Dimensions: entities identified by external code, created or updated in place. */
export interface DimensionSpec {
  kind: 'dimension';
  name: 'products' | 'groups' | 'priceTypes' | 'warehouses' | 'cities' | 'managers' | 'clients' | 'legalEntities' | 'contacts' | 'agreements'
    | 'properties';
  entity: EntityKind;
  fields: string[];
  table: string;
  /**
   * Live columns set from plain fields: column ← SQL expression over staging row `s`. `keep`: a NULL
   * (the field absent from the payload) keeps the stored value, for columns other flows may set.
   */
  values: Array<{ column: string; expr: string; keep?: boolean }>;
  /** References to other entities resolved (and auto-created) before the upsert. */
  refs: RefSpec[];
}

/**
 * Keyed rows: a live table with a natural key (some key columns resolved references), upserted with
 * the flow and run that wrote them. Removal: a snapshot removes the flow's absent rows (scope flow) or
 * the absent rows of the `scopeColumn` values the payload names (scope keys); `replaceBy` makes every
 * payload, snapshot or not, replace the live rows sharing those columns with a payload row.
 */
export interface KeyedSpec {
  kind: 'keyed';
  name: 'propertyValues' | 'productProperties' | 'productUnits' | 'synonyms' | 'receivables' | 'settlementEntries' | 'orderDocuments';
  fields: string[];
  table: string;
  /** Key columns, each from a canonical field: the resolved id of a reference (`ref`), else the field's text. */
  keys: Array<{ column: string; field: string; ref?: RefSpec }>;
  /** Value columns ← SQL over staging row `s` and the resolved references, joined as `ref_<field>`. */
  /** `keep`: a NULL (the field absent from the payload) keeps the stored value. */
  values: Array<{ column: string; expr: string; keep?: boolean }>;
  scopeColumn?: string;
  replaceBy?: string[];
}

export type TargetSpec = FactSpec | DimensionSpec | KeyedSpec;

const SPECS = {
  prices: {
    kind: 'fact',
    name: 'prices',
    fields: ['product', 'priceType', 'price', 'currency', 'unit', 'factor', 'tiers', 'validFrom', 'validTo', 'deleted'],
    table: 'prices',
    historyTable: 'price_history',
    keys: [ref('priceType', 'priceType', 'price_type_id'), ref('product', 'product', 'product_id')],
    values: [
      { column: 'value', expr: 's.price::numeric(20,6)' },
      { column: 'currency', expr: 's.currency' },
      { column: 'unit', expr: 's.unit' },
      // A unit without a factor: the product's own factor for that unit (its product units), else 1.
      { column: 'factor', expr: `coalesce(s.factor::numeric(20,6), ${UNIT_FACTOR_SQL}, 1)` },
      { column: 'tiers', expr: tiersJsonSql('s.tiers') },
      // A price without validity holds always: a key a validity source wrote before loses its bounds.
      { column: 'valid_from', expr: 'NULL::timestamptz' },
      { column: 'valid_until', expr: 'NULL::timestamptz' },
    ],
    periods: { validFrom: 'validFrom', validTo: 'validTo', deleted: 'deleted' },
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
    fields: ['code', 'name', 'article', 'barcode', 'group', 'unit', 'deleted', 'imageUrl', 'popularity', 'searchPriority', 'promotion'],
    table: 'products',
    values: [
      { column: 'name', expr: 's.name' },
      { column: 'article', expr: 's.article' },
      { column: 'barcode', expr: 's.barcode' },
      { column: 'deleted', expr: "coalesce(s.deleted = 'true', false)" },
      { column: 'image_url', expr: 's."imageUrl"' },
      // Ranking is often reported by another flow (orders, views) than the catalog export.
      { column: 'popularity', expr: 's.popularity::bigint', keep: true },
      { column: 'search_priority', expr: 's."searchPriority"::integer', keep: true },
      // The promotion belongs to the catalog export that carries it: a row without one ends it.
      { column: 'promotion', expr: 's.promotion' },
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
    fields: ['code', 'name', 'priceType'],
    table: 'cities',
    values: [{ column: 'name', expr: 's.name' }],
    refs: [ref('priceType', 'priceType', 'price_type_id')],
  },
  // Counterparties (migration 0003): dimensions by code like the catalog; the contact ↔ legal entity
  // links are a fact keyed by both, so a snapshot can replace a flow's links.
  managers: {
    kind: 'dimension',
    name: 'managers',
    entity: 'manager',
    fields: ['code', 'name', 'email', 'phone', 'photoUrl', 'active'],
    table: 'managers',
    values: [
      { column: 'name', expr: 's.name' }, { column: 'email', expr: 's.email' }, { column: 'phone', expr: 's.phone' }, { column: 'photo_url', expr: 's."photoUrl"' },
      // A row without the field is an active manager (files and CRMs that do not say).
      { column: 'active', expr: "coalesce(s.active <> 'false', true)" },
    ],
    refs: [],
  },
  clients: {
    kind: 'dimension',
    name: 'clients',
    entity: 'client',
    fields: ['code', 'name', 'manager', 'city', 'email', 'phone', 'blocked'],
    table: 'clients',
    values: [
      { column: 'name', expr: 's.name' },
      { column: 'email', expr: 's.email' },
      { column: 'phone', expr: 's.phone' },
      { column: 'blocked', expr: "coalesce(s.blocked = 'true', false)" },
    ],
    refs: [ref('manager', 'manager', 'manager_id'), ref('city', 'city', 'city_id')],
  },
  legalEntities: {
    kind: 'dimension',
    name: 'legalEntities',
    entity: 'legalEntity',
    fields: ['code', 'client', 'name', 'fullName', 'inn', 'kpp', 'ogrn', 'address', 'bankName', 'bik', 'account', 'corrAccount', 'deleted'],
    table: 'legal_entities',
    values: [
      { column: 'name', expr: 's.name' },
      { column: 'full_name', expr: 's."fullName"' },
      { column: 'inn', expr: 's.inn' },
      { column: 'kpp', expr: 's.kpp' },
      { column: 'ogrn', expr: 's.ogrn' },
      { column: 'address', expr: 's.address' },
      { column: 'bank_name', expr: 's."bankName"' },
      { column: 'bik', expr: 's.bik' },
      { column: 'account', expr: 's.account' },
      { column: 'corr_account', expr: 's."corrAccount"' },
      { column: 'deleted', expr: "coalesce(s.deleted = 'true', false)" },
    ],
    refs: [ref('client', 'client', 'client_id')],
  },
  contacts: {
    kind: 'dimension',
    name: 'contacts',
    entity: 'contact',
    fields: ['code', 'client', 'name', 'email', 'phone', 'position', 'deleted'],
    table: 'contacts',
    values: [
      { column: 'name', expr: 's.name' },
      { column: 'email', expr: 's.email' },
      { column: 'phone', expr: 's.phone' },
      { column: 'position', expr: 's.position' },
      { column: 'deleted', expr: "coalesce(s.deleted = 'true', false)" },
    ],
    refs: [ref('client', 'client', 'client_id')],
  },
  contactLegalEntities: {
    kind: 'fact',
    name: 'contactLegalEntities',
    fields: ['contact', 'legalEntity', 'role'],
    table: 'contact_legal_entities',
    historyTable: 'contact_legal_entity_history',
    keys: [ref('legalEntity', 'legalEntity', 'legal_entity_id'), ref('contact', 'contact', 'contact_id')],
    values: [{ column: 'role', expr: "coalesce(s.role, 'subordinate')" }],
    historyValue: { column: 'role', oldColumn: 'old_role', newColumn: 'new_role' },
    direct: [{ column: 'role', field: 'role', default: 'subordinate' }],
    directLoad: false,
  },
  agreements: {
    kind: 'dimension',
    name: 'agreements',
    entity: 'agreement',
    fields: ['code', 'name', 'client', 'legalEntity', 'priceType', 'discountPercent', 'creditLimit', 'paymentDelayDays', 'currency', 'deleted'],
    table: 'agreements',
    values: [
      { column: 'name', expr: 's.name' },
      { column: 'discount_percent', expr: 'coalesce(s."discountPercent"::numeric(7,4), 0)' },
      { column: 'credit_limit', expr: 's."creditLimit"::numeric(20,2)' },
      { column: 'payment_delay_days', expr: 's."paymentDelayDays"::integer' },
      { column: 'currency', expr: 's.currency' },
      { column: 'deleted', expr: "coalesce(s.deleted = 'true', false)" },
    ],
    refs: [ref('client', 'client', 'client_id'), ref('legalEntity', 'legalEntity', 'legal_entity_id'), ref('priceType', 'priceType', 'price_type_id')],
  },
  // Product properties (migration 0004): properties are dimensions; their dictionaries and the
  // products' values are keyed rows. A product's value of a reference property is the entry's code,
  // linked to the entry (value_id) when it is known — here, or by a trigger when the entry comes later.
  properties: {
    kind: 'dimension',
    name: 'properties',
    entity: 'property',
    fields: ['code', 'name', 'valueType', 'suggest'],
    table: 'properties',
    values: [
      { column: 'name', expr: 's.name' },
      { column: 'value_type', expr: `coalesce(s."valueType", 'string')` },
      { column: 'suggest', expr: "coalesce(s.suggest = 'true', false)" },
    ],
    refs: [],
  },
  propertyValues: {
    kind: 'keyed',
    name: 'propertyValues',
    fields: ['property', 'code', 'value'],
    table: 'property_values',
    keys: [{ column: 'property_id', field: 'property', ref: ref('property', 'property', 'property_id') }, { column: 'code', field: 'code' }],
    values: [{ column: 'value', expr: 's.value' }],
    scopeColumn: 'property_id',
  },
  productProperties: {
    kind: 'keyed',
    name: 'productProperties',
    fields: ['product', 'property', 'value'],
    table: 'product_properties',
    keys: [
      { column: 'product_id', field: 'product', ref: ref('product', 'product', 'product_id') },
      { column: 'property_id', field: 'property', ref: ref('property', 'property', 'property_id') },
      { column: 'value', field: 'value' },
    ],
    values: [{ column: 'value_id', expr: '(SELECT pv.id FROM property_values pv WHERE pv.property_id = ref_property.internal_id AND pv.code = s.value)' }],
    scopeColumn: 'product_id',
    replaceBy: ['product_id', 'property_id'],
  },
  // Alternative units of a product (a box of 12): a payload's units of a product replace its set.
  productUnits: {
    kind: 'keyed',
    name: 'productUnits',
    fields: ['product', 'unit', 'factor', 'barcode'],
    table: 'product_units',
    keys: [{ column: 'product_id', field: 'product', ref: ref('product', 'product', 'product_id') }, { column: 'unit', field: 'unit' }],
    values: [{ column: 'factor', expr: 's.factor::numeric(20,6)' }, { column: 'barcode', expr: 's.barcode' }],
    scopeColumn: 'product_id',
    replaceBy: ['product_id'],
  },
  synonyms: {
    kind: 'keyed',
    name: 'synonyms',
    fields: ['term', 'synonyms'],
    table: 'synonyms',
    keys: [{ column: 'term', field: 'term' }],
    values: [{
      column: 'synonyms',
      expr: `ARRAY(SELECT DISTINCT btrim(x) FROM regexp_split_to_table(s.synonyms, '[,;|]') x WHERE btrim(x) <> '' ORDER BY 1)`,
    }],
  },
  // Settlements (migration 0024): documents owed and movements, keyed by legal entity and the ERP's key.
  // A snapshot with scope keys replaces the documents of the legal entities it names (a paid document
  // disappears); a delta updates single documents (owed 0 is paid). The agreement is looked up in the
  // run's system (the legal entity's join names it); an unknown agreement leaves the debt outside any.
  receivables: {
    kind: 'keyed',
    name: 'receivables',
    fields: ['legalEntity', 'document', 'agreement', 'kind', 'number', 'date', 'amount', 'owed', 'currency', 'dueDate', 'order'],
    table: 'receivables',
    keys: [{ column: 'legal_entity_id', field: 'legalEntity', ref: ref('legalEntity', 'legalEntity', 'legal_entity_id') }, { column: 'document', field: 'document' }],
    values: [
      { column: 'agreement_id', expr: AGREEMENT_OF_ROW_SQL },
      { column: 'kind', expr: 's.kind' },
      { column: 'number', expr: 's.number' },
      { column: 'doc_date', expr: 's.date::date' },
      { column: 'amount', expr: 's.amount::numeric(20,2)' },
      { column: 'owed', expr: 's.owed::numeric(20,2)' },
      { column: 'currency', expr: 's.currency' },
      { column: 'due_date', expr: 's."dueDate"::date' },
      { column: 'order_ref', expr: 's."order"' },
    ],
    scopeColumn: 'legal_entity_id',
  },
  settlementEntries: {
    kind: 'keyed',
    name: 'settlementEntries',
    fields: ['legalEntity', 'entry', 'agreement', 'date', 'documentKind', 'documentNumber', 'debit', 'credit', 'currency'],
    table: 'settlement_entries',
    keys: [{ column: 'legal_entity_id', field: 'legalEntity', ref: ref('legalEntity', 'legalEntity', 'legal_entity_id') }, { column: 'entry', field: 'entry' }],
    values: [
      { column: 'agreement_id', expr: AGREEMENT_OF_ROW_SQL },
      { column: 'entry_date', expr: 's.date::date' },
      { column: 'document_kind', expr: 's."documentKind"' },
      { column: 'document_number', expr: 's."documentNumber"' },
      { column: 'debit', expr: 'coalesce(s.debit::numeric(20,2), 0)' },
      { column: 'credit', expr: 'coalesce(s.credit::numeric(20,2), 0)' },
      { column: 'currency', expr: 's.currency' },
    ],
    scopeColumn: 'legal_entity_id',
  },
  // Closing documents of orders (migration 0027): the metadata the ERP sends and, through file.documents,
  // the file it stored by sha256. What a payload leaves out keeps what the store has (the 1C sale exchange
  // may have reported the document without a file); a snapshot removes only what this flow wrote.
  orderDocuments: {
    kind: 'keyed',
    name: 'orderDocuments',
    fields: ['order', 'kind', 'number', 'date', 'amount', 'fileName', 'sha256', 'size', 'contentType'],
    table: 'order_documents',
    keys: [{ column: 'order_id', field: 'order', ref: ref('order', 'order', 'order_id') }, { column: 'kind', field: 'kind' }, { column: 'number', field: 'number' }],
    values: [
      { column: 'date', expr: 's.date::date', keep: true },
      { column: 'amount', expr: 's.amount::numeric(20,2)', keep: true },
      { column: 'file_name', expr: 's."fileName"', keep: true },
      { column: 'sha256', expr: 's.sha256', keep: true },
      { column: 'size_bytes', expr: 's.size::bigint', keep: true },
      { column: 'content_type', expr: 's."contentType"', keep: true },
      { column: 'source', expr: "'flow'::text" },
    ],
  },
} satisfies Record<TargetName, TargetSpec>;

/**
 * Every target by name. Also indexable by a plain string (undefined when unknown): connectors rank
 * the targets their payloads name before any flow has validated them.
 */
export const TARGETS: typeof SPECS & Readonly<Partial<Record<string, TargetSpec>>> = SPECS;

export function targetSpec(name: Flow['target']): TargetSpec {
  const t = TARGETS[name as string];
  // An outbound flow (target `orders`) never gets a run: receive and pull refuse it (src/pipeline/outbound-flows.ts).
  if (name === 'orders' || name === 'reconciliationActs') throw new Error(`target ${name} is outbound: it has no merge`);
  // A definition read from the database was validated when stored, but may predate a target's removal.
  if (!t) throw new Error(`unknown target ${name}`);
  return t;
}

/** Fields that identify a row of the target: a rejected row with readable keys still names its live row. */
export function keyFields(spec: TargetSpec): string[] {
  return spec.kind === 'fact' || spec.kind === 'keyed' ? spec.keys.map((k) => k.field) : ['code'];
}

/**
 * Staging columns: canonical fields as text (quoted: they are camelCase), then the row's position
 * and `_reject`: a row that failed validation but whose key could be read. A snapshot does not
 * remove the live row such a row speaks of — a bad value must not delete a good price. `_path`: the
 * element path of a row the merge will likely reject (see PathHints), NULL for the others.
 */
export function stagingColumnsSql(spec: TargetSpec): string {
  return [...spec.fields.map((f) => `"${f}" text`), '_line integer', '_file smallint', '_reject boolean NOT NULL', '_path text'].join(', ');
}

export function stagingColumnList(spec: TargetSpec): string {
  return [...spec.fields.map((f) => `"${f}"`), '_line', '_file', '_reject', '_path'].join(', ');
}

/** The references of a target's rows: both keys of a fact, a dimension's refs, a keyed row's key refs. */
export function refsOf(spec: TargetSpec): RefSpec[] {
  if (spec.kind === 'fact') return [...spec.keys];
  if (spec.kind === 'dimension') return spec.refs;
  return spec.keys.flatMap((k) => (k.ref ? [k.ref] : []));
}
