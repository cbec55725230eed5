// Options of the sap.odata connector: which entity set of an S/4HANA OData v2 service to read, how to
// page it, how to read it incrementally, how to shape its expanded lists into flat records, and where
// the credentials live (HTTP Basic, or OAuth 2.0 client credentials). Checked when a flow is applied.
import { ENV_NAME } from '../../lib/index.ts';

/** One list (`$expand`ed to-many navigation) read as the element whose `by` property comes first in `order`. */
export interface PickSpec { by?: string; order?: string[] }

/** One list joined into `q:p;q:p` text (scales → the canonical tiers), from two properties of its elements. */
export interface PairsSpec { list: string; key: string; value: string }

export interface SapODataOptions {
  /** Service root, e.g. `https://my.s4hana.example/sap/opu/odata/sap/API_PRODUCT_SRV`. */
  url: string;
  /** Entity set, e.g. `A_Product`. */
  entitySet: string;
  /** `sap-client` query parameter (on-premise systems with several clients). */
  sapClient?: string;
  userEnv?: string;
  passwordEnv?: string;
  /** OAuth 2.0 client credentials: token endpoint (e.g. the XSUAA or the S/4HANA `/sap/bc/sec/oauth2/token`). */
  tokenUrl?: string;
  clientIdEnv?: string;
  clientSecretEnv?: string;
  scope?: string;
  select?: string[];
  filter?: string;
  expand?: string[];
  orderBy?: string;
  /** `client`: `$top`/`$skip` pages (server `__next` links inside a page are followed); `server`: only `__next` links. */
  paging: 'client' | 'server';
  pageSize: number;
  /** Last-change property for incremental pulls (`LastChangeDateTime`); absent: every pull reads everything. */
  deltaField?: string;
  /** Edm type of the delta property: `datetimeoffset` (Edm.DateTimeOffset) or `datetime` (Edm.DateTime). */
  deltaType: 'datetimeoffset' | 'datetime';
  /** Key property (ties at equal timestamps are ordered by it; rejects name it). */
  keyField?: string;
  /** One record per element of this expanded list (validity periods, units of measure). */
  explode?: string;
  /** Lists read as one element each, chosen by a property (descriptions by language). */
  pick?: Record<string, PickSpec>;
  /** Lists addressed by a property of their elements: `to_BusinessPartnerTax/RU1/BPTaxNumber`. */
  keyBy?: Record<string, string>;
  /** Output field → list joined as `key:value;…`. */
  pairs?: Record<string, PairsSpec>;
  /** Records summed per group, written once the whole set is read (stock per batch → per storage location). */
  aggregate?: { by: string[]; sum: string[] };
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  /** Longest Retry-After (429/503) the pull waits for; a longer one fails the pull (the schedule retries). */
  maxRetryAfterMs: number;
}

const NAME = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' } as const;
const PATH = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$' } as const;
const NAMES = {
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, pattern: '^[^,]+$' } },
  ],
} as const;

export const SAP_ODATA_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/sap.odata.options.json',
  title: 'sap.odata options',
  type: 'object',
  additionalProperties: false,
  required: ['url', 'entitySet'],
  properties: {
    url: {
      type: 'string', pattern: '^https?://[^/@\\s?#]+(/[^\\s?#]*)?$',
      description: 'service root, e.g. https://host/sap/opu/odata/sap/API_PRODUCT_SRV (credentials go to userEnv/passwordEnv or the OAuth options, never into the URL)',
    },
    entitySet: { ...NAME, description: 'entity set, e.g. A_Product, A_SlsPrcgConditionRecord, A_MatlStkInAcctMod, A_BusinessPartner' },
    sapClient: { type: 'string', pattern: '^[0-9]{3}$', description: 'sap-client (three digits)' },
    userEnv: { ...ENV_NAME, description: 'environment variable holding the communication user (HTTP Basic)' },
    passwordEnv: { ...ENV_NAME, description: 'environment variable holding its password' },
    tokenUrl: { type: 'string', pattern: '^https?://[^@\\s#]+$', description: 'OAuth 2.0 token endpoint (client credentials grant)' },
    clientIdEnv: { ...ENV_NAME, description: 'environment variable holding the OAuth client id' },
    clientSecretEnv: { ...ENV_NAME, description: 'environment variable holding the OAuth client secret' },
    scope: { type: 'string', minLength: 1 },
    select: { ...NAMES, description: '$select: property names (navigation ones as to_X/Prop)' },
    filter: { type: 'string', minLength: 1, description: "$filter, e.g. ConditionType eq 'PPR0'" },
    expand: { ...NAMES, description: '$expand: navigation properties to inline, e.g. to_Description' },
    orderBy: { type: 'string', minLength: 1, description: '$orderby (client paging: keeps $skip pages stable)' },
    paging: { type: 'string', enum: ['client', 'server'], default: 'client', description: 'client: $top/$skip pages; server: follow __next links only' },
    pageSize: { type: 'integer', minimum: 1, maximum: 100000, default: 1000, description: '$top of one page' },
    deltaField: { ...NAME, description: 'last-change property read incrementally, e.g. LastChangeDateTime' },
    deltaType: { type: 'string', enum: ['datetimeoffset', 'datetime'], default: 'datetimeoffset' },
    keyField: { ...NAME, description: 'key property of the entity set (ties at equal timestamps, reject positions)' },
    explode: { ...PATH, description: 'one record per element of this expanded list, e.g. to_SlsPrcgCndnRecdValidity' },
    pick: {
      type: 'object', additionalProperties: {
        type: 'object', additionalProperties: false,
        properties: { by: NAME, order: { type: 'array', minItems: 1, items: { type: 'string' } } },
      },
      description: 'lists read as one element: the first whose `by` property comes first in `order` (e.g. to_Description by Language, order [RU, EN])',
    },
    keyBy: { type: 'object', additionalProperties: NAME, description: 'lists addressed by a property: to_BusinessPartnerTax: BPTaxType → to_BusinessPartnerTax/RU1/BPTaxNumber' },
    pairs: {
      type: 'object', additionalProperties: {
        type: 'object', additionalProperties: false, required: ['list', 'key', 'value'],
        properties: { list: PATH, key: NAME, value: NAME },
      },
      description: 'output field → a list joined as key:value;… (condition scales → tiers)',
    },
    aggregate: {
      type: 'object', additionalProperties: false, required: ['by', 'sum'],
      properties: { by: { type: 'array', minItems: 1, items: PATH }, sum: { type: 'array', minItems: 1, items: PATH } },
      description: 'sum the `sum` fields of records with equal `by` fields (stock of batches, special stocks) before the payload is written',
    },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 3600000, default: 60000 },
    retries: { type: 'integer', minimum: 0, maximum: 20, default: 4 },
    retryDelayMs: { type: 'integer', minimum: 1, maximum: 600000, default: 1000 },
    maxRetryAfterMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 300000 },
  },
  dependencies: {
    passwordEnv: ['userEnv'], userEnv: ['passwordEnv'],
    // OAuth or Basic, not both: with tokenUrl, userEnv/passwordEnv are refused (reported at that property).
    tokenUrl: { required: ['clientIdEnv', 'clientSecretEnv'], properties: { userEnv: false, passwordEnv: false } },
    clientIdEnv: ['tokenUrl'], clientSecretEnv: ['tokenUrl'],
    deltaField: ['keyField'],
  },
} as const;

function names(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? (v as string[]) : String(v).split(',');
  const out = list.map((s) => s.trim()).filter(Boolean);
  return out.length ? out : undefined;
}

/** Options with defaults filled (the schema has already been checked when the flow was applied). */
export function resolveSapOptions(raw: Record<string, unknown>): SapODataOptions {
  return {
    url: String(raw.url).replace(/\/+$/, ''),
    entitySet: String(raw.entitySet),
    sapClient: raw.sapClient as string | undefined,
    userEnv: raw.userEnv as string | undefined,
    passwordEnv: raw.passwordEnv as string | undefined,
    tokenUrl: raw.tokenUrl as string | undefined,
    clientIdEnv: raw.clientIdEnv as string | undefined,
    clientSecretEnv: raw.clientSecretEnv as string | undefined,
    scope: raw.scope as string | undefined,
    select: names(raw.select),
    filter: raw.filter as string | undefined,
    expand: names(raw.expand),
    orderBy: raw.orderBy as string | undefined,
    paging: (raw.paging as 'client' | 'server' | undefined) ?? 'client',
    pageSize: (raw.pageSize as number | undefined) ?? 1000,
    deltaField: raw.deltaField as string | undefined,
    deltaType: (raw.deltaType as 'datetimeoffset' | 'datetime' | undefined) ?? 'datetimeoffset',
    keyField: raw.keyField as string | undefined,
    explode: raw.explode as string | undefined,
    pick: raw.pick as Record<string, PickSpec> | undefined,
    keyBy: raw.keyBy as Record<string, string> | undefined,
    pairs: raw.pairs as Record<string, PairsSpec> | undefined,
    aggregate: raw.aggregate as { by: string[]; sum: string[] } | undefined,
    timeoutMs: (raw.timeoutMs as number | undefined) ?? 60000,
    retries: (raw.retries as number | undefined) ?? 4,
    retryDelayMs: (raw.retryDelayMs as number | undefined) ?? 1000,
    maxRetryAfterMs: (raw.maxRetryAfterMs as number | undefined) ?? 300000,
  };
}
