// What CLI commands share: configuration, a logger, and lazily opened database and queue handles.
// Commands take these from here rather than importing singletons, and close them when done.
import { loadConfig, type Config } from '../config/index.ts';
import { createDb, type Db } from '../db/index.ts';
import { createLogger, type Logger } from '../telemetry/logger.ts';

export interface CliContext {
  config: Config;
  log: Logger;
  db(): Db;
  close(): Promise<void>;
}

export function createCliContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  const config = loadConfig(env);
  // CLI output goes to stdout; logs go to stderr so `--json` output stays parseable.
  const log = createLogger(env.LOG_LEVEL ?? 'warn', 'magistral-cli');
  let db: Db | undefined;
  const closers: Array<() => Promise<void>> = [];
  return {
    config,
    log,
    db() {
      if (!db) {
        db = createDb(config.DATABASE_URL, { applicationName: 'magistral-cli' });
        closers.push(() => db!.close());
      }
      return db;
    },
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}
