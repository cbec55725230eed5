// Kysely table types of the datastore (mirrors src/db/migrations). Canonical payload shapes live in
// schemas/; these are the storage rows.
import type { ColumnType, Generated, JSONColumnType } from 'kysely';
import type { Flow } from '../schemas/types.gen.ts';
import type { HeldSample, RunDecision } from '../pipeline/held-sample.ts';

type Timestamp = Date;
type Numeric = ColumnType<string, string | number, string | number>;

export interface FlowsTable {
  id: Generated<number>;
  name: string;
  /** Stored as jsonb, written as its JSON text. */
  definition: JSONColumnType<Flow, string, string>;
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
  /** Set while (and after) the file arrived in pieces after its runs were made: its inbox_growth row. */
  growth_key: Generated<string | null>;
}

export interface InboxGrowthTable {
  key: string;
  committed_bytes: Generated<number>;
  state: Generated<'growing' | 'sealed' | 'abandoned'>;
  error: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
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
  /** When the run was last held (migration 0033). */
  held_at: Timestamp | null;
  received_at: Generated<Timestamp>;
  started_at: Timestamp | null;
  staged_at: Timestamp | null;
  finished_at: Timestamp | null;
  extract_ms: number | null;
  merge_ms: number | null;
  mode_declared: Generated<boolean>;
  depends_on: Generated<number[]>;
  snapshot_group: string | null;
  kind: Generated<'payload' | 'finalize'>;
  staging_kept: Generated<boolean>;
  read_with: number | null;
  /** The idempotency key a connector received the payload with (migration 0011). */
  receipt_key: string | null;
  /** The run whose merge carried this run's rows (a group merge, migration 0014). */
  merged_with: number | null;
  /** Set on a run made by a coalescing receipt: the bytes of its files; later receipts may join it while it is received (migration 0016). */
  coalesce_bytes: number | null;
  /** What a held run would change: a few rows of each kind, old → new (migration 0036, src/pipeline/held-sample.ts). */
  held_sample: ColumnType<HeldSample | null, string | null, string | null>;
  /** A person's decision on a held run (migration 0036). */
  decision: ColumnType<RunDecision | null, string | null, string | null>;
  /** Rows the extract found equal to the flow's last accepted snapshot and did not stage (migration 0040). */
  rows_skipped: Generated<number>;
  /** The run whose fingerprint this run's extract compared against (null: none was used). */
  fingerprint_base: number | null;
  /** The extract wrote this run's own fingerprint file (src/pipeline/fingerprints.ts). */
  fingerprint_written: Generated<boolean>;
  /** Read this run without a fingerprint (its merge found the one it used no longer true). */
  fingerprint_off: Generated<boolean>;
  /** A fingerprinted snapshot: the flow's rows per partition key ([{ id, n }]) when its read began (migration 0041). */
  fingerprint_held: Array<{ id: number; n: number }> | null;
}

/** A flow's fingerprint: which run's file holds its last accepted snapshot, and whether it is still true (migration 0040). */
export interface FingerprintsTable {
  flow_id: number;
  target: string;
  run_id: number;
  definition_hash: string;
  rows: number;
  valid: Generated<boolean>;
  activated_at: Generated<Timestamp>;
  invalidated_at: Timestamp | null;
  invalidated_by: string | null;
}

/** Every receipt key a run answers for, with the inbox row the receipt brought (migration 0016). */
export interface RunReceiptsTable {
  key: string;
  run_id: number;
  inbox_id: number | null;
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
  entity: 'product' | 'group' | 'priceType' | 'warehouse' | 'city' | 'unit' | 'manager' | 'client' | 'legalEntity' | 'contact' | 'agreement';
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

export interface CitiesTable extends Named { id: Generated<number>; price_type_id: Generated<number | null> }
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
  // Migration 0004: ranking (NULL: never set, read as 0) and facet keys (kept by triggers).
  image_url: string | null;
  popularity: number | null;
  search_priority: number | null;
  facets: Generated<string[]>;
  /** Migration 0022: the promotion label shown on the product; NULL: not on promotion. */
  promotion: string | null;
}

// Catalog and search (migration 0004): properties, their dictionaries and product values; the search
// documents, word list and synonyms (kept by triggers and flows, read by src/api/portal/catalog*, search*).
export interface PropertiesTable extends Named {
  id: Generated<number>;
  value_type: Generated<'string' | 'number' | 'boolean' | 'reference'>;
  suggest: Generated<boolean>;
}
export interface PropertyValuesTable {
  id: Generated<number>;
  property_id: number;
  code: string;
  value: string;
  flow_id: number | null;
  run_id: number | null;
  updated_at: Generated<Timestamp>;
}
export interface ProductPropertiesTable {
  product_id: number;
  property_id: number;
  value: string;
  value_id: number | null;
  flow_id: number | null;
  run_id: number | null;
  updated_at: Generated<Timestamp>;
}
export interface FacetKeysTable { key: string; property_id: number; value: string }
export interface ProductSearchTable {
  product_id: number;
  base: Generated<string>;
  props: Generated<string>;
  doc: Generated<string>;
  pri: Generated<number>;
  pop: Generated<number>;
}
export interface SearchWordsTable { word: string }
export interface SynonymsTable {
  term: string;
  synonyms: string[];
  keys: Generated<string[]>;
  flow_id: number | null;
  run_id: number | null;
  updated_at: Generated<Timestamp>;
}
export interface UnitsTable { id: Generated<number>; code: string; name: string; okei: string | null }

export interface PricesTable {
  price_type_id: number;
  product_id: number;
  value: Numeric;
  currency: string;
  unit: string | null;
  factor: Numeric;
  /** Quantity tiers `[{minQuantity, price}]` (migration 0012). */
  tiers: unknown;
  /** The period in force (from prices with validity); NULL for prices without one. */
  valid_from: Timestamp | null;
  valid_until: Timestamp | null;
  flow_id: number;
  run_id: number;
  updated_at: Generated<Timestamp>;
}

/** Every validity period of a price of a source that sends validity (migration 0012). */
export interface PricePeriodsTable {
  price_type_id: number;
  product_id: number;
  valid_from: Timestamp;
  valid_until: Timestamp | null;
  value: Numeric;
  currency: string;
  unit: string | null;
  factor: Numeric;
  tiers: unknown;
  flow_id: number;
  run_id: number;
  updated_at: Generated<Timestamp>;
}

export interface ProductUnitsTable {
  product_id: number;
  unit: string;
  factor: Numeric;
  barcode: string | null;
  flow_id: number | null;
  run_id: number | null;
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
  /** I: first appearance through a merge (a first load writes none), U: value changed, D: removed. */
  op: 'I' | 'U' | 'D';
  old_value: string | null;
  new_value: string | null;
  /** Where the value came from (migration 0031): the inbox file, its line, the element path when the line alone does not say. */
  inbox_id: number | null;
  line: number | null;
  path: string | null;
  at: Generated<Timestamp>;
}

export interface StockHistoryTable {
  run_id: number;
  warehouse_id: number;
  product_id: number;
  op: 'I' | 'U' | 'D';
  old_quantity: string | null;
  new_quantity: string | null;
  /** Where the value came from (migration 0031): the inbox file, its line, the element path when the line alone does not say. */
  inbox_id: number | null;
  line: number | null;
  path: string | null;
  at: Generated<Timestamp>;
}

// Portal side (migration 0003): counterparties, city bindings, API keys, orders.
export interface PortalSettingsTable { key: string; value: string; updated_at: Generated<Timestamp> }
export interface ManagersTable extends Named {
  id: Generated<number>;
  email: string | null;
  phone: string | null;
  photo_url: string | null;
  /** Migration 0026: false once the CRM or the managers file says the manager left (sessions stop). */
  active: Generated<boolean>;
}
export interface ClientsTable extends Named {
  id: Generated<number>;
  manager_id: number | null;
  city_id: number | null;
  email: string | null;
  phone: string | null;
  blocked: Generated<boolean>;
  /** Self-registered on the portal and not yet approved by a manager (migration 0021). */
  pending: Generated<boolean>;
}
export interface LegalEntitiesTable extends Named {
  id: Generated<number>;
  client_id: number | null;
  full_name: string | null;
  inn: string | null;
  kpp: string | null;
  ogrn: string | null;
  address: string | null;
  bank_name: string | null;
  bik: string | null;
  account: string | null;
  corr_account: string | null;
  deleted: Generated<boolean>;
}
export interface ContactsTable extends Named {
  id: Generated<number>;
  client_id: number | null;
  email: string | null;
  phone: string | null;
  position: string | null;
  deleted: Generated<boolean>;
}
export interface ContactLegalEntitiesTable {
  legal_entity_id: number;
  contact_id: number;
  role: Generated<'head' | 'subordinate'>;
  flow_id: number;
  run_id: number;
  updated_at: Generated<Timestamp>;
}
export interface AgreementsTable extends Named {
  id: Generated<number>;
  client_id: number | null;
  legal_entity_id: number | null;
  price_type_id: number | null;
  discount_percent: ColumnType<string, string | number | undefined, string | number>;
  credit_limit: Numeric | null;
  payment_delay_days: number | null;
  currency: string | null;
  deleted: Generated<boolean>;
}
export interface ApiKeysTable {
  id: Generated<number>;
  name: string;
  key_hash: string;
  prefix: string;
  scopes: string[];
  client_id: number | null;
  rate_per_min: Generated<number>;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  created_at: Generated<Timestamp>;
}
export interface OrderStatusesTable { code: string; name: string; final: Generated<boolean>; sort: number | null }
export interface OrdersTable {
  id: Generated<number>;
  number: string;
  client_id: number;
  legal_entity_id: number;
  contact_id: number | null;
  agreement_id: number | null;
  city_id: number | null;
  price_type_id: number | null;
  currency: string;
  status: Generated<string>;
  total: Numeric;
  comment: string | null;
  erp_number: string | null;
  erp_date: Timestamp | null;
  paid: Generated<boolean>;
  paid_at: Timestamp | null;
  shipped: Generated<boolean>;
  shipped_at: Timestamp | null;
  cancelled: Generated<boolean>;
  idempotency_key: string | null;
  request_hash: string | null;
  api_key_id: number | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  exported_at: Timestamp | null;
  /** 'portal' (placed here) or 'offline' (arrived from the ERP without a portal order), migration 0021. */
  origin: Generated<'portal' | 'offline'>;
  delivery_address: string | null;
  payment_kind: string | null;
  /** Migration 0023: a manager working as the client placed it. */
  placed_by_manager_id: Generated<number | null>;
  impersonation_id: Generated<number | null>;
  /** The head's approval of a subordinate's order: NULL none needed; 'waiting' holds it from the ERP. */
  approval: Generated<'waiting' | 'approved' | 'rejected' | null>;
  approval_by: Generated<number | null>;
  approval_at: Generated<Timestamp | null>;
  approval_comment: Generated<string | null>;
}
/** One order's export to one outbound flow (migration 0013). */
export interface OrderExportsTable {
  order_id: number;
  flow_id: number;
  version: Timestamp;
  state: 'pending' | 'sent' | 'failed';
  sent_version: Timestamp | null;
  attempts: Generated<number>;
  last_error: string | null;
  last_error_code: string | null;
  external_number: string | null;
  external_ref: string | null;
  sent_at: Timestamp | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}
export interface OrderLinesTable {
  order_id: number;
  line_no: number;
  product_id: number;
  sku: string;
  name: string;
  quantity: Numeric;
  unit: string | null;
  price: Numeric;
  base_price: Numeric | null;
  discount_percent: Numeric | null;
  amount: Numeric;
}
export interface OrderEventsTable {
  id: Generated<number>;
  order_id: number;
  at: Generated<Timestamp>;
  source: string | null;
  change: ColumnType<unknown, string | null, string | null> | null;
}
export interface ReservationsTable {
  order_id: number;
  line_no: number;
  product_id: number;
  warehouse_id: number | null;
  quantity: Numeric;
  created_at: Generated<Timestamp>;
}

// Snapshot groups (migration 0005): runs of several files that together make one snapshot.
export interface SnapshotGroupsTable {
  id: string;
  opened_at: Generated<Timestamp>;
  closed_at: Timestamp | null;
  abandoned_at: Timestamp | null;
}

// Pulled sources (migration 0007): per flow, the cursor of the last accepted pull and the one in flight.
export interface PollStateTable {
  flow_id: number;
  cursor: ColumnType<unknown, string | null, string | null> | null;
  cursor_run_id: number | null;
  pending_run_id: number | null;
  pending_cursor: ColumnType<unknown, string | null, string | null> | null;
  last_pull_at: Timestamp | null;
  last_outcome: 'received' | 'unchanged' | 'failed' | null;
  last_records: number | null;
  last_error_code: string | null;
  last_error: string | null;
  failures: Generated<number>;
  updated_at: Generated<Timestamp>;
}

// The installation (migration 0010): the one row with this database's random id, carried by queue jobs.
export interface InstallationTable {
  one: Generated<boolean>;
  id: Generated<string>;
  created_at: Generated<Timestamp>;
}

// Client cabinet (migration 0021).
export interface CabinetAccountsTable {
  contact_id: number;
  email: string;
  password_hash: string | null;
  prefs: ColumnType<Record<string, unknown>, string | undefined, string>;
  disabled: Generated<boolean>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  last_login_at: Timestamp | null;
}
export interface CabinetTokensTable {
  token_hash: string;
  contact_id: number;
  kind: 'invite' | 'reset';
  expires_at: Timestamp;
  used_at: Timestamp | null;
  created_at: Generated<Timestamp>;
}
export interface CabinetSessionsTable {
  id_hash: string;
  contact_id: number | null;
  legal_entity_id: number | null;
  city_id: number | null;
  csrf: string;
  prefs: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Timestamp>;
  seen_at: Generated<Timestamp>;
  expires_at: Timestamp;
  /** Migration 0023: a manager working as this session's contact (see impersonations). */
  impersonation_id: Generated<number | null>;
}
export interface CabinetLoginAttemptsTable {
  id: Generated<number>;
  email: string;
  ip: string;
  ok: boolean;
  at: Generated<Timestamp>;
}
export interface CabinetSignupsTable {
  id: Generated<number>;
  client_id: number | null;
  legal_entity_id: number | null;
  contact_id: number | null;
  company: string;
  inn: string;
  kpp: string | null;
  contact_name: string;
  email: string;
  phone: string | null;
  city_id: number | null;
  status: Generated<'pending' | 'approved' | 'rejected'>;
  decided_at: Timestamp | null;
  decided_by: string | null;
  reason: string | null;
  created_at: Generated<Timestamp>;
}
export interface CartLinesTable {
  contact_id: number;
  legal_entity_id: number;
  product_id: number;
  quantity: Numeric;
  added_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}
export interface SavedCartsTable {
  id: Generated<number>;
  legal_entity_id: number;
  owner_contact_id: number | null;
  name: string;
  shared: Generated<boolean>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}
export interface SavedCartLinesTable {
  saved_cart_id: number;
  product_id: number;
  line_no: number;
  quantity: Numeric;
}
export interface OrderDocumentsTable {
  id: Generated<number>;
  order_id: number;
  kind: string;
  number: string | null;
  date: string | null;
  amount: Numeric | null;
  file_name: string | null;
  sha256: string | null;
  content_type: string | null;
  size_bytes: number | null;
  created_at: Generated<Timestamp>;
  /** Migration 0025: 'portal' (generated here), 'onec-sale:…', 'file:…', 'flow' (a flow's merge: flow_id names it); NULL before it. */
  source: Generated<string | null>;
  /** Migration 0027: the flow and run that last wrote the row through a merge. */
  flow_id: number | null;
  run_id: number | null;
  updated_at: Generated<Timestamp>;
  /** The file the buyer was last told about (document-notices.ts). */
  noticed_sha256: string | null;
}
/** Migration 0029: credentials set with `magistral secrets set`, by the environment variable name they replace. */
export interface StoredSecretsTable {
  name: string;
  hash: string;
  set_at: Generated<Timestamp>;
  set_by: string | null;
}
export interface EmailOutboxTable {
  id: Generated<number>;
  to_address: string;
  reply_to: string | null;
  subject: string;
  text_body: string;
  html_body: string | null;
  kind: string;
  created_at: Generated<Timestamp>;
  attempts: Generated<number>;
  next_attempt_at: Generated<Timestamp>;
  sent_at: Timestamp | null;
  last_error: string | null;
  /** Migration 0023: the recipient, when a contact or a manager (their preferences decide). */
  contact_id: Generated<number | null>;
  manager_id: Generated<number | null>;
  /** Stored files attached: [{ sha256, fileName, contentType }]. */
  attachments: ColumnType<MailAttachment[], string | undefined, string>;
  /** One event, one message: a second insert with the same key is skipped. */
  dedupe_key: Generated<string | null>;
}

export interface MailAttachment {
  sha256: string;
  fileName: string;
  contentType: string;
}

// Migration 0023: the back office (audit, managers' sign-in, impersonation, rights, stored files).
export interface AuditLogTable {
  id: Generated<number>;
  at: Generated<Timestamp>;
  actor_kind: 'manager' | 'contact' | 'admin' | 'console' | 'system';
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  outcome: Generated<'ok' | 'denied' | 'failed'>;
  client_id: number | null;
  impersonation_id: number | null;
  ip: string | null;
  user_agent: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}
export interface ManagerAccountsTable {
  manager_id: number;
  email: string;
  password_hash: string | null;
  disabled: Generated<boolean>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  last_login_at: Timestamp | null;
}
export interface ManagerTokensTable {
  token_hash: string;
  manager_id: number;
  kind: 'invite' | 'reset';
  expires_at: Timestamp;
  used_at: Timestamp | null;
  created_at: Generated<Timestamp>;
}
export interface ManagerSessionsTable {
  id_hash: string;
  manager_id: number;
  csrf: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Generated<Timestamp>;
  seen_at: Generated<Timestamp>;
  expires_at: Timestamp;
}
export interface ManagerLoginAttemptsTable {
  id: Generated<number>;
  email: string;
  ip: string;
  ok: boolean;
  at: Generated<Timestamp>;
}
/** A console user (/console, migration 0030): viewer reads, operator acts, admin also manages users. */
export interface ConsoleUsersTable {
  id: Generated<number>;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  password_hash: string;
  disabled: Generated<boolean>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  last_login_at: Timestamp | null;
}
export interface ConsoleSessionsTable {
  id_hash: string;
  user_id: number;
  csrf: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Generated<Timestamp>;
  seen_at: Generated<Timestamp>;
  expires_at: Timestamp;
}
export interface ImpersonationsTable {
  id: Generated<number>;
  manager_id: number;
  client_id: number;
  contact_id: number;
  legal_entity_id: number | null;
  ip: string | null;
  user_agent: string | null;
  started_at: Generated<Timestamp>;
  expires_at: Timestamp;
  ended_at: Timestamp | null;
  end_reason: 'logout' | 'expired' | 'ended' | 'replaced' | null;
}
export interface ContactRightsTable {
  contact_id: number;
  legal_entity_id: number;
  authority_confirmed_at: Timestamp | null;
  authority_confirmed_by: number | null;
  approval_above: Numeric | null;
  updated_at: Generated<Timestamp>;
}
export interface StoredFilesTable {
  sha256: string;
  size_bytes: number;
  content_type: string;
  created_at: Generated<Timestamp>;
}

// Migration 0024: settlements and credit lines.
export interface ReceivablesTable {
  legal_entity_id: number;
  document: string;
  agreement_id: number | null;
  kind: string | null;
  number: string | null;
  doc_date: ColumnType<string | null, string | null, string | null>;
  amount: Numeric | null;
  owed: Numeric;
  currency: string | null;
  due_date: ColumnType<string | null, string | null, string | null>;
  order_ref: string | null;
  noticed_at: Generated<Timestamp | null>;
  overdue_noticed_at: Generated<Timestamp | null>;
  flow_id: number | null;
  run_id: number | null;
  updated_at: Generated<Timestamp>;
}
export interface SettlementEntriesTable {
  legal_entity_id: number;
  entry: string;
  agreement_id: number | null;
  entry_date: ColumnType<string, string, string>;
  document_kind: string | null;
  document_number: string | null;
  debit: Numeric;
  credit: Numeric;
  currency: string | null;
  flow_id: number | null;
  run_id: number | null;
  updated_at: Generated<Timestamp>;
}
export interface CreditTermsTable {
  agreement_id: number;
  credit_limit: Numeric | null;
  payment_delay_days: number | null;
  set_by_manager_id: number | null;
  updated_at: Generated<Timestamp>;
}
export interface CreditRulesTable {
  client_id: number;
  overdue_rule: 'any' | 'grace' | 'never';
  grace_days: Generated<number>;
  set_by_manager_id: number | null;
  updated_at: Generated<Timestamp>;
}
export interface CreditAlertsTable {
  id: Generated<number>;
  agreement_id: number;
  level: number;
  at: Generated<Timestamp>;
}

// Migration 0025: documents (invoice jobs, closing-document batches, contracts and their scans).
export interface DocumentJobsTable {
  id: Generated<number>;
  kind: 'invoice';
  order_id: number;
  created_at: Generated<Timestamp>;
  attempts: Generated<number>;
  next_attempt_at: Generated<Timestamp>;
  done_at: Timestamp | null;
  last_error: string | null;
}
export interface DocumentBatchesTable {
  id: Generated<number>;
  source: string;
  file_name: string;
  sha256: string;
  received_at: Generated<Timestamp>;
  accepted: Generated<number>;
  rejected: Generated<number>;
  error: string | null;
  rows: ColumnType<unknown[], string | undefined, string>;
}
export interface ClientDocumentsTable {
  id: Generated<number>;
  client_id: number;
  legal_entity_id: number | null;
  agreement_id: number | null;
  kind: 'contract' | 'supplement';
  title: string;
  number: string | null;
  date: string | null;
  sha256: string;
  file_name: string;
  status: Generated<'published' | 'signed-uploaded'>;
  published_by: number | null;
  published_at: Generated<Timestamp>;
}
export interface ActRequestsTable {
  id: Generated<number>;
  legal_entity_id: number;
  agreement_id: number | null;
  period_from: string;
  period_to: string;
  contact_id: number | null;
  manager_id: number | null;
  flow_id: number;
  state: Generated<'pending' | 'done' | 'failed'>;
  attempts: Generated<number>;
  last_error: string | null;
  last_error_code: string | null;
  reason: string | null;
  sha256: string | null;
  number: string | null;
  act_date: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  done_at: Timestamp | null;
}
export interface ClientDocumentScansTable {
  id: Generated<number>;
  document_id: number;
  sha256: string;
  file_name: string;
  content_type: string;
  size_bytes: number;
  uploaded_by: number | null;
  uploaded_at: Generated<Timestamp>;
}

export interface Database {
  installation: InstallationTable;
  poll_state: PollStateTable;
  snapshot_groups: SnapshotGroupsTable;
  flows: FlowsTable;
  inbox: InboxTable;
  inbox_growth: InboxGrowthTable;
  runs: RunsTable;
  fingerprints: FingerprintsTable;
  run_receipts: RunReceiptsTable;
  rejects: RejectsTable;
  change_log: ChangeLogTable;
  external_ids: ExternalIdsTable;
  cities: CitiesTable;
  price_types: PriceTypesTable;
  warehouses: WarehousesTable;
  groups: GroupsTable;
  products: ProductsTable;
  properties: PropertiesTable;
  property_values: PropertyValuesTable;
  product_properties: ProductPropertiesTable;
  facet_keys: FacetKeysTable;
  product_search: ProductSearchTable;
  search_words: SearchWordsTable;
  synonyms: SynonymsTable;
  units: UnitsTable;
  prices: PricesTable;
  price_periods: PricePeriodsTable;
  product_units: ProductUnitsTable;
  stock: StockTable;
  price_history: PriceHistoryTable;
  stock_history: StockHistoryTable;
  portal_settings: PortalSettingsTable;
  managers: ManagersTable;
  clients: ClientsTable;
  legal_entities: LegalEntitiesTable;
  contacts: ContactsTable;
  contact_legal_entities: ContactLegalEntitiesTable;
  agreements: AgreementsTable;
  api_keys: ApiKeysTable;
  order_statuses: OrderStatusesTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  order_events: OrderEventsTable;
  order_exports: OrderExportsTable;
  reservations: ReservationsTable;
  cabinet_accounts: CabinetAccountsTable;
  cabinet_tokens: CabinetTokensTable;
  cabinet_sessions: CabinetSessionsTable;
  cabinet_login_attempts: CabinetLoginAttemptsTable;
  cabinet_signups: CabinetSignupsTable;
  cart_lines: CartLinesTable;
  saved_carts: SavedCartsTable;
  saved_cart_lines: SavedCartLinesTable;
  order_documents: OrderDocumentsTable;
  email_outbox: EmailOutboxTable;
  stored_secrets: StoredSecretsTable;
  audit_log: AuditLogTable;
  manager_accounts: ManagerAccountsTable;
  manager_tokens: ManagerTokensTable;
  manager_sessions: ManagerSessionsTable;
  manager_login_attempts: ManagerLoginAttemptsTable;
  console_users: ConsoleUsersTable;
  console_sessions: ConsoleSessionsTable;
  /** Same shape as the managers' (the login typed is kept in `email`). */
  console_login_attempts: ManagerLoginAttemptsTable;
  impersonations: ImpersonationsTable;
  contact_rights: ContactRightsTable;
  stored_files: StoredFilesTable;
  receivables: ReceivablesTable;
  settlement_entries: SettlementEntriesTable;
  credit_terms: CreditTermsTable;
  credit_rules: CreditRulesTable;
  credit_alerts: CreditAlertsTable;
  document_jobs: DocumentJobsTable;
  document_batches: DocumentBatchesTable;
  client_documents: ClientDocumentsTable;
  client_document_scans: ClientDocumentScansTable;
  act_requests: ActRequestsTable;
}
