// The extract stage of a run: claim it (and the runs sharing its file), read the payload once into a
// sink per run, and finish each run through the lifecycle. Restartable from scratch.
import { PayloadError, isMagistralError } from '../../errors/index.ts';
import { storeFile } from '../../backoffice/files.ts';
import type { Connector, PayloadFileStore } from '../../port/connector.ts';
import type { PipelineDeps } from '../deps.ts';
import { enqueueExtract, enqueueMerge } from '../jobs.ts';
import { backToReceived, failRun, runSettled } from '../lifecycle/index.ts';
import { extractLockKey, UNLOCK_SQL } from '../locks.ts';
import { openDirectSink } from './direct-sink.ts';
import { setApartUnreadable } from '../receive.ts';
import { fileOfError, readPass } from './engine.ts';
import { compileRunMappings, type RunMappings, type RunMode } from './mappings.ts';
import type { FactSpec } from '../targets.ts';
import { RejectWriter } from './rejects.ts';
import { Overflow } from './resolver.ts';
import { Deferred, type Budget, type DirectLeader, type PassFile, type PassRun, type Sink } from './sink.ts';
import { openStagedSink } from './staged-sink.ts';
import { openFingerprint, withFingerprint } from './fingerprint-sink.ts';
import { FingerprintOverflow } from './fingerprint-walk.ts';
import { claimAlone, claimShared } from './claim-pass.ts';
import { annotate, ATTR } from '../../telemetry/tracing.ts';
import type { Readable } from 'node:stream';
import { awaitSeal, followPayload, GrowthAbandoned } from '../growth.ts';

export type ExtractOutcome = 'staged' | 'merged' | 'skipped' | 'paused' | 'failed' | 'busy' | 'waiting';

/** Duplicate keys (a direct load's primary key), too many codes, no connection to spare: read the run again, to staging. */
function readsAgain(e: unknown): boolean {
  return e instanceof Overflow || e instanceof Deferred || (e as { code?: string }).code === '23505';
}

/**
 * Runs the extract stage for run `runId` (and, when its file is shared, for the other runs of the file
 * that may read now). Returns 'skipped' when the run is past this stage, 'busy' when another worker
 * holds it, 'paused' when its flow is paused, 'waiting' when what it needs has not ended (its job is
 * woken when it does). A PayloadError fails the run for good.
 */
export async function extractRun(deps: PipelineDeps, runId: number): Promise<ExtractOutcome> {
  const leader = await deps.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id')
    .select(['runs.id', 'runs.flow_id', 'runs.state', 'runs.kind', 'runs.mode', 'runs.inbox_ids', 'runs.read_with', 'runs.coalesce_bytes', 'runs.approved', 'flows.name', 'flows.definition', 'flows.paused'])
    .where('runs.id', '=', runId).executeTakeFirst();
  if (!leader) return 'skipped';
  annotate({ [ATTR.flow]: leader.name });
  if (leader.state !== 'received' && leader.state !== 'extracting') return 'skipped';
  if (leader.kind !== 'payload') return 'skipped'; // a snapshot group's finalize run has nothing to read
  if (leader.paused) return 'paused';
  const flow = leader.definition;
  const connector = deps.registry.connector(flow.source.connector);
  if (!connector) {
    await failRun(deps, runId, 'MAG_ERR_CONNECTOR_UNKNOWN', `connector '${flow.source.connector}' is not available in this worker`);
    await runSettled(deps, runId);
    return 'failed';
  }
  const shared = leader.read_with !== null;
  // A file still arriving (growth.ts): read as it comes without waiting for the runs it depends on (the
  // merge still does; neither merges before the seal). A first load loads into a shadow meanwhile and
  // commits only after the seal (its read ends there).
  const growing = (await deps.pool.query<{ key: string }>(`SELECT g.key FROM inbox i JOIN inbox_growth g ON g.key = i.growth_key
    WHERE i.id = ANY($1::bigint[]) AND g.state <> 'sealed' LIMIT 1`, [leader.inbox_ids.map(Number)])).rows[0]?.key;

  const lockClient = await deps.pool.connect();
  let claimed: PassRun[] = [];
  let outcome: ExtractOutcome | 'again';
  try {
    const c = shared ? await claimShared(deps, lockClient, leader, !!growing) : await claimAlone(deps, lockClient, leader, !!growing);
    if (!Array.isArray(c)) return c;
    claimed = c;
    // A run gathering messages is read as it was claimed: until then a coalescing receipt may have
    // added files (receive.ts joins only a run still received; the claim moved it on).
    const inboxIds = (leader.coalesce_bytes === null ? leader.inbox_ids
      : (await deps.db.selectFrom('runs').select('inbox_ids').where('id', '=', runId).executeTakeFirstOrThrow()).inbox_ids).map(Number);
    const files = await deps.db.selectFrom('inbox').select(['id', 'file_name', 'path', 'growth_key']).where('id', 'in', inboxIds).execute();
    files.sort((a, b) => inboxIds.indexOf(Number(a.id)) - inboxIds.indexOf(Number(b.id)));
    // Runs made from one file together read it once, for all of them.
    const passFiles: PassFile[] = shared ? files.slice(0, 1) : files;
    outcome = await extractClaimed(deps, claimed, runId, {
      approved: claimed.every((c) => c.approved),
      files: passFiles.map((f) => ({ ...f, growth_key: f.growth_key === growing ? growing : null })), connector, options: (flow.source.options ?? {}) as Record<string, unknown>,
      shared, fileStore: payloadFileStore(deps), growing: !!growing, follow: (f, reuse) => followPayload(deps.pool, f.growth_key!, f.path, deps.stopping, reuse),
    });
  } finally {
    for (const c of claimed) await lockClient.query(UNLOCK_SQL, [extractLockKey(c.id)]).catch(() => {});
    lockClient.release();
  }
  // The leader gave up its place in the shared read: it is read again alone, now.
  return outcome === 'again' ? extractRun(deps, runId) : outcome;
}

interface PassInput {
  files: PassFile[];
  connector: Connector;
  options: Record<string, unknown>;
  shared: boolean;
  fileStore: PayloadFileStore;
  /**
   * A file is still arriving: a direct load goes into a shadow only (it must not hold the live table for
   * the upload's length), and may number codes of the entities a run of the pass stages (see `declared`).
   */
  growing: boolean;
  /** Every claimed run was approved after a stage held it (ParseContext.approved). */
  approved: boolean;
  follow: (file: PassFile, reuse: boolean) => Readable;
}

/** Files a payload carries (closing documents' PDFs) go to the store's file store under the data dir. */
function payloadFileStore(deps: PipelineDeps): PayloadFileStore {
  return { store: (content, contentType) => storeFile(deps.db, deps.config.MAGISTRAL_DATA_DIR, content, contentType) };
}

async function extractClaimed(deps: PipelineDeps, claimed: PassRun[], leaderId: number, input: PassInput): Promise<ExtractOutcome | 'again'> {
  const started = Date.now();
  if (input.shared) deps.log.info({ runs: claimed.map((c) => c.id), file: input.files[0]?.file_name }, 'reading one file for several runs');
  // The pool is shared with the worker's other jobs (merges wait on the locks a direct load holds):
  // leave them room.
  const budget: Budget = { open: 0, max: Math.max(2, (deps.pool.options.max ?? 10) - 4) };
  // The direct load goes to the first fact run (the exchange makes prices before stock), whoever leads.
  // In a shared read the second may load directly beside it, numbering the entity they share (products)
  // with the first's resolver under the first's creation lock (sink.ts DirectLeader); alone, two direct
  // loads would each need that lock.
  const facts = claimed.filter((c) => c.spec.kind === 'fact').sort((a, b) => a.id - b.id);
  const directFor = facts[0]?.id;
  const companionFor = input.shared ? facts[1]?.id : undefined;
  const outcomes = new Map<number, ExtractOutcome | 'again'>();
  let pending = claimed;
  let allowDirect = true;
  // Codes the pass's dimension runs staged, by entity and system: a direct load following a file still
  // arriving numbers the price types (warehouses) the file declares before they are merged (they merge
  // after the seal, the load commits after it too, and their merge then completes its placeholders).
  const fileCodes: Declared = new Map();
  let sinks: Sink[] = [];
  try {
    // A run read alone whose direct load fell back is read once more, to staging.
    while (pending.length) {
      sinks = [];
      // The first direct load opens before its companion.
      for (const run of [...pending].sort((a, b) => Number(b.id === directFor) - Number(a.id === directFor))) {
        const leader = run.id === companionFor ? sinks.find((s) => s.run.id === directFor)?.directLeader : undefined;
        const direct = allowDirect && (run.id === directFor || !!leader);
        sinks.push(await openSink(deps, run, budget, input.files, direct, !input.shared, input.growing ? fileCodes : undefined, leader));
      }
      const declared = await readPass({ ...input, sinks });
      // A direct load's commit is its merge: never before the sender says the file is whole (a reader
      // follows the file to its seal; one that stopped short waits for it here).
      if (input.growing && sinks.some((s) => s.holdsMergeLock && !s.error)) {
        for (const f of input.files) if (f.growth_key) await awaitSeal(deps.pool, f.growth_key, deps.stopping);
      }
      // The sinks end together, each on its own connection, and the other runs move on as each ends: a
      // staged run's merge need not wait for a direct load's index build and ANALYZE. Measured (bench:onec,
      // 1M prices): ended one after the other, the stock run's staging ended 0.9–1.2 s after the prices'
      // load, 1.07 s of it the ANALYZE of the loaded prices.
      const again: PassRun[] = [];
      const ends = await Promise.allSettled(sinks.map(async (s) => {
        const r = await finishSink(deps, s, declared, started, input.shared);
        if (r === 'alone-again') again.push(s.run);
        else {
          outcomes.set(s.run.id, r);
          if (s.run.id !== leaderId) await moveOn(deps, s.run, r);
        }
      }));
      const broke = ends.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (broke) throw broke.reason;
      pending = again;
      allowDirect = false;
    }
  } catch (e) {
    for (const s of sinks) {
      s.discard();
      await s.rejects.done().catch(() => {});
    }
    // One unreadable message of a coalesced run (read alone, so the leader) fails alone; the run reads again.
    const fi = e instanceof PayloadError && claimed.length === 1 && claimed[0]!.id === leaderId ? fileOfError.get(e) : undefined;
    if (fi !== undefined && (await setApartUnreadable(deps, leaderId, fi, (e as PayloadError).code, (e as PayloadError).message)) !== undefined) return 'again';
    if (e instanceof PayloadError || e instanceof GrowthAbandoned || (isMagistralError(e) && e.code === 'MAG_ERR_MAPPING_INVALID')) {
      for (const c of claimed.filter((x) => !outcomes.has(x.id))) {
        c.log.warn({ err: e.message, code: e.code }, 'run failed: payload cannot be read');
        await failRun(deps, c.id, e.code, e.message);
        if (c.id !== leaderId) await runSettled(deps, c.id);
      }
      return 'failed';
    }
    throw e;
  }
  return outcomes.get(leaderId) ?? 'skipped';
}

/** Another run of the pass has no job running now: it is moved on here once its sink ended. */
async function moveOn(deps: PipelineDeps, c: PassRun, o: ExtractOutcome | 'again'): Promise<void> {
  if (o === 'staged') await enqueueMerge(deps, c.id, c.flow).catch((e: unknown) => c.log.warn({ err: e }, 'merge not enqueued; the sweeper will'));
  else if (o === 'merged') await runSettled(deps, c.id);
}

/**
 * The direct path writes the key and the `direct` columns only: a mapping that produces anything else
 * (validity periods, quantity tiers) is merged from staging, where those have their own statements.
 */
function directCovers(spec: FactSpec, mappings: RunMappings): boolean {
  if (spec.directLoad === false) return false;
  const covered = new Set([...spec.keys.map((k) => k.field), ...spec.direct.map((d) => d.field)]);
  return [...mappings.fields].every((f) => covered.has(f));
}

/** Codes staged by the dimension runs of a pass, by `entity system`. */
type Declared = Map<string, Set<string>>;

/** Makes `sink` (a dimension's) note the codes of the rows it stages in `declared`. */
function noteDeclared(sink: Sink, declared: Declared): void {
  const spec = sink.run.spec;
  if (spec.kind !== 'dimension') return;
  const key = `${spec.entity} ${sink.run.flow.source.system ?? 'local'}`;
  const codes = declared.get(key) ?? new Set<string>();
  declared.set(key, codes);
  const format = sink.format;
  sink.format = (v, line, fi, reject, path) => {
    const out = format(v, line, fi, reject, path);
    if (out && !reject && typeof v.code === 'string') codes.add(v.code);
    return out;
  };
}

async function openSink(
  deps: PipelineDeps, run: PassRun, budget: Budget, files: PassFile[], direct: boolean, alone: boolean, declared?: Declared, leader?: DirectLeader,
): Promise<Sink> {
  const mappings = await compileRunMappings(deps, run.flow, run.spec);
  const rejects = new RejectWriter(deps.pool, run.id);
  // A retry starts from scratch: nothing of an earlier attempt survives.
  await rejects.clear();
  const covers = run.spec.kind === 'fact' && directCovers(run.spec, mappings);
  if (direct && run.spec.kind === 'fact' && covers) {
    // A first load compares with nothing (its table is empty) but writes the snapshot's fingerprint.
    const fp = await openFingerprint(deps, run, mappings, covers, { compare: false });
    const sink = await openDirectSink(deps, run, run.spec, mappings, rejects, files, {
      wait: alone, ...(fp ? { fingerprint: fp } : {}), ...(declared ? { declared: (entity, system) => declared.get(`${entity} ${system}`) } : {}), ...(leader ? { leader } : {}),
    });
    if (sink) {
      budget.open++;
      return fp ? withFingerprint(sink, run.spec, fp) : sink;
    }
    fp?.walk.close();
  }
  const growing = files.some((f) => !!f.growth_key);
  // A file read while it is still uploaded is not compared with a fingerprint (kept simple: its read may
  // be given up, and it is staged before the import says whether it is complete).
  const fp = run.spec.kind === 'fact' && !growing ? await openFingerprint(deps, run, mappings, covers, { compare: true }) : undefined;
  const sink = await openStagedSink(deps, run, mappings, rejects, budget, { growing, ...(fp ? { fingerprint: fp } : {}) });
  if (declared) noteDeclared(sink, declared);
  return fp && run.spec.kind === 'fact' ? withFingerprint(sink, run.spec, fp) : sink;
}

/**
 * Ends one sink. A sink that broke for a reason staging handles (readsAgain) is read again: at once,
 * to staging, when read alone ('alone-again'); else its run leaves the shared read and goes back to
 * received, read alone by its own job ('again' for the leader). Other errors fail the pass.
 */
async function finishSink(deps: PipelineDeps, s: Sink, declared: RunMode[], started: number, shared: boolean): Promise<ExtractOutcome | 'again' | 'alone-again'> {
  const { run } = s;
  if (!s.error) {
    try {
      return await s.finish(declared, started);
    } catch (e) {
      s.error = e;
    }
  }
  s.discard();
  await s.rejects.done().catch(() => {});
  if (!readsAgain(s.error)) throw s.error;
  // Read again without a fingerprint (the payload's order is too far from the last snapshot's).
  if (s.error instanceof FingerprintOverflow) await deps.pool.query('UPDATE runs SET fingerprint_off = true WHERE id = $1', [run.id]);
  const reason = s.error instanceof Error && !('code' in s.error) ? s.error.message : 'duplicate keys in the payload';
  await s.rejects.clear();
  if (!shared) {
    run.log.info({ reason }, 'direct load rolled back; staging instead');
    return 'alone-again';
  }
  await backToReceived(deps.pool, run.id, { from: 'extracting', alone: true });
  await enqueueExtract(deps, run.id, run.flow).catch(() => {});
  run.log.info({ reason }, 'shared read rolled back for this run; reading it alone');
  return 'again';
}
