// The worker entry point: BullMQ workers for the extract and merge queues plus the sweeper that
// re-enqueues open runs whose job vanished (Redis restarted). Stateless: scale out by running more.
import { settlementNotices } from '../src/backoffice/credit-notices.ts';
import { documentNotices } from '../src/backoffice/document-notices.ts';
import { Worker } from 'bullmq';
import type { PipelineDeps } from '../src/pipeline/deps.ts';
import { QUEUE_NAMES, redisConnection } from '../src/pipeline/queues.ts';
import { sweep } from '../src/pipeline/runs.ts';
import { rollPrices } from '../src/pipeline/price-roll.ts';
import { createPollQueue, POLL_QUEUE, syncSchedules } from '../src/pipeline/poll.ts';
import { refreshStaleOffers } from '../src/portal/offers.ts';
import { installationId, workerNameSuffix } from '../src/pipeline/installation.ts';
import { actProcessor, extractProcessor, mergeProcessor, outboundProcessor, pollProcessor } from './processors.ts';
import { enqueuePendingActs } from '../src/backoffice/act-requests.ts';
import { enqueueDueOrders, OUTBOUND_FULL_SWEEP_MS, OUTBOUND_RECENT_SECONDS, pullOrderStatuses } from '../src/pipeline/outbound.ts';
import { pausingOnRefusal } from './installation.ts';
import { keepingSmallSlot, stageConcurrency } from './small-runs.ts';
import { mailDelivery } from '../src/cabinet/mail.ts';
import { purgeExpiredSessions } from '../src/cabinet/sessions.ts';
import { invoiceWorker } from '../src/backoffice/order-documents.ts';
import { purgeManagerSessions } from '../src/backoffice/managers.ts';
import { purgeConsoleSessions } from '../src/console/sessions.ts';
import { isDependencyUnavailable } from '../src/db/availability.ts';
import { tickOutage } from '../src/telemetry/tick-outage.ts';
import { warmValidators } from '../src/mapping/index.ts';

/** How often the e-mail outbox is looked at: an invitation or a reset link should arrive within seconds. */
const MAIL_INTERVAL_MS = 1000;

/** How often the workers look for catalog offers to rebuild (they wait for one quiet tick). */
const OFFERS_REFRESH_MS = 2000;

export interface Workers {
  close(): Promise<void>;
  /** Runs the sweeper once now (tests, start-up). */
  sweep(): Promise<number>;
  /** Brings pull schedulers in line with the flows now (also done on every sweep). */
  syncSchedules(): Promise<void>;
}

/**
 * How long a job's lock lasts without renewal: a job whose worker died is taken over (stalled) once it
 * runs out. Never under 5 s, whatever the stalled-check interval.
 */
export function jobLockMs(config: Pick<PipelineDeps['config'], 'MAGISTRAL_STALLED_INTERVAL_MS'>): number {
  return Math.max(config.MAGISTRAL_STALLED_INTERVAL_MS, 5000);
}

export async function startWorkers(base: PipelineDeps, opts: { name?: string } = {}): Promise<Workers> {
  // Aborted first thing in close(): jobs that wait without end (following an upload) let go.
  const stopper = new AbortController();
  const deps: PipelineDeps = { ...base, stopping: stopper.signal };
  const { config, log } = deps;
  // Read before connecting: a worker that cannot tell its installation must not take jobs.
  const installation = await installationId(deps.db);
  // Before the first job: its mappings' validators are compiled already (compile.ts warmValidators).
  warmValidators();
  const connection = redisConnection(config.REDIS_URL);
  connection.on('error', (e) => log.debug({ err: e.message }, 'redis connection error (worker)'));
  const common = {
    connection,
    prefix: config.MAGISTRAL_QUEUE_PREFIX,
    stalledInterval: config.MAGISTRAL_STALLED_INTERVAL_MS,
    lockDuration: jobLockMs(config),
    // A killed worker leaves its job stalled; taking it over is normal here, not a poison sign.
    maxStalledCount: 20,
    // The installation in the name lets the CLI count only the workers that would take its jobs.
    name: `${opts.name ?? `magistral-worker-${process.pid}`}${workerNameSuffix(installation)}`,
  };
  // A worker that refused another installation's job pauses briefly, so that job reaches its owner.
  // One reader and one merger more than configured, kept for small runs (workers/small-runs.ts).
  const small = config.MAGISTRAL_SMALL_RUN_BYTES;
  const extract: Worker = new Worker(QUEUE_NAMES.extract, pausingOnRefusal(() => extract,
    keepingSmallSlot(deps, 'extract', config.MAGISTRAL_EXTRACT_CONCURRENCY, small, extractProcessor(deps))),
  { ...common, concurrency: stageConcurrency(config.MAGISTRAL_EXTRACT_CONCURRENCY, small) });
  const merge: Worker = new Worker(QUEUE_NAMES.merge, pausingOnRefusal(() => merge,
    keepingSmallSlot(deps, 'merge', config.MAGISTRAL_MERGE_CONCURRENCY, small, mergeProcessor(deps))),
  { ...common, concurrency: stageConcurrency(config.MAGISTRAL_MERGE_CONCURRENCY, small) });
  // Pulls wait on remote systems, not on this machine: a few at once, one per flow (poll.ts locks).
  const poll: Worker = new Worker(POLL_QUEUE, pausingOnRefusal(() => poll, pollProcessor(deps)), { ...common, concurrency: 4 });
  // Sends wait on remote systems: a few at once (one per order and flow, outbound.ts locks).
  const outbound: Worker = new Worker(QUEUE_NAMES.outbound, pausingOnRefusal(() => outbound, outboundProcessor(deps)), { ...common, concurrency: 4 });
  // Reconciliation acts asked of ERPs (src/backoffice/act-requests.ts): 1C builds each for seconds.
  const acts: Worker = new Worker(QUEUE_NAMES.acts, pausingOnRefusal(() => acts, actProcessor(deps)), { ...common, concurrency: 2 });
  const pollQueue = createPollQueue(config.REDIS_URL, config.MAGISTRAL_QUEUE_PREFIX);
  for (const w of [extract, merge, poll, outbound, acts]) {
    w.on('error', (e) => log.debug({ err: e.message, queue: w.name }, 'worker error'));
    w.on('failed', (job, e) => log.debug({ queue: w.name, job: job?.id, err: e.message }, 'job failed'));
  }

  // Each timer loop says once that PostgreSQL went away and once that it is back (tick-outage.ts).
  const outages = {
    sweep: tickOutage(log, 'sweeper'), sync: tickOutage(log, 'pull schedules'), outbound: tickOutage(log, 'outbound sweep'),
    offers: tickOutage(log, 'catalog offers refresh'), roll: tickOutage(log, 'price roll'), mail: tickOutage(log, 'e-mail outbox'),
    purge: tickOutage(log, 'session purge and notices'),
  };
  let sweeping = false;
  const doSweep = async (): Promise<number> => {
    if (sweeping) return 0;
    sweeping = true;
    try {
      const n = await sweep(deps);
      outages.sweep.ok();
      return n;
    } catch (e) {
      if (!outages.sweep.failed(e)) log.debug({ err: (e as Error).message }, 'sweep skipped');
      return 0;
    } finally {
      sweeping = false;
    }
  };
  // Schedule syncs never overlap; one asked for while another runs starts afresh after it, so a
  // caller that just changed a flow sees the change.
  let syncing: Promise<void> | undefined;
  const doSync = async (): Promise<void> => {
    while (syncing) await syncing;
    syncing = syncSchedules(deps, pollQueue.queue)
      .then(() => outages.sync.ok(), (e: unknown) => { if (!outages.sync.failed(e)) log.debug({ err: (e as Error).message }, 'schedule sync skipped'); })
      .finally(() => { syncing = undefined; });
    return syncing;
  };
  // Orders due to outbound flows (placed, changed, a job lost with Redis) and status pulls, never two at once.
  let outboundSweep: Promise<void> | undefined;
  let fullOutboundAt = 0;
  const doOutbound = (): Promise<void> => {
    outboundSweep ??= (async () => {
      // Orders changed within the last hour at every tick; the whole lookback every 10 minutes (outbound.ts).
      // Pending act requests whose job vanished (src/backoffice/act-requests.ts): on their own, an orders sweep failing stops them not.
      // Out of reach, the orders sweep below fails too and counts the tick.
      await enqueuePendingActs(deps).catch((e: unknown) => { if (!isDependencyUnavailable(e)) log.debug({ err: (e as Error).message }, 'act request sweep skipped'); });
      const full = Date.now() - fullOutboundAt >= OUTBOUND_FULL_SWEEP_MS;
      await enqueueDueOrders(deps, full ? {} : { lookbackSeconds: OUTBOUND_RECENT_SECONDS });
      if (full) fullOutboundAt = Date.now();
      await pullOrderStatuses(deps);
      outages.outbound.ok();
    })().catch((e: unknown) => { if (!outages.outbound.failed(e)) log.debug({ err: (e as Error).message }, 'outbound sweep skipped'); })
      .finally(() => { outboundSweep = undefined; });
    return outboundSweep;
  };
  const timer = setInterval(() => {
    void doSweep();
    void doOutbound();
    if (!syncing) void doSync();
  }, config.MAGISTRAL_SWEEP_INTERVAL_MS);
  timer.unref();
  // Catalog offers of the cities being browsed are rebuilt once an exchange has settled, before a
  // reader asks (src/portal/offers.ts); a reader that comes first builds them itself.
  let offersSeen: string | undefined;
  let refreshing: Promise<void> | undefined;
  const offersTimer = setInterval(() => {
    if (refreshing) return;
    refreshing = refreshStaleOffers(deps.db, offersSeen)
      .then(({ seen, builds }) => {
        offersSeen = seen;
        outages.offers.ok();
        for (const b of builds) log.info({ city: b.cityId, offers: b.offers, ms: b.ms }, 'catalog offers rebuilt');
      }, (e: unknown) => { if (!outages.offers.failed(e)) log.warn({ err: (e as Error).message }, 'catalog offers refresh failed'); })
      .finally(() => { refreshing = undefined; });
  }, OFFERS_REFRESH_MS);
  offersTimer.unref();
  // Prices whose validity starts or ends pass into (or out of) `prices` within a roll interval of the
  // boundary; reads at an instant do not depend on it (src/portal/price-at.ts).
  let rolling: Promise<void> | undefined;
  const rollTimer = setInterval(() => {
    if (rolling) return;
    rolling = rollPrices(deps.pool)
      .then((r) => {
        outages.roll.ok();
        if (r.counts && r.counts.ins + r.counts.upd + r.counts.del > 0) log.info({ ...r.counts, since: r.since, until: r.until }, 'prices rolled to their validity');
      }, (e: unknown) => { if (!outages.roll.failed(e)) log.warn({ err: (e as Error).message }, 'price roll failed'); })
      .finally(() => { rolling = undefined; });
  }, config.MAGISTRAL_PRICE_ROLL_MS);
  rollTimer.unref();
  // The e-mail outbox (src/cabinet/mail.ts): written by the cabinet's transactions, delivered here.
  const mail = mailDelivery(deps.db, config, log);
  // Invoices of confirmed orders (src/backoffice/order-documents.ts): made before the tick's delivery, so
  // the e-mail with the invoice goes out in the same second.
  const invoices = invoiceWorker(deps.db, config, log);
  let purgedAt = 0;
  // One tick of the outbox at a time: a tick waiting on a database that does not answer is not joined by more.
  let mailing: Promise<void> | undefined;
  const mailTick = async (): Promise<void> => {
    try {
      const n = await invoices.runDue();
      if (n) log.info({ invoices: n }, 'invoices made');
    } catch (e) {
      // Out of reach, the delivery would fail the same way: the tick is skipped (and counted) here.
      if (outages.mail.failed(e)) return;
      log.warn({ err: (e as Error).message }, 'invoice run failed');
    }
    try {
      const n = await mail.deliverDue();
      outages.mail.ok();
      if (n) log.info({ sent: n }, 'e-mail sent');
    } catch (e) {
      if (!outages.mail.failed(e)) log.warn({ err: (e as Error).message }, 'e-mail delivery failed');
    }
  };
  // Expired sessions, day-old sign-in attempts and the calendar's notices, every 10 minutes (again a
  // minute later when the database was out of reach).
  const purgeTick = async (): Promise<void> => {
    const jobs: Array<[Promise<unknown>, string, 'debug' | 'warn']> = [
      [purgeExpiredSessions(deps.db), 'session purge skipped', 'debug'],
      [purgeManagerSessions(deps.db), 'manager session purge skipped', 'debug'],
      [purgeConsoleSessions(deps.db), 'console session purge skipped', 'debug'],
      // Documents that became overdue by the calendar (no merge tells): their notices, once each.
      [settlementNotices(deps.db), 'settlement notifications failed', 'warn'],
      [documentNotices(deps.db), 'document notifications failed', 'warn'],
    ];
    const results = await Promise.allSettled(jobs.map(([p]) => p));
    const errors = results.flatMap((r, i) => (r.status === 'rejected' ? [[r.reason, jobs[i]!] as const] : []));
    const unreachable = errors.find(([e]) => isDependencyUnavailable(e));
    if (unreachable) {
      outages.purge.failed(unreachable[0]);
      purgedAt = Date.now() - 540_000;
    } else outages.purge.ok();
    for (const [e, [, message, level]] of errors) if (!isDependencyUnavailable(e)) log[level]({ err: (e as Error).message }, message);
  };
  const mailTimer = setInterval(() => {
    mailing ??= mailTick().finally(() => { mailing = undefined; });
    if (Date.now() - purgedAt > 600_000) {
      purgedAt = Date.now();
      void purgeTick();
    }
  }, MAIL_INTERVAL_MS);
  mailTimer.unref();
  void doSweep();
  void doSync();
  void doOutbound();
  log.info({ installation, prefix: config.MAGISTRAL_QUEUE_PREFIX, extractConcurrency: config.MAGISTRAL_EXTRACT_CONCURRENCY, mergeConcurrency: config.MAGISTRAL_MERGE_CONCURRENCY, smallRunBytes: small }, 'workers started');

  return {
    sweep: doSweep,
    syncSchedules: doSync,
    async close() {
      stopper.abort();
      clearInterval(timer);
      clearInterval(offersTimer);
      clearInterval(rollTimer);
      clearInterval(mailTimer);
      await mailing;
      await invoices.runDue().catch(() => 0);
      await mail.deliverDue().catch(() => 0);
      mail.close();
      await refreshing;
      await rolling;
      await outboundSweep;
      await Promise.allSettled([extract.close(), merge.close(), poll.close(), outbound.close(), acts.close()]);
      await pollQueue.close();
      connection.disconnect();
    },
  };
}
