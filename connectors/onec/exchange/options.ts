// Flow options of the 1C exchange protocol (`/exchange/onec/<exchange>`): the schema fragment the
// onec.commerceml connector merges into its optionsSchema, and the settings of one exchange.
import type { StoredFlow } from '../../../src/port/index.ts';
import { ENV_NAME_PATTERN as ENV_NAME } from '../../lib/index.ts';

export const DEFAULT_EXCHANGE = 'default';
export const EXCHANGE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** JSON Schema properties to merge into the connector's `optionsSchema.properties`. */
export const exchangeOptionsProperties = {
  exchange: { type: 'string', pattern: EXCHANGE_NAME.source, default: DEFAULT_EXCHANGE, description: 'Name of the exchange this flow serves: 1C talks to /exchange/onec/<exchange>. Flows sharing an exchange take every file of a session.' },
  userEnv: { type: 'string', pattern: ENV_NAME, default: 'ONEC_USER', description: 'Environment variable holding the login 1C sends (HTTP Basic on checkauth).' },
  passwordEnv: { type: 'string', pattern: ENV_NAME, default: 'ONEC_PASSWORD', description: 'Environment variable holding the password 1C sends.' },
  zip: { type: 'boolean', default: true, description: 'Answer zip=yes to init: 1C then sends one zip archive, unpacked safely on import.' },
  fileLimit: { type: 'integer', minimum: 65536, maximum: 2147483647, default: 67108864, description: 'file_limit answered to init: 1C sends larger files in POSTs of at most this many bytes; a larger POST is refused.' },
  maxFileBytes: { type: 'integer', minimum: 65536, description: 'Largest file (all its POSTs together) a session accepts; default MAGISTRAL_MAX_PAYLOAD_BYTES.' },
  unzipMaxBytes: { type: 'integer', minimum: 65536, description: 'Largest total uncompressed size of one archive; default MAGISTRAL_MAX_PAYLOAD_BYTES.' },
  unzipMaxRatio: { type: 'number', minimum: 1, default: 200, description: 'Largest uncompressed/compressed ratio of an archive entry and of the archive (zip bomb guard).' },
  sessionTtlSeconds: { type: 'integer', minimum: 60, maximum: 604800, default: 3600, description: 'A session expires this long after its last request; an unclosed session then removes nothing.' },
  followUploads: { type: 'boolean', default: true, description: 'Read an (unzipped) file while 1C uploads it, to staging only: its runs are made at the first POST and merge when 1C asks for the import. false: read it after the import request.' },
} as const;

export interface ExchangeSettings {
  exchange: string;
  userEnv: string;
  passwordEnv: string;
  zip: boolean;
  fileLimit: number;
  maxFileBytes: number;
  unzipMaxBytes: number;
  unzipMaxRatio: number;
  sessionTtlSeconds: number;
  followUploads: boolean;
}

/** The exchange a flow serves (its `source.options.exchange`, default `default`). */
export function exchangeOf(flow: { source: { options?: Record<string, unknown> } }): string {
  const e = flow.source.options?.exchange;
  return typeof e === 'string' && e ? e : DEFAULT_EXCHANGE;
}

function settingsOf(flow: StoredFlow, maxPayloadBytes: number): ExchangeSettings {
  const o = (flow.definition.source.options ?? {}) as Record<string, unknown>;
  const int = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.floor(v) : d);
  return {
    exchange: exchangeOf(flow.definition),
    userEnv: typeof o.userEnv === 'string' ? o.userEnv : 'ONEC_USER',
    passwordEnv: typeof o.passwordEnv === 'string' ? o.passwordEnv : 'ONEC_PASSWORD',
    zip: typeof o.zip === 'boolean' ? o.zip : true,
    fileLimit: int(o.fileLimit, 67_108_864),
    maxFileBytes: int(o.maxFileBytes, maxPayloadBytes),
    unzipMaxBytes: int(o.unzipMaxBytes, maxPayloadBytes),
    unzipMaxRatio: typeof o.unzipMaxRatio === 'number' ? o.unzipMaxRatio : 200,
    sessionTtlSeconds: int(o.sessionTtlSeconds, 3600),
    followUploads: typeof o.followUploads === 'boolean' ? o.followUploads : true,
  };
}

/**
 * The settings of an exchange from its flows. Every flow of an exchange must agree on them (they
 * describe one endpoint); when they do not, the answer names the flows that differ.
 */
export function exchangeSettings(flows: StoredFlow[], maxPayloadBytes: number): { settings?: ExchangeSettings; conflict?: string } {
  if (!flows.length) return {};
  const first = settingsOf(flows[0]!, maxPayloadBytes);
  const key = JSON.stringify(first);
  const other = flows.find((f) => JSON.stringify(settingsOf(f, maxPayloadBytes)) !== key);
  if (other) return { conflict: `flows ${flows[0]!.name} and ${other.name} serve exchange '${first.exchange}' with different protocol options (exchange, userEnv, passwordEnv, zip, fileLimit, maxFileBytes, unzip*, sessionTtlSeconds, followUploads must be equal)` };
  return { settings: first };
}
