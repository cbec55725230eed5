// Configuration: environment variables validated once at start against schemas/config.schema.json,
// then frozen. A wrong value stops the process with the variable's name and the rule it breaks.
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { MagistralError, type Problem } from '../errors/index.ts';
import type { Config as ConfigShape } from '../schemas/types.gen.ts';
import { schemaPath } from '../schemas/paths.ts';

export type Config = Readonly<Required<Pick<ConfigShape,
  | 'DATABASE_URL' | 'REDIS_URL' | 'MAGISTRAL_DATA_DIR' | 'PORT' | 'HOST' | 'LOG_LEVEL' | 'MAGISTRAL_QUEUE_PREFIX'
  | 'MAGISTRAL_MAX_PAYLOAD_BYTES' | 'MAGISTRAL_EXTRACT_CONCURRENCY' | 'MAGISTRAL_MERGE_CONCURRENCY'
  | 'MAGISTRAL_SWEEP_INTERVAL_MS' | 'MAGISTRAL_STALLED_INTERVAL_MS' | 'MAGISTRAL_MERGE_WORK_MEM'>>
  & Pick<ConfigShape, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'MAGISTRAL_ADMIN_TOKEN'>>;

const schema = JSON.parse(readFileSync(schemaPath('config.schema.json'), 'utf8')) as {
  properties: Record<string, { type: string }>;
};
const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: false });
const validate = ajv.compile(schema);

/** Reads and validates the configuration from `env` (defaults filled in). Throws MAG_ERR_CONFIG listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const name of Object.keys(schema.properties)) {
    const v = env[name];
    if (v !== undefined && v !== '') input[name] = v;
  }
  if (!validate(input)) {
    const problems: Problem[] = (validate.errors ?? []).map((e) => {
      const name = e.instancePath.replace(/^\//, '');
      return { path: name, rule: e.keyword, message: `${name}=${JSON.stringify(env[name])} ${e.message ?? 'is invalid'}` };
    });
    throw new MagistralError('MAG_ERR_CONFIG', `invalid configuration: ${problems.map((p) => `${p.message} (rule: ${p.rule})`).join('; ')}`, problems);
  }
  return Object.freeze(input) as unknown as Config;
}
