// The one read loop of the extract: each file of a pass goes once through the connector's parser, and
// every record goes, mapped and validated, to the sinks (runs) that take its kind — one COPY write per sink and batch.
import type { Connector, PayloadFileStore, RecordTake, SourceRecord } from '../../port/connector.ts';
import type { Readable } from 'node:stream';
import { openPayload } from '../inbox.ts';
import type { RunMode } from './mappings.ts';
import type { PassFile, Sink } from './sink.ts';
import { giveWayToSmallRuns } from '../priority.ts';

export interface Pass {
  files: readonly PassFile[];
  connector: Connector;
  options: Record<string, unknown>;
  sinks: Sink[];
  /**
   * Several runs share the read (runs.read_with): records go by kind to the runs whose mappings take it,
   * others are not theirs. Read alone, a run takes every record, and one of a kind it has no mapping for
   * is a reject.
   */
  shared: boolean;
  /** Where files a payload carries beside its records are kept (file.documents). */
  fileStore?: PayloadFileStore;
  /** Opens a file still arriving (PassFile.growth_key): its committed bytes, then more as they come. */
  follow?: (file: PassFile, reuse: boolean) => Readable;
  /** Every run of the pass was approved by a person after a stage held it (ParseContext.approved). */
  approved?: boolean;
}

/** Which file of its pass (index into `Pass.files`) an error thrown by readPass came from, when a file's parse threw it. */
export const fileOfError = new WeakMap<object, number>();

/**
 * Longest stretch a read keeps the event loop to itself. A batch's await resolves as a microtask while the
 * COPY stream takes the bytes without pushing back, so a big read could parse megabytes between two
 * turns of the loop; the worker's other jobs (a one-row delta's every query) waited that long per await.
 * test/pipeline/small-run-slot.test.ts: a 1-row delta's extract took 1.6 s beside two 400,000-row reads.
 */
const YIELD_EVERY_MS = 10;
let lastYield = performance.now();

/**
 * Lets the event loop turn (I/O of the worker's other jobs) once YIELD_EVERY_MS has passed since the last
 * turn given, and with `giveWay` waits there while small runs of this process are in flight
 * (src/pipeline/priority.ts).
 */
async function yieldNowAndThen(giveWay: boolean): Promise<void> {
  if (performance.now() - lastYield < YIELD_EVERY_MS) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (giveWay) await giveWayToSmallRuns();
  lastYield = performance.now();
}

/**
 * Whether a read into these sinks gives way to small runs: not while it holds the target's merge lock (a
 * direct load), which a small run's merge may be waiting for — giving way would slow the load that the
 * small run waits on, and the small run would wait all the longer.
 */
export function givesWay(sinks: readonly Sink[]): boolean {
  return !sinks.some((s) => s.holdsMergeLock);
}

/** Reads the pass's files into its sinks. Returns the modes the files declared (ParseContext.setMode), in order. */
export async function readPass(pass: Pass): Promise<RunMode[]> {
  const { sinks } = pass;
  const kindSinks = new Map<string, Sink[]>();
  for (const s of sinks) for (const k of s.mappings.kinds) kindSinks.set(k, [...(kindSinks.get(k) ?? []), s]);
  const route = pass.shared ? (kind: string | undefined) => kindSinks.get(kind ?? '') : () => sinks;
  const kinds = pass.shared ? new Set(kindSinks.keys()) : sinks[0]!.mappings.kinds;
  const declared: RunMode[] = [];
  // Lazy records only when every sink hashes raw lines (a fingerprint's): any other sink reads every `data`.
  const rawLines = sinks.length > 0 && sinks.every((s) => s.rawLines === true);
  // Lines passed over unread only for a run read alone: a shared read's other runs need every record.
  const lineSkip = !pass.shared && sinks.length === 1 ? sinks[0]!.lineSkip : undefined;
  // Groups of records taken from their bytes by the one run their kind goes to (a direct load).
  const recordTake: RecordTake | undefined = sinks.some((s) => s.recordTake) ? {
    take(kind, fields, shared, buf, at, count) {
      const to = route(kind);
      return to?.length === 1 && !!to[0]!.recordTake && to[0]!.recordTake.take(kind, fields, shared, buf, at, count);
    },
  } : undefined;
  const giveWay = givesWay(sinks);
  const setMode = (m: RunMode) => { declared.push(m); };
  for (let fi = 0; fi < pass.files.length; fi++) {
    const file = pass.files[fi]!;
    // A parser that keeps nothing of a chunk gets its chunks read into reused buffers (inbox.ts ChunkRing).
    const reuse = pass.connector.copiesInput === true;
    const input = file.growth_key && pass.follow ? pass.follow(file, reuse) : openPayload(file.path, reuse);
    try {
      for await (const batch of pass.connector.parse(input, { fileName: file.file_name, options: pass.options, kinds, setMode, rawLines, ...(lineSkip ? { lineSkip } : {}), ...(recordTake ? { recordTake } : {}), ...(pass.approved ? { approved: true } : {}), ...(pass.fileStore ? { files: pass.fileStore } : {}) })) {
        await feed(sinks, route, batch, fi, file.file_name, !pass.shared);
        await yieldNowAndThen(giveWay);
        // Nobody left to read for: the rest of the file is not worth parsing.
        if (sinks.every((s) => s.error)) return declared;
      }
    } catch (e) {
      if (e && typeof e === 'object' && !fileOfError.has(e)) fileOfError.set(e, fi);
      throw e;
    } finally {
      input.destroy();
    }
  }
  return declared;
}

/** Gives each sink the records of its kinds, mapped and validated, as one COPY write per batch. */
async function feed(
  sinks: Sink[], route: (kind: string | undefined) => Sink[] | undefined, batch: SourceRecord[], fi: number, fileName: string, alone: boolean,
): Promise<void> {
  for (const s of sinks) {
    s.n = 0;
    s.buf.length = 0;
  }
  if (alone) sinks[0]!.n = batch.length;
  else for (const rec of batch) for (const s of route(rec.kind) ?? []) s.n++;
  for (const s of sinks) {
    if (s.error || !s.n) continue;
    try {
      await s.prepare(s.n);
    } catch (e) {
      s.error = e;
    }
  }
  for (const rec of batch) {
    const targets = route(rec.kind);
    if (!targets) continue;
    for (let t = 0; t < targets.length; t++) {
      const s = targets[t]!;
      if (s.error) continue;
      s.read++;
      if (rec.reject) {
        s.rejects.add({ file: fileName, line: rec.line ?? null, path: rec.path ?? null, field: rec.reject.field, rule: rec.reject.rule, reason: rec.reject.reason, record: JSON.stringify(rec.data) });
        continue;
      }
      // Equal to the last snapshot's row as read (fingerprint): neither mapped nor staged.
      if (s.skipRaw?.(rec)) continue;
      const entry = s.mappings.pick(rec.kind);
      if (!entry) {
        if (alone) {
          s.rejects.add({ file: fileName, line: rec.line ?? null, path: rec.path ?? null, field: '', rule: 'mapping', reason: `no mapping for document kind '${rec.kind}'`, record: JSON.stringify(rec.data) });
        }
        continue;
      }
      const r = entry.fn(rec.data);
      if (r.ok) {
        const line = s.format(r.value, rec.line, fi, false, rec.path);
        if (line) {
          s.staged++;
          s.buf.push(line);
        }
        continue;
      }
      s.rejects.add({ file: fileName, line: rec.line ?? null, path: rec.path ?? null, field: r.field, rule: r.rule, reason: r.reason, record: JSON.stringify(rec.data) });
      const k = entry.keyFn?.(rec.data);
      if (!k?.ok) continue;
      const line = s.format(k.value, rec.line, fi, true, rec.path);
      if (line) s.buf.push(line);
    }
  }
  for (const s of sinks) {
    if (s.error) {
      s.buf.length = 0;
      continue;
    }
    try {
      // Lines taken as bytes came before this batch's records (the connector hands records out first).
      if (s.flushTaken) await s.flushTaken(s.buf.length > 0);
      if (!s.buf.length) continue;
      // One flat string, encoded once: concatenating line by line builds a rope that is slow to encode.
      await s.write(Buffer.from(s.buf.join(''), 'utf8'));
    } catch (e) {
      s.error ??= e;
    }
    s.buf.length = 0;
  }
}
