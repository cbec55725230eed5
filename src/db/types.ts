// Kysely table types of the datastore (mirrors src/db/migrations). Canonical payload shapes live in
// schemas/; these are the storage rows.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = Date;
type Numeric = ColumnType<string, string | number, string | number>;

export interface FlowsTable {
  id: Generated<number>;
  name: string;
  definition: ColumnType<unknown, string, string>;
  version: Generated<number>;
  paused: Generated<boolean>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface InboxTable {
  id: Generated<number>;
  flow_id: number;
  file_name: string;
  path: string;
  sha256: string;
  size_bytes: number;
  content_type: string | null;
  received_at: Generated<Timestamp>;
}

export type RunState = 'received' | 'extracting' | 'staged' | 'merging' | 'held' | 'done' | 'failed' | 'rejected';
export const TERMINAL_STATES: readonly RunState[] = ['done', 'failed', 'rejected'];

export interface RunsTable {
  id: Generated<number>;
  flow_id: number;
  inbox_ids: number[];
  state: Generated<RunState>;
  mode: 'delta' | 'snapshot';
  target: string;
  approved: Generated<boolean>;
  load_path: Generated<'staged' | 'direct'>;
  replay_of: number | null;
  attempts: Generated<number>;
  rows_read: Generated<number>;
  rows_staged: Generated<number>;
  rows_rejected: Generated<number>;
  rows_inserted: Generated<number>;
  rows_updated: Generated<number>;
  rows_unchanged: Generated<number>;
  rows_removed: Generated<number>;
  rows_in_scope: number | null;
  error_code: string | null;
  error: string | null;
  held_reason: string | null;
  received_at: Generated<Timestamp>;
  started_at: Timestamp | null;
  staged_at: Timestamp | null;
  finished_at: Timestamp | null;
  extract_ms: number | null;
  merge_ms: number | null;
}

export interface RejectsTable {
  id: Generated<number>;
  run_id: number;
  file_name: string | null;
  line: number | null;
  path: string | null;
  field: string | null;
  rule: string | null;
  reason: string;
  record: ColumnType<unknown, string | null, string | null> | null;
}

export interface ChangeLogTable {
  id: Generated<number>;
  run_id: number;
  entity: string;
  inserted: number;
  updated: number;
  removed: number;
  at: Generated<Timestamp>;
}

export interface ExternalIdsTable {
  entity: 'product' | 'group' | 'priceType' | 'warehouse' | 'city' | 'unit';
  system: string;
  external_id: string;
  internal_id: number;
  created_at: Generated<Timestamp>;
}

interface Named {
  code: string;
  name: string;
  placeholder: Generated<boolean>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface CitiesTable extends Named { id: Generated<number> }
export interface PriceTypesTable extends Named { id: Generated<number>; currency: string | null; city_id: number | null }
export interface WarehousesTable extends Named { id: Generated<number>; city_id: number | null }
export interface GroupsTable extends Named { id: Generated<number>; parent_id: number | null; deleted: Generated<boolean>; run_id: number | null }
export interface ProductsTable extends Named {
  id: Generated<number>;
  article: string | null;
  barcode: string | null;
  group_id: number | null;
  unit_id: number | null;
  deleted: Generated<boolean>;
  run_id: number | null;
}
export interface UnitsTable { id: Generated<number>; code: string; name: string; okei: string | null }

export interface PricesTable {
  price_type_id: number;
  product_id: number;
  value: Numeric;
  currency: string;
  unit: string | null;
  factor: Numeric;
  flow_id: number;
  run_id: number;
  updated_at: Generated<Timestamp>;
}

export interface StockTable {
  warehouse_id: number;
  product_id: number;
  quantity: Numeric;
  flow_id: number;
  run_id: number;
  updated_at: Generated<Timestamp>;
}

export interface PriceHistoryTable {
  run_id: number;
  price_type_id: number;
  product_id: number;
  op: 'U' | 'D';
  old_value: string | null;
  new_value: string | null;
  at: Generated<Timestamp>;
}

export interface StockHistoryTable {
  run_id: number;
  warehouse_id: number;
  product_id: number;
  op: 'U' | 'D';
  old_quantity: string | null;
  new_quantity: string | null;
  at: Generated<Timestamp>;
}

export interface Database {
  flows: FlowsTable;
  inbox: InboxTable;
  runs: RunsTable;
  rejects: RejectsTable;
  change_log: ChangeLogTable;
  external_ids: ExternalIdsTable;
  cities: CitiesTable;
  price_types: PriceTypesTable;
  warehouses: WarehousesTable;
  groups: GroupsTable;
  products: ProductsTable;
  units: UnitsTable;
  prices: PricesTable;
  stock: StockTable;
  price_history: PriceHistoryTable;
  stock_history: StockHistoryTable;
}
