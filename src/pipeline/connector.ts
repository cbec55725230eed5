// The connector interface: how the pipeline reads a payload. A connector turns a byte stream into
// batches of flat source records, each with its position in the payload, and knows nothing of the core.
import type { Readable } from 'node:stream';

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
}

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
