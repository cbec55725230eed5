// Structured logs (pino). Every log line of a run carries `flow` and `run`; secrets are redacted.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'authorization', '*.authorization',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  '*.passwordEnv', 'config.MAGISTRAL_ADMIN_TOKEN', 'MAGISTRAL_ADMIN_TOKEN', 'secret', '*.secret',
];

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'magistral'): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Connection strings may carry a password: mask it wherever a URL is logged under these keys.
    serializers: { url: maskUrl, databaseUrl: maskUrl, redisUrl: maskUrl },
  });
}

export function maskUrl(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  return v.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:[redacted]@');
}

/** A child logger bound to one run, so every line can be found by flow and run id. */
export function runLogger(log: Logger, flow: string, run: number): Logger {
  return log.child({ flow, run });
}
