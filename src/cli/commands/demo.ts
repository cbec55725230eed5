// `magistral demo`: loads the demo data set through the real flows (ops/flows) and the real
// pipeline — the same path an ERP export takes — so a newcomer sees a working store.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { ensureDatabase, migrate } from '../../db/index.ts';
import { createRuntime } from '../../pipeline/runtime.ts';
import { applyFlows, parseFlowFile } from '../../pipeline/flows.ts';
import { receivePayload } from '../../pipeline/inbox.ts';
import { waitForRun } from '../../pipeline/runs.ts';
import { REPO_DIR } from '../../schemas/index.ts';
import { createReadStream } from 'node:fs';
import { formatSummary } from './runs.ts';

/** Demo payloads and the flow each goes through, in order (catalog before prices and stock). */
const DEMO_FILES: Array<{ flow: string; file: string }> = [
  { flow: 'products-csv', file: 'ops/demo/products.csv' },
  { flow: 'prices-csv', file: 'ops/demo/prices.csv' },
  { flow: 'stock-csv', file: 'ops/demo/stock.csv' },
];

export function register(program: Command, host: CliHost): void {
  program.command('demo').description('register the example flows and load the demo data set through them')
    .action(async () => {
      const ctx = createCliContext();
      await ensureDatabase(ctx.config.DATABASE_URL);
      await migrate(ctx.db().db);
      const rt = createRuntime(ctx.config, ctx.log, { applicationName: 'magistral-demo', poolSize: 4 });
      const workers = await host.startWorkers(rt, { name: `magistral-demo-${process.pid}` });
      try {
        const flowDir = path.join(REPO_DIR, 'ops/flows');
        const flows = [];
        for (const f of (await readdir(flowDir)).filter((n) => n.endsWith('.yaml')).sort()) {
          flows.push(...(await parseFlowFile(await readFile(path.join(flowDir, f), 'utf8'), `ops/flows/${f}`)));
        }
        for (const r of await applyFlows(rt.db, flows)) console.log(`flow ${r.name} ${r.action}`);
        for (const d of DEMO_FILES) {
          const full = path.join(REPO_DIR, d.file);
          const { runId } = await receivePayload(rt, { flow: d.flow, files: [{ fileName: path.basename(full), body: createReadStream(full) }] });
          const run = await waitForRun(rt.db, runId, { timeoutMs: 300_000 });
          console.log(formatSummary(run));
          if (run.state !== 'done') process.exitCode = 1;
        }
      } finally {
        await workers.close();
        await rt.close();
        await ctx.close();
      }
    });
}
