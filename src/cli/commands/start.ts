// `magistral start`: migrate, then serve the API and run the workers in one process
// (`--api-only` / `--workers-only` to split them across processes or machines).
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { ensureDatabase, migrate } from '../../db/index.ts';
import { createRuntime } from '../../pipeline/runtime.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { shutdownTracing } from '../../telemetry/tracing.ts';
import { refuseDemoSecretsOnNetwork } from '../demo-secrets.ts';

export function register(program: Command, host: CliHost): void {
  program.command('start').description('migrate, then run the API and the workers')
    .option('--api-only', 'serve HTTP only, no workers')
    .option('--workers-only', 'run workers only (health and metrics still served on PORT)')
    .action(async (opts: { apiOnly?: boolean; workersOnly?: boolean }) => {
      const ctx = createCliContext();
      const log = createLogger(ctx.config.LOG_LEVEL, 'magistral');
      await ensureDatabase(ctx.config.DATABASE_URL);
      await migrate(ctx.db().db, host.registry.migrationSets());
      const refusal = await refuseDemoSecretsOnNetwork(ctx.config.HOST, process.env, ctx.db().db);
      await ctx.close();
      if (refusal) {
        console.error(refusal);
        process.exitCode = 2;
        return;
      }
      const rt = createRuntime(ctx.config, log, host.registry);
      const workers = opts.apiOnly ? undefined : await host.startWorkers(rt);
      // Imported here, not at the top: the API and its pages are half of every other command's start.
      const { buildServer } = await import('../../api/index.ts');
      const app = await buildServer({ ...rt, mode: opts.workersOnly ? 'workers-only' : 'full' });
      await app.listen({ port: ctx.config.PORT, host: ctx.config.HOST });
      const shown = ctx.config.HOST === '0.0.0.0' || ctx.config.HOST === '::' ? '127.0.0.1' : ctx.config.HOST;
      const url = `http://${shown}:${ctx.config.PORT}`;
      log.info({ url, workers: !opts.apiOnly, api: !opts.workersOnly }, 'magistral started');
      console.log(`Magistral is up: ${url}  (health ${url}/readyz, metrics ${url}/metrics, queues ${url}/admin/queues)`);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping');
        await app.close().catch(() => {});
        await workers?.close().catch(() => {});
        await rt.close().catch(() => {});
        await shutdownTracing();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
