// `magistral runs list|show|approve|reject|replay` and `magistral ingest`: runs from the shell.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { createRuntime, type Runtime } from '../../pipeline/runtime.ts';
import { approveRun, getRun, listRejects, listRuns, rejectRun, replayRun, type RunView } from '../../pipeline/runs.ts';
import { retryingDatabase, waitForRunWithWorkers } from '../wait-run.ts';
import { receivePayload } from '../../pipeline/receive.ts';
import { MagistralError } from '../../errors/index.ts';
import { idArgument } from '../args.ts';
import type { HeldSample } from '../../pipeline/held-sample.ts';

export function formatSummary(r: RunView): string {
  const secs = r.durationMs !== null ? (r.durationMs / 1000).toFixed(2) : '-';
  const lines = [
    `run ${r.id} of flow ${r.flow}: ${r.state}${r.heldReason ? ` — ${r.heldReason}` : ''}${r.mergedWith ? ` (merged with run ${r.mergedWith})` : ''}${r.error ? ` — ${r.error.code}: ${r.error.message}` : ''}`,
    `  files     ${r.files.join(', ')}`,
    `  read      ${r.rows.read}`,
    `  staged    ${r.rows.staged}`,
    ...(r.rows.skipped ? [`  skipped   ${r.rows.skipped} (equal to the last snapshot's fingerprint)`] : []),
    `  inserted  ${r.rows.inserted}`,
    `  updated   ${r.rows.updated}`,
    `  unchanged ${r.rows.unchanged}`,
    `  removed   ${r.rows.removed}`,
    `  rejected  ${r.rows.rejected}`,
    `  duration  ${secs} s${r.loadPath === 'direct' ? ' (loaded directly into an empty table)' : r.extractMs !== null ? ` (extract ${(r.extractMs / 1000).toFixed(2)} s, merge ${r.mergeMs !== null ? (r.mergeMs / 1000).toFixed(2) : '-'} s)` : ''}`,
  ];
  if (r.state === 'held' && r.heldSample) lines.push(...formatHeldSample(r.heldSample));
  if (r.decision) {
    lines.push(`  ${r.decision.action} by ${r.decision.by} at ${new Date(r.decision.at).toISOString()}${r.decision.comment ? `: ${r.decision.comment}` : ''}`);
    if (r.decision.heldReason) lines.push(`  held because it ${r.decision.heldReason}`);
  }
  return lines.join('\n');
}

/** The shell's user, for the record of who decided (root in a container has no $USER). */
function cliUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** A held run's sample as the person deciding reads it: `changed  priceType=BASE product=SKU-1  100.00 → 120.00`. */
function formatHeldSample(s: HeldSample): string[] {
  const out = s.rows.length ? ['  would change, for example:'] : [];
  for (const row of s.rows) {
    const key = Object.entries(row.key).map(([k, v]) => `${k}=${v}`).join(' ');
    out.push(`    ${row.op.padEnd(8)} ${key}  ${row.old ?? '—'} → ${row.new ?? '—'}`);
  }
  if (s.note) out.push(`  (${s.note})`);
  return out;
}

async function withRuntime<T>(host: CliHost, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const ctx = createCliContext();
  const rt = createRuntime(ctx.config, ctx.log, host.registry, { applicationName: 'magistral-cli', poolSize: 4 });
  try {
    return await fn(rt);
  } finally {
    await rt.close();
    await ctx.close();
  }
}

/**
 * Stores the files of `magistral ingest` as one run, again (fresh streams) while the database restarts.
 * Every attempt sends the same receipt key: an attempt whose commit went through as the connection
 * dropped left its run, and the next attempt answers that run instead of making a second one of the
 * same payload. `key` is the caller's own (a test); by default one new key per command.
 */
export async function storeIngest(rt: Runtime, flow: string, files: string[], opts: { deadline: number; say: (line: string) => void; key?: string }): Promise<{ runId: number; repeated: boolean }> {
  const key = opts.key ?? `ingest:${randomUUID()}`;
  const stored = await retryingDatabase(async () => {
    // 1 MiB reads: with the default 64 KiB, storing a 340 MB file took 0.60-0.64 s instead of 0.30-0.33 s.
    const streams = files.map((f) => createReadStream(f, { highWaterMark: 1 << 20 }));
    try {
      return await receivePayload(rt, { flow, key, files: files.map((f, i) => ({ fileName: path.basename(f), body: streams[i]! })) });
    } finally {
      // A repeated key answers before reading the files: their streams are closed here, not left open.
      for (const s of streams) s.destroy();
    }
  }, { what: `storing ${files.length === 1 ? files[0] : `${files.length} files`}`, deadline: opts.deadline, everyMs: 5000, say: opts.say });
  if (stored.repeated) opts.say(`magistral: the payload was stored before the database dropped the connection: run ${stored.runId}`);
  return stored;
}

/** Exit code of a finished run: 0 done, 2 held (needs a person), 1 otherwise. */
function exitCodeOf(r: RunView): number {
  return r.state === 'done' ? 0 : r.state === 'held' ? 2 : 1;
}

export function register(program: Command, host: CliHost): void {
  program.command('ingest').description('push files through a registered flow, wait for the run and print its summary')
    .requiredOption('--flow <name>', 'flow name')
    .argument('<files...>', 'payload file(s), one run')
    .option('--no-wait', 'return as soon as the payload is stored')
    .option('--no-embedded-workers', 'never start workers in this process: wait for running ones, stop (exit 4) when none is left')
    .option('--json', 'print the run as JSON')
    .option('--timeout <seconds>', 'give up waiting after this long', (v) => Number(v))
    .action(async (files: string[], opts: { flow: string; wait: boolean; embeddedWorkers: boolean; json?: boolean; timeout?: number }) => {
      await withRuntime(host, async (rt) => {
        for (const f of files) {
          const s = await stat(f).catch(() => null);
          if (!s?.isFile()) throw new MagistralError('MAG_ERR_BAD_REQUEST', `${f}: no such file`);
        }
        const { runId } = await storeIngest(rt, opts.flow, files, {
          deadline: opts.timeout ? Date.now() + opts.timeout * 1000 : Number.POSITIVE_INFINITY, say: (l) => console.error(l),
        });
        if (!opts.wait) {
          console.log(opts.json ? JSON.stringify({ runId }) : `run ${runId} received`);
          return;
        }
        // With no worker connected to the queues (at the start or later), this process does the work itself.
        const run = await waitForRunWithWorkers(rt, host, runId, {
          embeddedWorkers: opts.embeddedWorkers, workerName: `magistral-ingest-${process.pid}`, timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined,
        });
        if (opts.json) console.log(JSON.stringify(run));
        else {
          console.log(formatSummary(run));
          if (run.rows.rejected) {
            for (const r of await listRejects(rt.db, runId, { limit: 10 })) {
              console.log(`  reject ${r.file ?? ''}${r.line !== null ? `:${r.line}` : ''}${r.path ? ` ${r.path}` : ''} [${r.rule}] ${r.reason}`);
            }
            if (run.rows.rejected > 10) console.log(`  … ${run.rows.rejected - 10} more: magistral runs show ${runId} --rejects`);
          }
        }
        process.exitCode = exitCodeOf(run);
      });
    });

  const runs = program.command('runs').description('runs of flows: list, inspect, approve or reject held runs, replay');

  runs.command('list').description('latest runs').option('--flow <name>').option('--state <state>').option('--limit <n>', 'how many', (v) => Number(v), 20).option('--json')
    .action(async (opts: { flow?: string; state?: string; limit: number; json?: boolean }) => {
      const ctx = createCliContext();
      try {
        const rows = await listRuns(ctx.db().db, opts);
        if (opts.json) return console.log(JSON.stringify(rows));
        if (!rows.length) console.log('no runs');
        for (const r of rows) {
          console.log(`${String(r.id).padStart(6)} ${r.flow.padEnd(24)} ${r.state.padEnd(10)} read ${r.rows.read} ins ${r.rows.inserted} upd ${r.rows.updated} rem ${r.rows.removed} rej ${r.rows.rejected} ${r.receivedAt.toISOString()}`);
        }
      } finally {
        await ctx.close();
      }
    });

  runs.command('show').argument('<id>').option('--rejects', 'list rejected rows').option('--json').action(async (id: string, opts: { rejects?: boolean; json?: boolean }) => {
    const ctx = createCliContext();
    try {
      const run = await getRun(ctx.db().db, idArgument(id, 'run', 'magistral runs list'));
      const rej = opts.rejects ? await listRejects(ctx.db().db, run.id, { limit: 1000 }) : [];
      if (opts.json) return console.log(JSON.stringify(opts.rejects ? { ...run, rejects: rej } : run));
      console.log(formatSummary(run));
      for (const r of rej) console.log(`  reject ${r.file ?? ''}${r.line !== null ? `:${r.line}` : ''}${r.path ? ` ${r.path}` : ''} [${r.rule}] ${r.reason}`);
    } finally {
      await ctx.close();
    }
  });

  const act = (name: string, desc: string, fn: typeof approveRun) => {
    const cmd = runs.command(name).argument('<id>').description(desc).option('--no-wait', 'do not wait for the run to finish');
    if (name !== 'replay') cmd.option('--comment <text>', 'why: kept with the run beside who decided and when');
    cmd.action(async (id: string, opts: { wait: boolean; comment?: string }) => {
      const runId = idArgument(id, 'run', 'magistral runs list');
      await withRuntime(host, async (rt) => {
        let run = await fn(rt, runId, { by: `cli (${cliUser()})`, ...(opts.comment ? { comment: opts.comment } : {}) });
        if (opts.wait && name !== 'reject') {
          run = await waitForRunWithWorkers(rt, host, run.id, { embeddedWorkers: true, workerName: `magistral-${name}-${process.pid}` });
        }
        console.log(formatSummary(run));
        process.exitCode = exitCodeOf(run);
      });
    });
  };
  act('approve', 'approve a held run: it merges despite the guard', approveRun);
  act('reject', 'reject a held run: nothing of it reaches the store', rejectRun);
  act('replay', 'run a finished run again from its stored payload (e.g. after a mapping fix)', replayRun);
}
