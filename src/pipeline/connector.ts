// The connector interface: how the pipeline reads a payload. A connector turns a byte stream into
// batches of flat source records, each with its position in the payload, and knows nothing of the core.
import type { Readable } from 'node:stream';
import type { Logger } from '../telemetry/logger.ts';
import type { FastifyInstance } from 'fastify';
import type { PipelineDeps } from './deps.ts';

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
}

export interface Connector {
  /** The kind named in a flow's `source.connector`, e.g. `file.csv`. */
  readonly kind: string;
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

// PullError lives with the other errors; connectors import it from here (or the port).
export { PullError } from '../errors/index.ts';

const registry = new Map<string, Connector>();

export function registerConnector(c: Connector): void {
  registry.set(c.kind, c);
}

export function getConnector(kind: string): Connector | undefined {
  return registry.get(kind);
}

export function connectorKinds(): string[] {
  return [...registry.keys()].sort();
}

/**
 * An HTTP endpoint a connector serves to its system (1C's exchange with site, webhooks). Connectors
 * register it here; src/api mounts every registered endpoint under its prefix, so the server never
 * imports a connector. `app` is the fastify instance scoped to the prefix (a type-only dependency).
 */
export interface ExchangeEndpoint {
  /** Path prefix, e.g. `/exchange/onec`. */
  prefix: string;
  plugin(app: FastifyInstance, deps: ExchangeDeps): Promise<void>;
}

/** What an exchange endpoint is given: the pipeline's dependencies plus where its secrets are read. */
export interface ExchangeDeps extends PipelineDeps {
  /** Environment the endpoint reads the secrets named by flow options from (`passwordEnv`). */
  env: Readonly<Record<string, string | undefined>>;
}

const exchanges = new Map<string, ExchangeEndpoint>();

export function registerExchange(e: ExchangeEndpoint): void {
  exchanges.set(e.prefix, e);
}

export function exchangeEndpoints(): ExchangeEndpoint[] {
  return [...exchanges.values()].sort((a, b) => a.prefix.localeCompare(b.prefix));
}
