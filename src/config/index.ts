// Configuration: environment variables validated once at start against schemas/config.schema.json,
// then frozen. A wrong value stops the process with the variable's name and the rule it breaks.
import { Ajv } from 'ajv';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MagistralError, type Problem } from '../errors/index.ts';
import type { Config as ConfigShape } from '../schemas/types.gen.ts';
import { schemaPath } from '../schemas/paths.ts';

export type Config = Readonly<Required<Pick<ConfigShape,
  | 'DATABASE_URL' | 'REDIS_URL' | 'MAGISTRAL_DATA_DIR' | 'PORT' | 'HOST' | 'LOG_LEVEL' | 'MAGISTRAL_QUEUE_PREFIX'
  | 'MAGISTRAL_MAX_PAYLOAD_BYTES' | 'MAGISTRAL_EXTRACT_CONCURRENCY' | 'MAGISTRAL_MERGE_CONCURRENCY' | 'MAGISTRAL_SMALL_RUN_BYTES' | 'MAGISTRAL_FINGERPRINTS' | 'MAGISTRAL_TAKE_LINES'
  | 'MAGISTRAL_SWEEP_INTERVAL_MS' | 'MAGISTRAL_PRICE_ROLL_MS' | 'MAGISTRAL_MERGE_GROUP_ROWS' | 'MAGISTRAL_COALESCE_MAX_BYTES' | 'MAGISTRAL_COALESCE_MAX_FILES' | 'MAGISTRAL_PACE_LAG_MS' | 'MAGISTRAL_PACE_MAX_WAIT_MS' | 'MAGISTRAL_STALLED_INTERVAL_MS' | 'MAGISTRAL_MERGE_WORK_MEM'>>
  & Pick<ConfigShape, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'MAGISTRAL_ADMIN_TOKEN' | 'SMTP_URL' | 'MAGISTRAL_PUBLIC_URL'>> & { readonly MAGISTRAL_MAIL_FROM: string };

const schema = JSON.parse(readFileSync(schemaPath('config.schema.json'), 'utf8')) as {
  properties: Record<string, { type: string; default?: unknown }>;
};
const schemaDefault = (name: string): unknown => schema.properties[name]?.default;
const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: false });
const validate = ajv.compile(schema);

/**
 * The queue prefix of a database when MAGISTRAL_QUEUE_PREFIX is not set: `magistral:<db name>:<hash>`,
 * the hash (8 hex digits of sha256) over `host:port/db`. Two installations on one Redis thus never
 * share queues by accident, the same database always gets the same prefix, and the name stays
 * readable in redis-cli. Fits the schema's pattern (at most 64 of `[A-Za-z0-9_:.-]`).
 */
export function defaultQueuePrefix(databaseUrl: string): string {
  let host = '';
  let port = '5432';
  let name = '';
  try {
    const u = new URL(databaseUrl);
    host = u.hostname.toLowerCase();
    port = u.port || '5432';
    name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  } catch {
    // Not a URL pg would read either; the whole string still names the database uniquely.
    name = databaseUrl;
  }
  const hash = createHash('sha256').update(`${host}:${port}/${name}`).digest('hex').slice(0, 8);
  const readable = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'db';
  return `magistral:${readable}:${hash}`;
}

/** Variables whose value is a secret: a message names them, never shows their value. */
const SECRET_VARIABLE = /TOKEN|PASSWORD|SECRET|(^|_)KEY$/;

/**
 * How a message shows a variable: `NAME="value"` for plain settings, the name alone for a secret
 * (MAGISTRAL_ADMIN_TOKEN), and a URL with its password masked (DATABASE_URL, REDIS_URL and SMTP_URL may
 * carry one). Issue 17: a too-short admin token was echoed whole in the error.
 */
export function shownVariable(name: string, value: string | undefined): string {
  if (value === undefined) return name;
  if (SECRET_VARIABLE.test(name)) return name;
  return `${name}=${JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@'))}`;
}

/** Reads and validates the configuration from `env` (defaults filled in). Throws MAG_ERR_CONFIG listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const name of Object.keys(schema.properties)) {
    const v = env[name];
    if (v !== undefined && v !== '') input[name] = v;
  }
  // Derived before validation, so the schema checks the derived prefix like a given one.
  if (input.MAGISTRAL_QUEUE_PREFIX === undefined) {
    const url = typeof input.DATABASE_URL === 'string' ? input.DATABASE_URL : String(schemaDefault('DATABASE_URL'));
    input.MAGISTRAL_QUEUE_PREFIX = defaultQueuePrefix(url);
  }
  if (!validate(input)) {
    const problems: Problem[] = (validate.errors ?? []).map((e) => {
      const name = e.instancePath.replace(/^\//, '');
      const rule = e.keyword === 'minLength' ? `must have at least ${String(e.params.limit)} characters` : e.message ?? 'is invalid';
      return { path: name, rule: e.keyword, message: `${shownVariable(name, env[name])} ${rule}` };
    });
    throw new MagistralError('MAG_ERR_CONFIG', `invalid configuration: ${problems.map((p) => `${p.message} (rule: ${p.rule})`).join('; ')}`, problems);
  }
  return Object.freeze(input) as unknown as Config;
}
