// Options of the bitrix24.rest connector: which entity a flow pulls, how it authenticates (an incoming
// webhook whose URL or secret is in an environment variable, or an OAuth application), the portal's
// request limit the client paces itself by, and how often a full key scan finds deleted entities.
import { ENV_NAME } from '../../lib/index.ts';

/** What one flow pulls; each becomes one canonical target (a flow has one target). */
export type Bitrix24Entity = 'companies' | 'contacts' | 'requisites' | 'contactLinks' | 'managers';
export const BITRIX24_ENTITIES: readonly Bitrix24Entity[] = ['companies', 'contacts', 'requisites', 'contactLinks', 'managers'];

export interface Bitrix24Options {
  entity: Bitrix24Entity;
  /** Environment variable holding the whole incoming webhook URL `https://<portal>/rest/<user>/<secret>/`. */
  webhookUrlEnv?: string;
  /** Or: the portal (`https://example.bitrix24.ru`), the webhook's user id, and the variable holding its secret. */
  portal?: string;
  webhookUser?: number;
  webhookSecretEnv?: string;
  /** OAuth application (a local or market app): client id/secret in the environment, refresh token kept in the store. */
  oauth?: { clientIdEnv: string; clientSecretEnv: string; refreshTokenEnv?: string; tokenUrl?: string };
  /** The portal's bucket: requests per second and burst. @defaultValue 2 / 50 (Enterprise plans: 5 / 250) */
  rate: number;
  burst: number;
  /** Batch requests in flight at once (the bucket still paces them). @defaultValue 2 */
  concurrency: number;
  /** A pull reads everything (and marks what is gone as deleted) when the last full read is older. 0: every pull. @defaultValue 24 */
  fullScanEveryHours: number;
  /** Requisite presets (PRESET_ID) read as legal entities and as sole proprietors; others are skipped. */
  presets: { legalEntity: string[]; soleProprietor: string[] };
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
}

const IDS = { type: 'array', items: { type: ['string', 'integer'] } } as const;

export const BITRIX24_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/bitrix24.rest.options.json',
  title: 'bitrix24.rest options',
  type: 'object',
  additionalProperties: false,
  required: ['entity'],
  properties: {
    entity: { enum: BITRIX24_ENTITIES, description: 'companies → clients, contacts → contacts, requisites → legal entities, contactLinks → contact ↔ legal entity links, managers → managers' },
    webhookUrlEnv: { ...ENV_NAME, description: 'environment variable holding the whole incoming webhook URL (https://<portal>/rest/<user>/<secret>/)' },
    portal: { type: 'string', pattern: '^https?://[^/@\\s?#]+/?$', description: 'the portal, e.g. https://example.bitrix24.ru (with webhookUser/webhookSecretEnv, or oauth)' },
    webhookUser: { type: 'integer', minimum: 1, description: 'user id in the webhook URL' },
    webhookSecretEnv: { ...ENV_NAME, description: 'environment variable holding the webhook secret' },
    oauth: {
      type: 'object', additionalProperties: false, required: ['clientIdEnv', 'clientSecretEnv'],
      properties: {
        clientIdEnv: ENV_NAME, clientSecretEnv: ENV_NAME,
        refreshTokenEnv: { ...ENV_NAME, description: 'the refresh token to start from; afterwards the rotated one in the store is used' },
        tokenUrl: { type: 'string', pattern: '^https?://', description: 'default https://oauth.bitrix.info/oauth/token/' },
      },
    },
    rate: { type: 'number', exclusiveMinimum: 0, maximum: 100000, default: 2 },
    burst: { type: 'integer', minimum: 1, maximum: 100000, default: 50 },
    concurrency: { type: 'integer', minimum: 1, maximum: 16, default: 2 },
    fullScanEveryHours: { type: 'number', minimum: 0, maximum: 8760, default: 24 },
    // Events (events/): a pull flow of companies, contacts or requisites may also take the entity's events
    // at /exchange/webhooks/<flow>, so pulled and pushed changes are runs of one flow, merged in order.
    tokenEnv: { ...ENV_NAME, description: 'take events at /exchange/webhooks/<flow>: the environment variable holding the application token Bitrix24 sends with them' },
    gatherMs: { type: 'integer', minimum: 0, maximum: 60000, description: 'with tokenEnv: how long the drain waits after an event for more to fetch in one batch (ms, default 200)' },
    presets: {
      type: 'object', additionalProperties: false,
      properties: { legalEntity: IDS, soleProprietor: IDS },
      description: 'requisite presets: legalEntity (default [1], «Организация»), soleProprietor (default [2], «ИП»)',
    },
    retries: { type: 'integer', minimum: 0, maximum: 50, default: 10 },
    retryDelayMs: { type: 'integer', minimum: 1, maximum: 600000, default: 500 },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 3600000, default: 60000 },
  },
  oneOf: [
    { required: ['webhookUrlEnv'], not: { anyOf: [{ required: ['portal'] }, { required: ['oauth'] }] } },
    { required: ['portal', 'webhookUser', 'webhookSecretEnv'], not: { anyOf: [{ required: ['webhookUrlEnv'] }, { required: ['oauth'] }] } },
    { required: ['portal', 'oauth'], not: { anyOf: [{ required: ['webhookUrlEnv'] }, { required: ['webhookUser'] }, { required: ['webhookSecretEnv'] }] } },
  ],
} as const;

/** Options with defaults filled (the schema has already been checked when the flow was applied). */
export function resolveBitrix24Options(raw: Record<string, unknown>): Bitrix24Options {
  const presets = (raw.presets ?? {}) as { legalEntity?: unknown[]; soleProprietor?: unknown[] };
  return {
    entity: raw.entity as Bitrix24Entity,
    webhookUrlEnv: raw.webhookUrlEnv as string | undefined,
    portal: raw.portal ? String(raw.portal).replace(/\/+$/, '') : undefined,
    webhookUser: raw.webhookUser as number | undefined,
    webhookSecretEnv: raw.webhookSecretEnv as string | undefined,
    oauth: raw.oauth as Bitrix24Options['oauth'],
    rate: (raw.rate as number | undefined) ?? 2,
    burst: (raw.burst as number | undefined) ?? 50,
    concurrency: (raw.concurrency as number | undefined) ?? 2,
    fullScanEveryHours: (raw.fullScanEveryHours as number | undefined) ?? 24,
    presets: {
      legalEntity: (presets.legalEntity ?? [1]).map(String),
      soleProprietor: (presets.soleProprietor ?? [2]).map(String),
    },
    retries: (raw.retries as number | undefined) ?? 10,
    retryDelayMs: (raw.retryDelayMs as number | undefined) ?? 500,
    timeoutMs: (raw.timeoutMs as number | undefined) ?? 60000,
  };
}
