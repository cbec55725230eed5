// The direct sink: a first load into an empty fact table (prices, stock) without staging. External
// codes are resolved in the worker and rows COPY'd straight into the live table, all in one transaction
// that also creates the placeholders and finishes the run. Nothing is visible until it commits.
import { finished } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { PipelineDeps } from '../deps.ts';
import { autoCreates } from '../flows.ts';
import { hasEarlierOpenRun, logChanges, markDirectDone, recordCompletion } from '../lifecycle/index.ts';
import { createLockName, mergeLockName, TRY_XACT_LOCK_SQL, XACT_LOCK_SQL } from '../locks.ts';
import { TARGETS, type FactSpec, type RefSpec } from '../targets.ts';
import { stagingTable } from '../staging-table.ts';
import type pg from 'pg';
import { copyText, writeWithBackpressure } from './copy.ts';
import { effectiveMode, type RunMappings } from './mappings.ts';
import type { RejectWriter } from './rejects.ts';
import { analyzeWithin, Overflow, Resolver } from './resolver.ts';
import type { DirectLeader, LineFormat, PassFile, PassRun, Sink } from './sink.ts';
import { activateFingerprint, BUS_WRITE_SQL, removeOlderFingerprints } from '../fingerprints.ts';
import type { SinkFingerprint } from './fingerprint-sink.ts';
import { RawHash, type FingerprintWalk } from './fingerprint-walk.ts';
import { CodeTable, copyBytes, LineCutter, latin1, MAX_TAKEN_LINE, type PlainMapping } from './line-take.ts';
import type { LineSkip } from '../../port/connector.ts';
import { openShadow, type ShadowLoad } from './shadow-load.ts';
import { recordTaker } from './record-take.ts';

/** The first load of the pass rolled back: its companion does too, and is read again. */
export class LeaderRolledBack extends Overflow {}

/**
 * Opens the direct path for a run, on a connection of its own (the pass's lock holder goes on whatever
 * happens to it). Undefined: not a first load, or not now — use staging. `wait`: wait for the merge and
 * creation locks (a run read alone); else try them only (a shared read, see below).
 */
export async function openDirectSink(
  deps: PipelineDeps, run: PassRun, spec: FactSpec, mappings: RunMappings, rejects: RejectWriter, files: readonly PassFile[],
  opts: {
    wait: boolean; fingerprint?: SinkFingerprint;
    /**
     * The file is still arriving (growth.ts): the load goes into a shadow or not at all, and numbers codes
     * of entities the flow does not create on trust, provided the file declares them by the end (see
     * `undeclared`; `declared(entity, system)`: what the pass's dimension runs staged); else it is read again.
     */
    declared?: (entity: string, system: string) => ReadonlySet<string> | undefined;
    /** The pass's first direct load: this one is its companion (see DirectLeader). */
    leader?: DirectLeader;
  },
): Promise<Sink | undefined> {
  // Cheap pre-checks outside the transaction; the emptiness is checked again under the locks.
  if ((await deps.pool.query(`SELECT EXISTS (SELECT 1 FROM ${spec.table}) AS e`)).rows[0].e) return undefined;
  if (await hasEarlierOpenRun(deps.pool, run.flowId, run.id)) return undefined;
  const system = run.flow.source.system ?? 'local';
  const client = await deps.pool.connect();
  let copy: ReturnType<typeof copyFrom>;
  let shadow: ShadowLoad | undefined;
  /** The load's COPY (opened again after placeholders inserted while reading). */
  let copySql = '';
  const resolvers: Resolver[] = [];
  /** Resolvers of the first load used by this companion: it neither locks nor inserts their codes. */
  const shared = new Set<Resolver>();
  for (const ref of spec.keys) {
    const r = opts.leader && autoCreates(run.flow, ref.entity) ? opts.leader.resolver(ref, system) : undefined;
    if (r) shared.add(r);
  }
  const sharedOf = (ref: RefSpec) => [...shared].find((r) => r.ref.entity === ref.entity && r.ref.table === ref.table);
  /** Groups of records may be taken from their bytes (record-take.ts; see below). */
  const takesRecords = deps.config.MAGISTRAL_TAKE_LINES && !!mappings.take && !opts.fingerprint;
  /** Resolvers numbering codes on trust (opts.declared). */
  const onTrust = new Set<Resolver>();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL work_mem = '${deps.config.MAGISTRAL_MERGE_WORK_MEM}'`);
    await client.query(BUS_WRITE_SQL);
    // A shared read takes try-locks only: another sink of the same pass may hold a lock (prices and stock
    // both create products) while its COPY waits for this pass to feed it — waiting here would never end,
    // and PostgreSQL cannot see that deadlock. A lock taken elsewhere sends the run to staging instead.
    let ok = true;
    for (const key of [mergeLockName(spec.name), ...spec.keys.filter((ref) => !sharedOf(ref)).map((ref) => createLockName(ref.entity, system))]) {
      if (!ok) break;
      if (opts.wait) await client.query(XACT_LOCK_SQL, [key]);
      else ok = (await client.query(TRY_XACT_LOCK_SQL, [key])).rows[0].ok as boolean;
    }
    ok = ok && !(await client.query(`SELECT EXISTS (SELECT 1 FROM ${spec.table}) AS e`)).rows[0].e;
    for (const ref of spec.keys) {
      if (!ok) break;
      const mine = sharedOf(ref);
      if (mine) {
        resolvers.push(mine);
        continue;
      }
      const seq = (await client.query(`SELECT pg_get_serial_sequence($1, 'id') AS s`, [ref.table])).rows[0].s as string;
      const creates = autoCreates(run.flow, ref.entity);
      const r = new Resolver(ref, deps.pool, seq, creates || !!opts.declared);
      if (!creates && opts.declared) onTrust.add(r);
      ok = await r.load(client, system);
      resolvers.push(r);
    }
    if (!ok) {
      await client.query('ROLLBACK');
      client.release();
      return undefined;
    }
    // Ids at hand for records taken from their bytes (below), reserved on this connection before the COPY
    // opens: through the pool, with merges holding connections while they wait for this load's locks, the
    // reservation waited for a connection that never came (a SAP endpoint test, 6 connections: the COPY
    // stood in ClientRead until the test timed out).
    if (takesRecords) {
      await resolvers[0]!.topUp(PART_IDS, PART_IDS, client);
      await resolvers[1]!.topUp(ID_LOW, ID_STOCK, client);
    }
    const cols = [spec.keys[0].column, spec.keys[1].column, ...spec.direct.map((d) => d.column), 'flow_id', 'run_id'];
    // Into a shadow without indexes when the table is hash-partitioned (shadow-load.ts), else the table.
    shadow = await openShadow(client, spec.table, run.id);
    if (!shadow && opts.declared) {
      await client.query('ROLLBACK');
      client.release();
      return undefined;
    }
    copySql = `COPY ${shadow?.table ?? spec.table} (${cols.join(', ')}) FROM STDIN`;
    copy = client.query(copyFrom(copySql));
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
    throw e;
  }
  const [part, item] = resolvers as [Resolver, Resolver];
  // Offered to a companion (a first load only) — see DirectLeader.
  let commit: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const committed = new Promise<void>((resolve, reject) => { commit = { resolve, reject }; });
  committed.catch(() => {});
  // A code the flow may not create (a price type never declared) rejects its row, as the staged merge does.
  const unknown = (r: Resolver, code: string, line: number | undefined, fi: number, path: string | undefined): string => {
    rejects.add({
      file: files[fi]!.file_name, line: line ?? null, path: path ?? null, field: r.ref.field, rule: 'reference',
      reason: `unknown ${r.ref.label} '${code}' (system ${system})`, record: JSON.stringify({ [r.ref.field]: code }),
    });
    return '';
  };
  const format = directLineFormat(spec, part, item, `\t${run.flowId}\t${run.id}\n`, unknown);
  let closed = false;
  // A resolver shared with the first load numbers its records of the same batch too: room for both.
  const alsoFor = (r: Resolver) => (shared.has(r) ? opts.leader!.pending() : 0);
  const sink: Sink = {
    holdsMergeLock: true,
    run, mappings, rejects, read: 0, staged: 0, n: 0, buf: [],
    format,
    ...(shared.size ? {} : {
      directLeader: {
        resolver: (ref: RefSpec, sys: string) => (sys === system
          ? resolvers.find((r) => r.ref.entity === ref.entity && r.ref.table === ref.table && r.creatable && !onTrust.has(r))
          : undefined),
        committed,
        pending: () => (sink.error ? 0 : sink.n),
      } satisfies DirectLeader,
    }),
    async prepare(n) {
      if (part.overflow || item.overflow) throw new Overflow('too many distinct codes for a direct load');
      await part.reserve(n + alsoFor(part));
      await item.reserve(n + alsoFor(item));
    },
    write: (chunk) => send(chunk),
    async finish(declared, started) {
      await sink.flushTaken?.(true);
      // The fingerprint is complete: to disk while the COPY ends and the indexes are built.
      opts.fingerprint?.walk.syncSoon();
      await early;
      if (sink.error) throw sink.error;
      copy.end();
      await finished(copy);
      // Codes numbered on trust: the file must have declared each. One it did not: its rows must be
      // rejected, as the staged merge does — the run is read again.
      for (const r of onTrust) {
        const stray = await undeclared(client, run.id, r, system, opts.declared?.(r.ref.entity, system));
        if (stray !== undefined) throw new Overflow(`${r.ref.label} '${stray}' is not declared in the file being uploaded`);
      }
      await shadow?.buildIndexes(client);
      // A companion's rows name the first load's placeholders: it commits after it, or not at all. It
      // waits before it takes any lock the first load may need (the ANALYZE of external_ids below: taken
      // by both before the first load's commit, the two loads waited for each other for good).
      if (opts.leader && shared.size) {
        await opts.leader.committed.catch((e: unknown) => {
          throw new LeaderRolledBack(`the first load of the pass did not commit (${(e as Error).message}): read again`);
        });
      }
      await rejects.done();
      // The placeholders for codes met since the early ones (all of them when there were none), a
      // companion's among them: every code is numbered while the pass reads (records as they are
      // formatted, taken ones as they are taken), and the sinks finish after it.
      await insertPlaceholders();
      const created: Record<string, number> = {};
      for (const r of resolvers) if (r.fresh.length && !shared.has(r)) created[r.ref.entity] = r.fresh.length;
      if (earlyRows) run.log.info({ placeholders: earlyRows, atRow: earlyAt }, 'placeholders inserted while the load was read');
      const ms = Date.now() - started;
      const staged = sink.staged; // rows a code could not be found for were not counted (their line is empty)
      await logChanges(client, run.id, spec.name, { inserted: staged, updated: 0, removed: 0 }, created);
      const done = await markDirectDone(client, run.id, {
        read: sink.read, staged, rejected: rejects.count, extractMs: ms, mode: effectiveMode(run.mode, declared), modeDeclared: declared.length > 0,
      });
      if (!done) throw new Error(`run ${run.id} is no longer extracting: its direct load is rolled back`);
      if (Object.keys(created).length) await analyzeWithin(client, 'external_ids');
      // The snapshot it loaded becomes the flow's fingerprint with it (a delta's rows are no snapshot).
      const fp = opts.fingerprint;
      let fingerprinted = false;
      if (fp && effectiveMode(run.mode, declared) === 'snapshot') {
        const r = await fp.walk.finish(async () => {});
        await activateFingerprint(client, { flowId: run.flowId, runId: run.id, target: spec.table, flow: run.flow, rows: r.written });
        fingerprinted = true;
      } else fp?.walk.close();
      // Last: the live table is locked from here to the commit.
      await shadow?.swap(client);
      await client.query('COMMIT');
      closed = true;
      commit!.resolve();
      if (fingerprinted) removeOlderFingerprints(deps.config.MAGISTRAL_DATA_DIR, run.flowId, run.id);
      recordCompletion(deps, { flow: run.name, stage: 'extract', ms, rows: { read: sink.read, inserted: staged, rejected: rejects.count }, finished: 'done' });
      run.log.info({ read: sink.read, inserted: staged, rejected: rejects.count, created, ms, ...(takenRecords ? { taken: takenRecords } : {}) }, 'run loaded directly into an empty table');
      // The next merges plan their joins on this table: give the planner its new size now. A sample of
      // 3,000 rows a partition, not 30,000: ANALYZE of 1M prices (16 partitions and the parent) took
      // 1.16-1.38 s at the default target and 0.11 s at 10, while the pass's other merges ran beside it
      // (bench:onec). What a merge's plan depends on comes out nearly the same (sizes; distinct products
      // 9,006 against 9,994 of 10,000, distinct price types 100 at both).
      await client.query('SET default_statistics_target = 10').catch(() => {});
      await client.query(`ANALYZE ${spec.table}`).catch(() => {});
      await client.query('RESET default_statistics_target').catch(() => {});
      client.release();
      return 'merged';
    },
    discard() {
      commit!.reject(new Error(`run ${run.id} rolled back`));
      if (closed) return;
      closed = true;
      // Inside the load's transaction (and mostly mid-COPY): dropping the connection rolls it all back.
      client.on('error', () => {});
      copy.on('error', () => {});
      client.release(true);
    },
  };
  copy.on('error', (e: unknown) => { sink.error ??= e; });

  /** Placeholders (and external ids) for the codes numbered since the last call (up to `upto`), in code order. */
  const inserted = resolvers.map(() => 0);
  const insertPlaceholders = async (upto = resolvers.map((r) => r.fresh.length)): Promise<number> => {
    let n = 0;
    for (const [k, r] of resolvers.entries()) {
      // The first load inserts a shared resolver's codes.
      if (shared.has(r)) continue;
      const fresh = r.fresh.slice(inserted[k]!, upto[k]);
      inserted[k] = upto[k]!;
      fresh.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (let i = 0; i < fresh.length; i += 50_000) {
        const chunk = fresh.slice(i, i + 50_000);
        const ids = chunk.map((c) => c[1]);
        const codes = chunk.map((c) => c[0]);
        await client.query(`INSERT INTO ${r.ref.table} (id, code, name, placeholder) SELECT id, code, code, true FROM unnest($1::bigint[], $2::text[]) AS t(id, code)`, [ids, codes]);
        await client.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $3, $4, code, id FROM unnest($1::bigint[], $2::text[]) AS t(id, code)`, [ids, codes, r.ref.entity, system]);
      }
      n += fresh.length;
    }
    return n;
  };

  // Placeholders while the load is read (once): the catalog's codes have all been met when EARLY_QUIET rows
  // in a row brought no new product (an export lists every product under its first price type). Their insert
  // (1.06 s for 50,000 products at 10M: the catalog's search rows among it) came after the COPY and the
  // key; now it runs between two COPYs while the worker goes on taking lines (PostgreSQL waited for the
  // worker a quarter of the COPY), and their COPY lines wait in memory (at most EARLY_HOLD bytes).
  let early: Promise<void> | undefined;
  let earlyDone = false;
  let earlyRows = 0;
  let earlyAt = 0;
  let freshSeen = 0;
  let readAtFresh = 0;
  let held: Buffer[] = [];
  let heldBytes = 0;
  const startEarly = () => {
    earlyDone = true;
    earlyAt = sink.read;
    // The codes met so far; those numbered while they go in wait for the end.
    const upto = resolvers.map((r) => r.fresh.length);
    early = (async () => {
      const old = copy;
      old.end();
      await finished(old);
      earlyRows = await insertPlaceholders(upto);
      copy = client.query(copyFrom(copySql));
      copy.on('error', (e: unknown) => { sink.error ??= e; });
      while (held.length) {
        const h = held;
        held = [];
        heldBytes = 0;
        for (const c of h) await writeWithBackpressure(copy, c);
      }
    })().catch((e: unknown) => { sink.error ??= e; }).finally(() => { early = undefined; });
  };
  const send = async (chunk: Buffer): Promise<void> => {
    if (!earlyDone) {
      // The catalog side (products): the parts (price types, warehouses) keep coming, a few.
      const fresh = item.fresh.length;
      if (fresh !== freshSeen) {
        freshSeen = fresh;
        readAtFresh = sink.read;
      } else if (fresh >= EARLY_MIN_CODES && sink.read - readAtFresh >= EARLY_QUIET) startEarly();
    }
    if (early) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes > EARLY_HOLD) await early;
      return;
    }
    if (sink.error) throw sink.error;
    await writeWithBackpressure(copy, chunk);
  };
  // A file.csv line whose values the mapping passes on as they stand is taken as bytes (line-take.ts).
  const fpWalk = opts.fingerprint?.walk;
  let takenRecords = 0;
  // So are groups of plain records a markup reader finds (record-take.ts: a 1C offer's prices). Not with a
  // fingerprint: its lines would need the records' raw hashes.
  if (takesRecords && mappings.take) {
    const entry = mappings.pick(mappings.take.kind);
    const idOf = (r: Resolver) => (code: string): number | undefined => {
      if (r.overflow) {
        // Too many codes to hold in the worker: the run is read again, to staging (as prepare would say).
        sink.error ??= new Overflow('too many distinct codes for a direct load');
        return undefined;
      }
      return r.idNow(code);
    };
    const taker = recordTaker(mappings.take.kind, mappings.take.fields, {
      direct: spec.direct.map((d) => ({ field: d.field, absent: d.default ?? '\\N' })),
      partField: spec.keys[0].field, itemField: spec.keys[1].field, partId: idOf(part), itemId: idOf(item),
      map: (data) => {
        const r = entry?.fn(data);
        return r?.ok ? r.value : undefined;
      },
      tail: Buffer.from(`\t${run.flowId}\t${run.id}\n`),
      taken: (n) => {
        sink.read += n;
        sink.staged += n;
        takenRecords += n;
      },
      // Past TAKEN_HOLD bytes not yet handed on, groups come as records: their batch hands the bytes on.
      open: () => !sink.error && taker.pending() < TAKEN_HOLD,
    });
    sink.recordTake = taker;
    // Records taken come between the batches that reserve ids (prepare): keep a stock of ids at hand
    // (reserved through the pool from here on, as prepare does: the COPY holds the load's connection).
    sink.flushTaken = async (all) => {
      if (all || taker.pending() >= TAKEN_WRITE) await taker.flush(send);
      await part.topUp(PART_IDS / 4, PART_IDS);
      await item.topUp(ID_LOW, ID_STOCK);
    };
  }
  if (deps.config.MAGISTRAL_TAKE_LINES && mappings.plain && !fpWalk?.comparing) {
    const taker = lineTaker(sink, spec, mappings.plain, part, item, Buffer.from(`\t${run.flowId}\t${run.id}\n`), fpWalk);
    if (taker) {
      sink.lineSkip = taker;
      const records = sink.flushTaken;
      sink.flushTaken = async (all) => {
        await records?.(all);
        await taker.flush(send);
      };
    }
  }
  return sink;
}

/**
 * A code `r` numbered on trust that the file did not declare, if any. Declared: staged by a dimension run
 * of the same pass (`inPass`), or by a run this one depends on that waits staged for the seal (read alone
 * before it: the file's head). Such a run cannot merge meanwhile: its merge waits for the creation lock
 * this load holds, and completes the placeholders after it commits.
 */
async function undeclared(client: pg.PoolClient, runId: number, r: Resolver, system: string, inPass: ReadonlySet<string> | undefined): Promise<string | undefined> {
  let left = r.fresh.map(([code]) => code).filter((code) => !inPass?.has(code));
  if (!left.length) return undefined;
  const dims = Object.values(TARGETS).filter((t) => t?.kind === 'dimension' && t.entity === r.ref.entity).map((t) => t!.name);
  const deps = await client.query<{ id: string }>(`SELECT d.id FROM runs me JOIN runs d ON d.id = ANY(me.depends_on) JOIN flows f ON f.id = d.flow_id
    WHERE me.id = $1 AND d.state IN ('staged', 'merging') AND d.target = ANY($2::text[]) AND coalesce(f.definition->'source'->>'system', 'local') = $3`, [runId, dims, system]);
  for (const d of deps.rows) {
    const found = await client.query<{ code: string }>(`SELECT DISTINCT code FROM ${stagingTable(Number(d.id))} WHERE NOT _reject AND code = ANY($1::text[])`, [left]);
    const seen = new Set(found.rows.map((x) => x.code));
    left = left.filter((code) => !seen.has(code));
    if (!left.length) return undefined;
  }
  return left[0];
}

/** Ids at hand for codes met by taken records: topped up to ID_STOCK when fewer than ID_LOW are left. */
const ID_LOW = 16_384;
const ID_STOCK = 65_536;
/** The same for the partition key's entity (price types, warehouses: a few). */
const PART_IDS = 2_048;

/** COPY bytes of taken records held until the engine's next turn, at most (record-take.ts). */
const TAKEN_HOLD = 8 << 20;
/**
 * COPY bytes of taken records written at once: an engine turn takes a few offers (20 KB of prices), and
 * each COPY write is two socket writes (a profile of bench:onec: 0.55 s of the worker in writev and
 * writeBuffer for 60 MB in about 3,000 writes).
 */
const TAKEN_WRITE = 256 << 10;

/** Placeholders go in while the load is read once this many codes are new… */
const EARLY_MIN_CODES = 1_000;
/** …and this many rows in a row brought none. */
const EARLY_QUIET = 50_000;
/** COPY bytes held while they go in; past this the read waits. */
const EARLY_HOLD = 32 << 20;

/** Writes the decimal digits of a non-negative integer id at `at`; answers the offset after them. */
function writeId(buf: Buffer, at: number, x: number): number {
  if (x > 0x7fffffff) return at + buf.write(String(x), at, 'latin1');
  // Small integers: integer division, no float.
  let n = 1;
  for (let y = x; y >= 10; y = (y / 10) | 0) n++;
  for (let i = at + n - 1; i >= at; i--) {
    const q = (x / 10) | 0;
    buf[i] = 48 + x - q * 10;
    x = q;
  }
  return at + n;
}

/**
 * The id of the code in buf[s, e): the last line's again, or found by its bytes (CodeTable), else asked
 * of the resolver — after the field's canonical check, made once per code here rather than every line.
 */
class CodeMemo {
  private readonly bytes = Buffer.alloc(MAX_TAKEN_LINE);
  private len = -1;
  private id = 0;
  private readonly table = new CodeTable();

  constructor(private readonly r: Resolver, private readonly check: (code: string) => boolean) {}

  idOf(buf: Uint8Array, s: number, e: number): number | undefined {
    const len = e - s;
    if (len === this.len) {
      let i = 0;
      while (i < len && this.bytes[i] === buf[s + i]) i++;
      if (i === len) return this.id;
    }
    let id: number | undefined = this.table.get(buf, s, e);
    if (id < 0) {
      const code = latin1(buf, s, e);
      if (!this.check(code)) return undefined;
      id = this.r.idNow(code);
      if (id === undefined) return undefined;
      this.table.set(buf, s, e, id);
    }
    copyBytes(this.bytes, 0, buf, s, e);
    this.len = len;
    this.id = id;
    return id;
  }
}

interface LineTaker extends LineSkip {
  /** Hands the COPY lines taken so far to `write`, in order. */
  flush(write: (chunk: Buffer) => Promise<void>): Promise<void>;
}

/**
 * A first load's lines taken as bytes (line-take.ts): the values of a line the mapping passes on as they
 * stand go to the COPY line (ids, direct columns, `tail`) and to the fingerprint line (raw hash, codes,
 * direct columns) without a record, mapping or string per value; the line counts as read and loaded. The
 * COPY lines wait in buffers until the engine's next turn (flush). Undefined: the mapping lacks a key field.
 */
function lineTaker(sink: Sink, spec: FactSpec, plan: PlainMapping, part: Resolver, item: Resolver, tail: Buffer, walk: FingerprintWalk | undefined): LineTaker | undefined {
  const fieldIndex = (name: string) => plan.fields.findIndex((f) => f.name === name);
  const partF = fieldIndex(spec.keys[0].field);
  const itemF = fieldIndex(spec.keys[1].field);
  if (partF < 0 || itemF < 0) return undefined;
  const directF = spec.direct.map((d) => fieldIndex(d.field));
  const absent = spec.direct.map((d) => Buffer.from(d.default ?? '\\N', 'latin1'));
  const partMemo = new CodeMemo(part, plan.fields[partF]!.check);
  const itemMemo = new CodeMemo(item, plan.fields[itemF]!.check);
  const hash = new RawHash();
  let cutColumns: readonly string[] | undefined;
  let cutDelimiter = -1;
  let cutter: LineCutter | undefined;
  /** Per direct column: its value when the file lacks the field's column (default or absent), as bytes. */
  let konst: Buffer[] = [];
  let konstBytes = 0;
  const chunks: Buffer[] = [];
  const lastPartDigits = Buffer.alloc(24);
  let lastPart = -1;
  let lastPartLen = 0;
  let out = Buffer.allocUnsafe(1 << 18);
  let at = 0;

  /** Writes a key field's value (from the line, or its column's default) at `o`. */
  const writeKey = (b: Buffer, o: number, src: Uint8Array, f: number): number => {
    const c = cutter!;
    if (c.s[f]! >= 0) return copyBytes(b, o, src, c.s[f]!, c.e[f]!);
    return o + b.write(c.konst[f]!, o, 'latin1');
  };
  const keyId = (memo: CodeMemo, r: Resolver, f: number, src: Uint8Array): number | undefined => {
    const c = cutter!;
    if (c.s[f]! >= 0) return memo.idOf(src, c.s[f]!, c.e[f]!);
    const k = c.konst[f];
    return k === undefined || !plan.fields[f]!.check(k) ? undefined : r.idNow(k);
  };

  return {
    skip(columns, delimiter, buf, start, end) {
      if (sink.error) return false;
      if (columns !== cutColumns || delimiter !== cutDelimiter) {
        cutColumns = columns;
        cutDelimiter = delimiter;
        cutter = new LineCutter(plan, columns, delimiter, [partF, itemF]);
        konst = spec.direct.map((_, k) => {
          const f = directF[k]!;
          const v = f >= 0 ? cutter!.konst[f] : undefined;
          return v === undefined ? absent[k]! : Buffer.from(v, 'latin1');
        });
        konstBytes = konst.reduce((n, b) => n + b.length, 0) + 2 * (cutter.konst[partF]?.length ?? 0) + 2 * (cutter.konst[itemF]?.length ?? 0);
      }
      const c = cutter!;
      if (!c.cut(buf, start, end)) return false;
      const p = keyId(partMemo, part, partF, buf);
      if (p === undefined) return false;
      const i = keyId(itemMemo, item, itemF, buf);
      if (i === undefined) return false;
      if (part.overflow || item.overflow) {
        // Too many codes to hold in the worker: the run is read again, to staging (as prepare would say).
        sink.error ??= new Overflow('too many distinct codes for a direct load');
        return false;
      }
      const max = 2 * (end - start) + konstBytes + 64 + tail.length + 4 * directF.length;
      if (at + max > out.length) {
        chunks.push(out.subarray(0, at));
        out = Buffer.allocUnsafe(Math.max(1 << 18, max));
        at = 0;
      }
      // The part (price type, warehouse) is the same line after line: its digits are copied.
      if (p !== lastPart) {
        lastPart = p;
        lastPartLen = writeId(lastPartDigits, 0, p);
      }
      let o = copyBytes(out, at, lastPartDigits, 0, lastPartLen);
      out[o++] = 9;
      o = writeId(out, o, i);
      // The direct columns, each after a tab: the same bytes end the fingerprint line.
      const ds = o;
      for (let k = 0; k < directF.length; k++) {
        out[o++] = 9;
        const f = directF[k]!;
        if (f >= 0 && c.s[f]! >= 0) o = copyBytes(out, o, buf, c.s[f]!, c.e[f]!);
        else o = copyBytes(out, o, konst[k]!, 0, konst[k]!.length);
      }
      const de = o;
      o = copyBytes(out, o, tail, 0, tail.length);
      at = o;
      if (walk) {
        // The fingerprint line, as withFingerprint records a row: raw hash, part and item codes, direct columns.
        hash.ofBytes(columns, delimiter, buf, start, end);
        let w = walk.lineRoom(max);
        const fb = walk.lineBuffer();
        w = hash.writeHex(fb, w);
        fb[w++] = 9;
        w = writeKey(fb, w, buf, partF);
        fb[w++] = 9;
        w = writeKey(fb, w, buf, itemF);
        w = copyBytes(fb, w, out, ds, de);
        walk.wroteLine(w);
      }
      sink.read++;
      sink.staged++;
      return true;
    },
    async flush(write) {
      if (at) {
        chunks.push(out.subarray(0, at));
        out = Buffer.allocUnsafe(1 << 18);
        at = 0;
      }
      while (chunks.length) await write(chunks.shift()!);
    },
  };
}

/**
 * The COPY line of a canonical row for a direct load: resolved key ids, the direct value columns, and
 * `tail` (flow and run ids, line end). `unknown` rejects a row whose code may not be created.
 */
export function directLineFormat(
  spec: FactSpec, part: Resolver, item: Resolver, tail: string,
  unknown: (r: Resolver, code: string, line: number | undefined, fi: number, path: string | undefined) => string,
): LineFormat {
  const partField = spec.keys[0].field;
  const itemField = spec.keys[1].field;
  const direct = spec.direct;
  return (v, line, fi, reject, path) => {
    if (reject) return ''; // nothing live to protect in an empty table
    const p = part.id(v[partField] as string);
    if (p === undefined) return unknown(part, v[partField] as string, line, fi, path);
    const i = item.id(v[itemField] as string);
    if (i === undefined) return unknown(item, v[itemField] as string, line, fi, path);
    let out = `${p}\t${i}`;
    for (let k = 0; k < direct.length; k++) {
      const d = direct[k]!;
      const x = v[d.field];
      out += '\t' + (x === undefined ? (d.default ?? '\\N') : copyText(x));
    }
    return out + tail;
  };
}
