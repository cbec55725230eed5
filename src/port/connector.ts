// The connector interface: how the pipeline reads a payload and how a pulled source fetches one. It
// depends on nothing of the core, so every part of the core may refer to it.
import type { Readable } from 'node:stream';
import type { Logger } from '../telemetry/logger.ts';

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
