// The port object the core hands each connector: receive payloads into the inbox and get their runs,
// snapshot groups, the flows of its kind, its own tables, the orders port for outbound work, log and metrics.
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Registry as PromRegistry } from 'prom-client';
import type { Readable } from 'node:stream';
import type { Logger } from '../telemetry/logger.ts';
import type { TickOutage } from '../telemetry/tick-outage.ts';
import type { StoredFlow } from '../pipeline/flows.ts';
import type { OrderStatus } from '../orders/index.ts';
import type { ExternalChangesReport, ExternalOrderChange, OrderVersion, OutboundOrder } from './orders.ts';

export type { ExternalChangesReport, ExternalOrderChange, OfflineOrderDraft, OfflineOrderLine, OrderVersion, OutboundOrder, OutboundOrderLine } from './orders.ts';

/** A file of a payload: a body the core stores in the inbox, or a file the connector already stored durably under `inboxDir`. */
export type PayloadFile =
  | { fileName: string; body: Readable; contentType?: string }
  | { fileName: string; stored: { path: string; sha256: string; size: number }; contentType?: string };

export interface ReceiveRequest {
  /** The flows the payload is for (by name): one run each, made in the canonical dependency order. */
  flows: readonly string[];
  files: readonly PayloadFile[];
  /** Runs of one export split over several payloads share a snapshot group (open it first). */
  snapshotGroup?: string;
  /**
   * Idempotency key: a second receive with the same key makes nothing and answers the runs of the
   * first (a connector that crashed between receiving and recording the runs asks again safely).
   */
  key?: string;
  /** Read a single-file payload once for every run that may read at the same time. */
  readTogether?: boolean;
  /**
   * Many small messages, one run: the payload joins each flow's newest run when that run was made by a
   * coalescing receipt and has not started reading (up to MAGISTRAL_COALESCE_MAX_BYTES / _FILES), else
   * makes one that later ones may join. Its files are read after the earlier ones (a later message
   * wins a key both carry). For messages read alone (IDoc packets, webhook events); not with
   * `snapshotGroup` or `readTogether`. A coalesced run that cannot be read is split into one run per file.
   */
  coalesce?: boolean;
  /**
   * The connector's own rows about this payload (an IDoc message's DOCNUMs), written in the receipt's
   * transaction: they exist exactly when its runs do. Not called for a repeated key.
   */
  record?(q: ReceiptTransaction, runs: Receipt['runs']): Promise<void>;
  /**
   * Answer only once the flows keep up (backpressure for senders that wait for the answer before their
   * next message, as SAP's ports do): while the oldest unfinished run of a flow was received more than
   * MAGISTRAL_PACE_LAG_MS ago and the flow's work moves (a run being read or merged; not with the workers
   * stopped), the receipt waits (at most MAGISTRAL_PACE_MAX_WAIT_MS; the payload is stored already). A sender flooding faster than the merge then slows to its pace instead of piling up
   * a backlog every later message — and a one-record correction — waits behind.
   */
  pace?: boolean;
  /**
   * The single stored file is still arriving (its `sha256` and `size` are what is known so far; needs
   * `key`): the runs are made now and their extract follows the file's committed bytes (`growth.extend`)
   * until `growth.seal` says it is whole. Nothing merges before the seal; `growth.abandon` fails the runs.
   */
  growing?: boolean;
}

/** Files received with `growing`, by their receipt key. */
export interface Growth {
  /** `bytes` of the file are final (a piece committed). Answers whether the growth is still open. */
  extend(key: string, bytes: number): Promise<boolean>;
  /** The file is whole: its runs may finish and merge. 'none': the key never grew; 'abandoned': it was given up first. */
  seal(key: string, file: { sha256: string; size: number }): Promise<'sealed' | 'none' | 'abandoned'>;
  /** The sender gave these files up: their runs fail, leaving nothing. Answers the keys that were still growing. */
  abandon(keys: readonly string[], reason: string): Promise<string[]>;
}

/** Plain SQL inside the receipt's transaction. */
export interface ReceiptTransaction {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
}

export interface Receipt {
  runs: Array<{ id: number; flow: string }>;
  /** The key had been received before: nothing was stored or made now, `runs` are the first receipt's. */
  repeated?: boolean;
  /** How long the answer waited for the flows to keep up (`pace`), when it did. */
  pacedMs?: number;
}

/** Where a run stands, as an exchange reports it to its sender. */
export interface RunStatus {
  id: number;
  flow: string;
  state: 'received' | 'extracting' | 'staged' | 'merging' | 'done' | 'failed' | 'held' | 'rejected';
  error: string | null;
  heldReason: string | null;
  paused: boolean;
  /** An earlier run of the same flow held for approval: this one waits for it. */
  blockedBy: number | null;
  rows: { read: number; inserted: number; updated: number; unchanged: number; rejected: number; removed: number };
}

export interface SnapshotGroups {
  /** Opens a group (idempotent); runs received with `snapshotGroup` belong to it. */
  open(id: string): Promise<void>;
  /** The export is complete: one finalize run per flow removes what no run of the group carried. Answers their ids. */
  close(id: string): Promise<number[]>;
  /** The export ended unfinished: nothing is removed. */
  abandon(id: string): Promise<void>;
}

export interface OrdersPort {
  statuses(): Promise<OrderStatus[]>;
  /** Orders never handed out or changed since (oldest change first, at most `limit`), with the version handed out. */
  pending(limit: number): Promise<OrderVersion[]>;
  /** The orders as they go out, in the order of `ids`; external ids are those of `system`. */
  documents(ids: readonly number[], system: string): Promise<OutboundOrder[]>;
  /** The system has these versions: they are exported (an order changed since stays pending). Answers how many were marked. */
  markExported(sent: readonly OrderVersion[]): Promise<number>;
  /**
   * Applies changes in order, in one transaction with a savepoint each: a change the orders module refuses
   * is reported and the others apply. A change to an order the system already had in full keeps it exported.
   */
  applyChanges(changes: readonly ExternalOrderChange[], source: string): Promise<ExternalChangesReport>;
}

/**
 * Failed logins per source (src/security/login-throttle.ts): an endpoint that checks a secret asks
 * `retryAfterSeconds` first (answer 429 with Retry-After, unchecked, when > 0), then reports the outcome.
 */
export interface LoginGuard {
  /** Seconds the source must still wait (0: check its credential). */
  retryAfterSeconds(surface: string, ip: string): number;
  failed(surface: string, ip: string): void;
  succeeded(surface: string, ip: string): void;
  /** Counts in /metrics only, for sign-ins that throttle themselves (cabinet and manager: attempts kept in PostgreSQL). */
  observed(surface: string, outcome: 'failed' | 'throttled'): void;
}

/** What the core hands a connector. Nothing else of the core is importable from connectors/. */
export interface ConnectorPort {
  readonly log: Logger;
  /** Where secrets named by flow options (`passwordEnv`) are read; never put them in messages. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The inbox directory: a connector that stores what it receives itself keeps it under here. */
  readonly inboxDir: string;
  /** The largest payload the installation accepts. */
  readonly maxPayloadBytes: number;
  /** The process's Prometheus registry, for the connector's own metrics (absent in tools without metrics). */
  readonly metrics?: PromRegistry;
  /** The connector's own tables (brought by its migrations), typed by the connector. */
  tables<T>(): Kysely<T>;
  /** Plain SQL on the connector's own tables (a pool: `query`, or `connect` for a transaction). */
  readonly sql: Pick<pg.Pool, 'query' | 'connect'>;
  /** The flows whose source is `connector`, by name. */
  flows(connector: string): Promise<StoredFlow[]>;
  /** Stores the payload durably and makes its runs; when this resolves the sender may be told "success". */
  receive(req: ReceiveRequest): Promise<Receipt>;
  /** Payloads received while still arriving (ReceiveRequest.growing). */
  readonly growth: Growth;
  /** Where these runs stand, in id order. */
  runs(ids: readonly number[]): Promise<RunStatus[]>;
  readonly snapshots: SnapshotGroups;
  readonly orders: OrdersPort;
  /**
   * Checks a credential a sender presents against the one named by a flow's options (`passwordEnv:
   * ONEC_PASSWORD`): the value an administrator stored with `magistral secrets set` (rotated without a
   * restart) wins over `env`. 'unset': neither exists, so nothing matches.
   */
  readonly secrets: { check(name: string, given: string): Promise<'ok' | 'wrong' | 'unset'> };
  /** Throttles failed logins per source address (shared with the admin API and the portal API of the process). */
  readonly logins: LoginGuard;
  /**
   * For a timer loop of the connector (a sweep every minute): while PostgreSQL is out of reach its ticks
   * are counted, not logged; one line when it goes, one when it is back (src/telemetry/tick-outage.ts).
   */
  outage(loop: string): TickOutage;
}
