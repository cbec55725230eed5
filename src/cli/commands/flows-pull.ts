// `magistral flows pull NAME`: pulls a scheduled source now (the same pull a scheduler's tick does),
// waits for its run and prints the summary; `--status` shows how the flow's last pulls went.
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { createRuntime } from '../../pipeline/runtime.ts';
import { pollStatus, pullFlow, settlePull, type PullOutcome } from '../../pipeline/poll.ts';
import { waitForRunWithWorkers } from '../wait-run.ts';
import { formatSummary } from './runs.ts';

/** Exit codes: 0 done or nothing new, 1 failed, 2 held, 3 not pulled now (busy, previous run open, paused). */
function exitCodeOf(o: PullOutcome): number {
  return o.outcome === 'failed' ? 1 : o.outcome === 'received' || o.outcome === 'unchanged' ? 0 : 3;
}

function describe(o: PullOutcome): string {
  switch (o.outcome) {
    case 'received': return `flow ${o.flow}: pulled ${o.records} record${o.records === 1 ? '' : 's'} as run ${o.runId}`;
    case 'unchanged': return `flow ${o.flow}: nothing new since the last pull`;
    case 'failed': return `flow ${o.flow}: pull failed — ${o.error.code}: ${o.error.message}`;
    default: return `flow ${o.flow}: not pulled — ${o.reason}`;
  }
}

export function registerPull(flows: Command, host: CliHost): void {
  flows.command('pull').argument('<name>').description('pull a scheduled source now (one pull at a time per flow), wait for its run and print the summary')
    .option('--status', 'print how the last pulls went instead of pulling')
    .option('--no-wait', 'return once the pulled payload is stored')
    .option('--no-embedded-workers', 'never start workers in this process: wait for running ones, stop (exit 4) when none is left')
    .option('--json', 'print JSON')
    .option('--timeout <seconds>', 'give up waiting after this long', (v) => Number(v))
    .action(async (name: string, opts: { status?: boolean; wait: boolean; embeddedWorkers: boolean; json?: boolean; timeout?: number }) => {
      const ctx = createCliContext();
      const rt = createRuntime(ctx.config, ctx.log, host.registry, { applicationName: 'magistral-cli', poolSize: 4 });
      try {
        if (opts.status) {
          const s = await pollStatus(rt.db, name);
          console.log(opts.json ? JSON.stringify(s) : [
            `flow ${s.flow}: schedule ${s.schedule ? JSON.stringify(s.schedule) : 'none'}`,
            `  last pull  ${s.lastPullAt?.toISOString() ?? 'never'} ${s.lastOutcome ?? ''}${s.lastRecords !== null ? ` (${s.lastRecords} records)` : ''}`,
            ...(s.lastError ? [`  error      ${s.lastError.code}: ${s.lastError.message} (${s.failures} in a row)`] : []),
            `  runs       cursor kept from ${s.cursorRunId ?? '-'}, open ${s.pendingRunId ?? '-'}`,
          ].join('\n'));
          return;
        }
        const o = await pullFlow(rt, name, { trigger: 'manual' });
        if (o.outcome !== 'received' || !opts.wait) {
          console.log(opts.json ? JSON.stringify(o) : describe(o));
          process.exitCode = exitCodeOf(o);
          return;
        }
        if (!opts.json) console.log(describe(o));
        // With no worker connected to the queues (at the start or later), this process does the work itself.
        const run = await waitForRunWithWorkers(rt, host, o.runId, {
          embeddedWorkers: opts.embeddedWorkers, workerName: `magistral-pull-${process.pid}`, timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined,
        });
        await settlePull(rt.db, o.flowId);
        console.log(opts.json ? JSON.stringify({ ...o, run }) : formatSummary(run));
        process.exitCode = run.state === 'done' ? 0 : run.state === 'held' ? 2 : 1;
      } finally {
        await rt.close();
        await ctx.close();
      }
    });
}
