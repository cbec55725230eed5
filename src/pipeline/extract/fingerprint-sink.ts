// A sink's fingerprint (issue 16): a snapshot run of a fact, read with the flow's last accepted snapshot
// beside it, stages only the rows that differ from it (FingerprintWalk) and writes its own rows as the
// next fingerprint. The sink's formatter is wrapped: the walk sees every row first.
import type { PipelineDeps } from '../deps.ts';
import { currentFingerprint, fingerprintFile, fingerprints, prepareFingerprintDir } from '../fingerprints.ts';
import type { FactSpec } from '../targets.ts';
import { copyText } from './copy.ts';
import { FingerprintOverflow, FingerprintWalk, NO_RAW_HASH, RawHash } from './fingerprint-walk.ts';
import type { RunMappings } from './mappings.ts';
import type { PassRun, Sink } from './sink.ts';

export interface SinkFingerprint {
  walk: FingerprintWalk;
  /** The run whose fingerprint the walk compares with (null: none, every row is staged). */
  base: number | null;
  /**
   * With a base: the flow's rows per partition key, counted while the payload is read (PostgreSQL is idle
   * then). The merge locks and checks with them instead of scanning the flow's rows under its locks.
   * Undefined when the count failed: the merge counts itself.
   */
  held?: Promise<Array<{ id: number; n: number }> | undefined>;
}

/**
 * The flow's rows per partition key now. A bus write to them after this count clears the fingerprint
 * (src/pipeline/fingerprints.ts), which the merge checks under its lock: the count and the fingerprint
 * agree or the run is read again. (A write that broke that rule after the count would be found by the
 * next snapshot's count instead of this one's.)
 */
async function countHeld(deps: PipelineDeps, spec: FactSpec, flowId: number): Promise<Array<{ id: number; n: number }> | undefined> {
  try {
    const r = await deps.pool.query<{ id: number; n: string }>(
      `SELECT ${spec.keys[0].column} AS id, count(*)::bigint AS n FROM ${spec.table} WHERE flow_id = $1 GROUP BY 1`, [flowId]);
    return r.rows.map((x) => ({ id: Number(x.id), n: Number(x.n) }));
  } catch {
    return undefined;
  }
}

/**
 * The fingerprint of a run's sink, when the run may have one (fingerprints()); `compare`: read the flow's
 * current fingerprint beside the payload (not for a direct load: an empty table has nothing to skip).
 */
export async function openFingerprint(
  deps: PipelineDeps, run: PassRun, mappings: RunMappings, directCovers: boolean, opts: { compare: boolean },
): Promise<SinkFingerprint | undefined> {
  if (!deps.config.MAGISTRAL_FINGERPRINTS || run.spec.kind !== 'fact' || run.mode !== 'snapshot' || !directCovers) return undefined;
  const r = (await deps.pool.query<{ snapshot_group: string | null; fingerprint_off: boolean }>(
    'SELECT snapshot_group, fingerprint_off FROM runs WHERE id = $1', [run.id])).rows[0];
  if (!r || !fingerprints(run.flow, run.spec, { mode: run.mode, snapshotGroup: r.snapshot_group, directCovers })) return undefined;
  const dataDir = deps.config.MAGISTRAL_DATA_DIR;
  const base = opts.compare && !r.fingerprint_off ? await currentFingerprint(deps.pool, dataDir, run.flowId, run.flow) : undefined;
  prepareFingerprintDir(dataDir, run.flowId);
  const walk = new FingerprintWalk(base?.file, fingerprintFile(dataDir, run.flowId, run.id), mappings.signature);
  return { walk, base: base?.runId ?? null, ...(base ? { held: countHeld(deps, run.spec, run.flowId) } : {}) };
}

/** Wraps the sink's formatter: rows equal to the fingerprint's are not staged; accepted rows are recorded. */
export function withFingerprint(sink: Sink, spec: FactSpec, fp: SinkFingerprint): Sink {
  const inner = sink.format;
  // The raw hash of the record being formatted (skipRaw runs just before its mapping and format).
  const hash = new RawHash();
  let hashed = false;
  const hashes = sink.mappings.signature !== undefined;
  sink.skipRaw = (rec) => {
    if (!hashes || sink.error) return false;
    // The same hash either way: a raw line is hashed column by column as its `data` would be.
    if (rec.rawLine) hash.ofLine(rec.rawLine, rec.kind);
    else hash.of(rec.data, rec.kind);
    hashed = true;
    return fp.walk.sameRaw(hash);
  };
  // Lazy lines whenever the rows are hashed: a plain line is hashed whole (ofLine) even when nothing can be
  // skipped this time, so that the next snapshot can compare its lines by their bytes.
  sink.rawLines = hashes;
  // Lines the connector passed over (equal to the fingerprint's as bytes): read, never handed out.
  let unread = 0;
  if (hashes && fp.walk.rawComparable) {
    sink.lineSkip = {
      skip(columns, delimiter, buf, start, end) {
        if (sink.error || !hash.ofBytes(columns, delimiter, buf, start, end) || !fp.walk.sameRaw(hash)) return false;
        unread++;
        return true;
      },
    };
  }
  const partField = spec.keys[0].field;
  const itemField = spec.keys[1].field;
  const direct = spec.direct;
  const { walk } = fp;
  sink.format = (v, line, fi, reject, path) => {
    const key = `${copyText(v[partField])}\t${copyText(v[itemField])}`;
    if (reject) {
      hashed = false;
      try {
        walk.seen(key);
      } catch (e) {
        if (!(e instanceof FingerprintOverflow)) throw e;
        sink.error ??= e;
        return '';
      }
      return inner(v, line, fi, reject, path);
    }
    let row = key;
    for (let k = 0; k < direct.length; k++) {
      const d = direct[k]!;
      const x = v[d.field];
      row += '\t' + (x === undefined ? (d.default ?? '\\N') : copyText(x));
    }
    let stage: boolean;
    try {
      stage = walk.stage(key, row);
    } catch (e) {
      // Too far from the last snapshot's order: this read stops and the run is read without one.
      if (!(e instanceof FingerprintOverflow)) throw e;
      sink.error ??= e;
      return '';
    }
    const h = hashed ? hash.hex() : NO_RAW_HASH;
    hashed = false;
    if (!stage) {
      walk.record(h, row);
      return '';
    }
    const out = inner(v, line, fi, reject, path);
    // A row the sink could not take (a direct load's unknown code) is no part of the snapshot it wrote.
    if (out) walk.record(h, row);
    return out;
  };
  const finish = sink.finish.bind(sink);
  sink.finish = (declared, started) => {
    sink.read += unread;
    unread = 0;
    return finish(declared, started);
  };
  const discard = sink.discard.bind(sink);
  sink.discard = () => {
    walk.close();
    discard();
  };
  return sink;
}
