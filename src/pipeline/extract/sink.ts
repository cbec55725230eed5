// What the single read loop of the extract feeds: one sink per run of the pass. A sink formats its run's
// rows as COPY lines, writes them with back-pressure and, at the end, finishes its run through the lifecycle.
import type { Flow } from '../../schemas/index.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { RefSpec, TargetSpec } from '../targets.ts';
import type { Resolver } from './resolver.ts';
import type { RunMappings, RunMode } from './mappings.ts';
import type { RejectWriter } from './rejects.ts';
import type { LineSkip, RecordTake, SourceRecord } from '../../port/connector.ts';

/** A run taken by a pass (claimed: extracting, its extract lock held by the pass). */
export interface PassRun {
  id: number;
  flowId: number;
  name: string;
  flow: Flow;
  spec: TargetSpec;
  /** The mode the run was received with (the flow's); the payload may declare another. */
  mode: RunMode;
  /** A person approved it after a stage held it while it was read (ParseContext.approved). */
  approved: boolean;
  log: Logger;
}

/** A file of the pass: its position in the run's payload (`fi`) is the index in this list. */
export interface PassFile {
  file_name: string;
  path: string;
  /** Still arriving (growth.ts): read by following its committed bytes under this receipt key. */
  growth_key?: string | null;
}

/** A canonical row (or, with `reject`, the key of a rejected row) as a COPY line; '' to skip it. */
export type LineFormat = (v: Record<string, string | boolean>, line: number | undefined, fi: number, reject: boolean, path: string | undefined) => string;

export interface Sink {
  readonly run: PassRun;
  readonly mappings: RunMappings;
  readonly rejects: RejectWriter;
  /** Records routed to it, and rows it wrote. */
  read: number;
  staged: number;
  /** Records of the current batch for it, and their COPY lines. */
  n: number;
  buf: string[];
  /** Set when the sink cannot go on (its COPY failed, too many codes, no connection to spare). */
  error?: unknown;
  /** Gets ready for `n` records (opens its COPY with its first rows, reserves ids). */
  prepare(n: number): Promise<void>;
  format: LineFormat;
  /** A snapshot read with a fingerprint: true when the raw record is the last snapshot's row again (not mapped, not staged). */
  skipRaw?(rec: SourceRecord): boolean;
  /** skipRaw will find most records equal by their raw line: the connector may hand out lazy records (ParseContext.rawLines). */
  rawLines?: boolean;
  /** Read alone, it lets the connector pass over plain lines it already has (ParseContext.lineSkip). */
  lineSkip?: LineSkip;
  /** The only run a kind of records goes to may take groups of them from their bytes (ParseContext.recordTake). */
  recordTake?: RecordTake;
  /** A direct load that a second direct load of the pass may accompany (direct-sink.ts DirectLeader). */
  directLeader?: DirectLeader;
  /** It holds the target's merge lock while the read goes on (a direct load): small runs may be waiting for it. */
  holdsMergeLock?: boolean;
  write(chunk: Buffer): Promise<void>;
  /**
   * Writes the rows its lineSkip or recordTake took as bytes since the last call (before the batch's own
   * rows). `all` false: rows taken from records may wait for more (fewer, larger COPY writes).
   */
  flushTaken?(all: boolean): Promise<void>;
  /** Ends its COPY and moves its run on: 'staged' (to be merged) or 'merged' (a direct load, done). */
  finish(declared: readonly RunMode[], started: number): Promise<'staged' | 'merged'>;
  /** Gives its connection back; mid-COPY the connection is dropped, which makes the server roll back. */
  discard(): void;
}

/**
 * What a direct load offers a second direct load of the same pass (its companion: the stock beside the
 * prices of a 1C offers file). Both number products; two loads cannot each hold the products' creation
 * lock, so before this the second run was staged and merged after the first committed (bench:onec, 1M
 * prices: its merge ended 0.5 s after the prices' commit, 1.4 s of staging, ANALYZE and merge). The
 * companion numbers the entity they share with the first load's resolver, under the first load's lock;
 * the first load inserts the placeholders of every code either met (all are numbered while the pass
 * reads, before either finishes), and the companion commits only after the first load has (its rows name
 * those placeholders). The first load rolled back: so does the companion, and its run is read again.
 */
export interface DirectLeader {
  /** The first load's resolver of `ref`'s entity, when it creates that entity's codes of `system`. */
  resolver(ref: RefSpec, system: string): Resolver | undefined;
  /** Resolves once the first load committed; rejects when it will not. */
  readonly committed: Promise<void>;
  /** Records of the batch being fed that the first load numbers codes for (its Sink.n). */
  pending(): number;
}

/** Connections the sinks of one pass may hold at once (the pool less room for the lock holder and other jobs). */
export interface Budget { open: number; max: number }

/** More runs with rows than connections to spare: this one is read again alone. */
export class Deferred extends Error {}
