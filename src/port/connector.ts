// The connector interface: how the pipeline reads a payload and how a pulled source fetches one. It
// depends on nothing of the core, so every part of the core may refer to it.
import type { Readable } from 'node:stream';
import type pg from 'pg';
import type { Logger } from '../telemetry/logger.ts';
import type { ExternalOrderChange, OutboundOrder } from './orders.ts';

/** One record read from a payload, before mapping. */
export interface SourceRecord {
  /** Field name → raw value as found in the payload (CSV column, element path). */
  data: Record<string, string>;
  /** 1-based line of the record in the file, when the format has lines. */
  line?: number;
  /** Element path for tree formats, e.g. `/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение[3]`. */
  path?: string;
  /** Document kind for connectors whose payload holds several kinds (selects the mapping). */
  kind?: string;
  /**
   * The connector already knows this record cannot be taken, for a reason only it can see (a file the
   * record names is missing from the archive, or is not what it claims): the record is stored as a reject
   * with this reason and position, never mapped. Values the mapping can judge are left to the mapping.
   */
  reject?: { field: string; rule: string; reason: string };
  /**
   * The delimited line the record was cut from, when the connector offers it (ParseContext.rawLines):
   * a reader that compares raw records (a snapshot's fingerprint) hashes the line and need not build `data`.
   */
  rawLine?: RawLine;
}

/**
 * A line of `columns.length` fields separated by `delimiter` (a UTF-16 code unit), nothing quoted: field i
 * is `data[columns[i]]`, and the columns are `data`'s keys in their iteration order.
 */
export interface RawLine {
  readonly text: string;
  /** The line's first character in `text`, and the index just past its last (line break excluded). */
  readonly start: number;
  readonly end: number;
  readonly columns: readonly string[];
  readonly delimiter: number;
}

/**
 * Asked about a plain line (no quote, not inside a quoted field, line break excluded) of a file whose
 * header is `columns` and delimiter `delimiter`: true when the reader took it as it stands — it already
 * has it (a snapshot beside its fingerprint), or it read its values from the bytes (a first load whose
 * mapping passes them on unchanged) — and the connector passes over it without handing it out; false:
 * the connector hands it out as usual. The answer depends on every record before the line: records
 * handed out so far must have been yielded before the next line is asked about.
 */
export interface LineSkip {
  skip(columns: readonly string[], delimiter: number, buf: Uint8Array, start: number, end: number): boolean;
}

/**
 * Records taken from their bytes, a group at a time (a first load of a markup file): a connector that
 * finds a group of plain records of one kind (a CommerceML offer's prices) may hand out their values as
 * byte ranges instead of records. Record r's field `fields[f]` is `buf[at[2k], at[2k + 1])` with
 * k = r × fields.length + f, absent where at[2k] is -1; `shared` holds the values every record of the
 * group has (the offer they belong to). The bytes are each value's UTF-8 text exactly as the record would
 * hold it (no markup, no reference to resolve). True: the reader took them all (they count as read);
 * false: the connector hands them out as records, as it would have.
 */
export interface RecordTake {
  take(kind: string, fields: readonly string[], shared: Readonly<Record<string, string>>, buf: Uint8Array, at: Int32Array, count: number): boolean;
}

/** A file a payload carries beside its records (a closing document's PDF), kept in the store's file store. */
export interface PayloadFileStore {
  /**
   * Keeps the bytes (idempotent: the same content is one file) and answers their sha256. A file whose
   * record is rejected later stays unreferenced, never half-written. Dry runs only hash.
   */
  store(content: Uint8Array, contentType: string): Promise<{ sha256: string; sizeBytes: number }>;
}

export interface ParseContext {
  /** Name of the file as the sender gave it (used in every error message). */
  fileName: string;
  /** The flow's `source.options`, already validated against the connector's optionsSchema. */
  options: Record<string, unknown>;
  signal?: AbortSignal;
  /**
   * Document kinds the flow has mappings for (mapping `name` = record `kind`). A connector whose
   * payloads hold several kinds emits records of these kinds only and may skip the rest unparsed.
   * Absent: emit every kind (dry-run).
   */
  kinds?: ReadonlySet<string>;
  /**
   * Lets the payload itself say whether it is complete (snapshot) or holds changes only (delta),
   * e.g. CommerceML's `СодержитТолькоИзменения`. Overrides the flow's `mode` for this run.
   */
  setMode?(mode: 'delta' | 'snapshot'): void;
  /** Where files the payload carries are kept (connectors whose records refer to files: file.documents). */
  files?: PayloadFileStore;
  /**
   * The reader will skip most records by their raw line (SourceRecord.rawLine): a connector that can may
   * hand out records whose `data` is built only when first read.
   */
  rawLines?: boolean;
  /**
   * The reader may take most lines of this payload without a record (it has them already, or reads
   * them from their bytes): a connector that reads plain delimited lines may ask about each before it
   * decodes it (LineSkip).
   */
  lineSkip?: LineSkip;
  /** The reader may take groups of plain records from their bytes (RecordTake). */
  recordTake?: RecordTake;
  /**
   * A person approved this run after a stage held it (HoldRunError): a connector that holds payloads for a
   * reason of its own lets this one through.
   */
  approved?: boolean;
}

export interface Connector {
  /** The kind named in a flow's `source.connector`, e.g. `file.csv`. */
  readonly kind: string;
  /**
   * True when parse() keeps nothing of an input chunk (no reference, no slice) once it asks for the
   * next: the extract may then read the payload into buffers it reuses (pipeline/inbox.ts ChunkRing).
   */
  readonly copiesInput?: boolean;
  /** JSON Schema of `source.options`. */
  readonly optionsSchema: object;
  /**
   * Streams the payload as batches of records. Throws PayloadError (with file and line/column) when
   * the payload as a whole cannot be read; a single bad value is not the connector's concern
   * (mapping and validation reject that row).
   */
  parse(input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]>;
  /**
   * Pulled sources only (scheduled flows, `magistral flows pull`): fetches from the remote system and
   * yields the payload's bytes, which then run through `parse` like any pushed payload. The generator
   * returns the new cursor; the core keeps it only once the run of this payload is done, so a pull
   * whose run fails is repeated from the old cursor. Throws PullError when the remote cannot be read.
   */
  pull?(ctx: PullContext): PullHandle;
  /**
   * Outbound connectors only (a flow with `target: orders`): sends the portal's orders to the remote
   * system, one order version per call. The core queues the calls (queue `outbound`, one job per flow,
   * order and version, retried with the flow's `retry`) and records the outcome per order and flow.
   */
  outbound?: OutboundCapability;
  /**
   * Connectors that ask their ERP for documents it builds itself (a flow with `target: reconciliationActs`):
   * the cabinet's buyer asks, the core queues one job per request (retried with the flow's `retry`), stores
   * the answer and tells the buyer.
   */
  documents?: DocumentRequestCapability;
}

/** What a connector that asks its ERP for documents offers the core (src/backoffice/act-requests.ts). */
export interface DocumentRequestCapability {
  /**
   * Asks the ERP for the reconciliation act of one legal entity (optionally one agreement) for a period and
   * answers its PDF. Safe to repeat: `req.id` is the same on every attempt of one request. Throws
   * RetryableError for what may pass (a 5xx, a timeout, a refused connection, the ERP still building the
   * act) and any other MagistralError for what will not (credentials refused, counterparty unknown to the
   * ERP, an answer that is not a PDF).
   */
  requestAct(req: ActRequest, ctx: DocumentRequestContext): Promise<ActAnswer>;
}

export interface ActRequest {
  /** Our request id: stable across retries, so the ERP may recognise a repeated question. */
  id: number;
  legalEntity: {
    name: string;
    inn: string | null;
    kpp: string | null;
    /** System → the legal entity's id there (the ERP's own one is under the flow's `source.system`). */
    externalIds: Record<string, string>;
  };
  agreement?: { code: string; externalIds: Record<string, string> };
  /** First day of the period, YYYY-MM-DD. */
  from: string;
  /** Last day of the period, YYYY-MM-DD. */
  to: string;
}

export interface ActAnswer {
  content: Buffer;
  contentType: 'application/pdf';
  /** The ERP's number of the act, when it tells. */
  number?: string;
  /** The ERP's date of the act (YYYY-MM-DD), when it tells. */
  date?: string;
}

/** An outbound context without order fields: which flow, its options and system, which attempt. */
export interface DocumentRequestContext extends OutboundContext {
  /** The flow's `source.system`: which of `externalIds` are this ERP's own. */
  system: string;
  /** 1 on the first attempt of this request. */
  attempt: number;
}

/** What a connector that sends orders offers the core's outbound queue. */
export interface OutboundCapability {
  /**
   * Sends one order. Resolves once the remote system has it (its answer in SendResult). Must be safe to
   * repeat: the core may call it again for the same version after a crash between the send and its
   * record, so a connector makes the remote drop or find the duplicate (an IDoc's ARCKEY, a lookup
   * before create). Throws RetryableError for what may pass (a 5xx, a timeout, a refused connection) and
   * any other MagistralError for what will not (credentials refused, the order rejected as it is).
   */
  send(order: OutboundOrder, ctx: SendContext): Promise<SendResult>;
  /**
   * Optional: reads the remote state of orders sent through the flow (a pull of statuses), answered as
   * changes the core applies to the portal orders. Called by the outbound sweeper every
   * `source.options.statusEverySeconds` when the connector has it.
   */
  statuses?(sent: readonly SentOrder[], ctx: OutboundContext): Promise<ExternalOrderChange[]>;
}

export interface OutboundContext {
  flow: string;
  /** The flow's `source.options`, already validated against the connector's optionsSchema. */
  options: Record<string, unknown>;
  /** Where secrets named by the options (`passwordEnv`) are read; never put them in messages. */
  env: Readonly<Record<string, string | undefined>>;
  log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  signal?: AbortSignal;
  /** Plain SQL on the connector's own tables (as PullContext.sql): state shared with its pulls, such as a rotated OAuth refresh token. */
  sql?: Pick<pg.Pool, 'query' | 'connect'>;
}

export interface SendContext extends OutboundContext {
  /** The order version being sent: its `updated_at` to the microsecond, as text (stable across repeats). */
  version: string;
  /** 1 on the first attempt of this version. */
  attempt: number;
  /** What the flow's target answered for an earlier version of this order (absent: never sent). */
  previous?: { externalNumber: string | null; externalRef: string | null; version: string };
}

export interface SendResult {
  /** The remote system's order number (SAP sales order), when it answers one; becomes the order's ERP number. */
  externalNumber?: string;
  /** Another reference worth keeping (an IDoc's ARCKEY, an OData entity URL). */
  externalRef?: string;
  /** `created`: a new remote order; `found`: the remote already had it (a repeated send); `accepted`: delivered, number later. */
  outcome: 'created' | 'found' | 'accepted' | 'unchanged';
  /** A note for the log and the export record (why a version was not sent, …). */
  note?: string;
}

/** An order sent through an outbound flow, for a status pull. */
export interface SentOrder {
  id: number;
  number: string;
  externalNumber: string | null;
  externalRef: string | null;
  status: string;
  sentAt: Date | null;
}

export interface PullContext {
  flow: string;
  /** The flow's `source.options`, already validated against the connector's optionsSchema. */
  options: Record<string, unknown>;
  /** What the last accepted pull returned (undefined before the first one). */
  cursor: unknown;
  /** Where secrets named by the options (`passwordEnv`) are read; never put them in messages. */
  env: Readonly<Record<string, string | undefined>>;
  log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  signal?: AbortSignal;
  /**
   * Plain SQL on the connector's own tables (as ConnectorPort.sql), for state that must outlive a pull
   * yet is not part of its cursor: an OAuth refresh token the remote rotates on every refresh. Absent in
   * tools that pull without a store.
   */
  sql?: Pick<pg.Pool, 'query' | 'connect'>;
}

export interface PullResult {
  /** Records written to the payload. */
  records: number;
  /** State to keep once the run is accepted (e.g. DataVersion per key); the given cursor itself when it did not change. */
  cursor?: unknown;
  /** false: nothing new (an incremental pull without changes) — no run is made, the cursor is kept now. */
  changed: boolean;
}

export interface PullHandle {
  /** Name of the payload file, shown in runs and reject positions. */
  fileName: string;
  body: AsyncGenerator<string | Buffer, PullResult, undefined>;
}

/**
 * Optional dry-run hook of a connector whose payloads hold several document kinds (each record carries
 * its `kind`, mapped by the mapping of that name): the report then counts the payload's own elements
 * per key, as the connector defines them, instead of mapped rows per canonical target; mapping rejects
 * are still counted. A connector opts in with a `dryRun` property.
 */
export interface DryRunCounting {
  /** Keys of the report, in order; each is present, zero when absent. */
  readonly keys: readonly string[];
  /** Parses like `parse`; the generator returns the file's counts per key when it is done. */
  parseCounted(input: Readable, ctx: ParseContext): AsyncGenerator<SourceRecord[], Record<string, number>>;
}
