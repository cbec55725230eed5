// Options of the onec.odata connector: which entity set (or register virtual table) of a 1C base's
// standard OData interface to read, how, and where its credentials live. Checked when a flow is applied.
import { ENV_NAME } from '../../lib/index.ts';

export interface ODataOptions {
  /** Base of the interface, e.g. `http://host/base/odata/standard.odata` (no credentials in it). */
  url: string;
  /**
   * Entity set or virtual table, as 1C names it: `Catalog_Номенклатура`,
   * `InformationRegister_ЦеныНоменклатуры/SliceLast()`, `AccumulationRegister_ТоварыНаСкладах/Balance(Dimensions='Номенклатура,Склад')`.
   */
  resource: string;
  /** Environment variable holding the 1C user name (HTTP Basic). */
  userEnv?: string;
  /** Environment variable holding the password. */
  passwordEnv?: string;
  /** `$select`: the properties to read. */
  select?: string[];
  /** `$filter`, in 1C's OData syntax (`IsFolder eq false`, `Склад_Key eq guid'…'`). */
  filter?: string;
  /** `$expand`: navigation properties to inline (their fields arrive as `Валюта/Code`). */
  expand?: string[];
  /** `$orderby`: keeps `$skip` paging stable while the base changes. */
  orderBy?: string;
  /** `$top` of one page; paging with `$skip` stops at the first short page. @defaultValue 1000 */
  pageSize: number;
  /** Emit only entries whose version changed since the last accepted pull (catalogs, documents). @defaultValue false */
  incremental: boolean;
  /** Identity of an entry for incremental pulls. @defaultValue 'Ref_Key' */
  keyField: string;
  /** Version of an entry for incremental pulls. @defaultValue 'DataVersion' */
  versionField: string;
  /** Time allowed for one HTTP request. @defaultValue 60000 */
  timeoutMs: number;
  /** Retries of a request after a network error, a timeout, 429 or 5xx. @defaultValue 4 */
  retries: number;
  /** First retry delay; doubled on each further retry, capped at one minute. @defaultValue 1000 */
  retryDelayMs: number;
}

const NAMES = {
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, pattern: '^[^,]+$' } },
  ],
} as const;

export const ODATA_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/onec.odata.options.json',
  title: 'onec.odata options',
  type: 'object',
  additionalProperties: false,
  required: ['url', 'resource'],
  properties: {
    url: {
      type: 'string', pattern: '^https?://[^/@\\s?#]+(/[^\\s?#]*)?$',
      description: 'base of the standard OData interface, e.g. http://host/base/odata/standard.odata (credentials go to userEnv/passwordEnv, never into the URL)',
    },
    resource: { type: 'string', minLength: 1, maxLength: 2000, pattern: '^[^/?#\\s][^?#]*$', description: 'entity set or virtual table, e.g. Catalog_Номенклатура or InformationRegister_ЦеныНоменклатуры/SliceLast()' },
    userEnv: { ...ENV_NAME, description: 'environment variable holding the 1C user name' },
    passwordEnv: { ...ENV_NAME, description: 'environment variable holding the 1C password' },
    select: { ...NAMES, description: '$select: property names (a list, or one comma-separated string)' },
    filter: { type: 'string', minLength: 1, description: '$filter in 1C OData syntax' },
    expand: { ...NAMES, description: '$expand: navigation properties to inline' },
    orderBy: { type: 'string', minLength: 1, description: '$orderby, e.g. Ref_Key' },
    pageSize: { type: 'integer', minimum: 1, maximum: 100000, default: 1000, description: '$top of one page' },
    incremental: { type: 'boolean', default: false, description: 'emit only entries whose DataVersion changed since the last accepted pull' },
    keyField: { type: 'string', minLength: 1, default: 'Ref_Key' },
    versionField: { type: 'string', minLength: 1, default: 'DataVersion' },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 3600000, default: 60000 },
    retries: { type: 'integer', minimum: 0, maximum: 20, default: 4 },
    retryDelayMs: { type: 'integer', minimum: 1, maximum: 600000, default: 1000 },
  },
  dependencies: { passwordEnv: ['userEnv'], userEnv: ['passwordEnv'] },
} as const;

function names(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? (v as string[]) : String(v).split(',');
  const out = list.map((s) => s.trim()).filter(Boolean);
  return out.length ? out : undefined;
}

/** Options with defaults filled (the schema has already been checked when the flow was applied). */
export function resolveOptions(raw: Record<string, unknown>): ODataOptions {
  return {
    url: String(raw.url).replace(/\/+$/, ''),
    resource: String(raw.resource).trim(),
    userEnv: raw.userEnv as string | undefined,
    passwordEnv: raw.passwordEnv as string | undefined,
    select: names(raw.select),
    filter: raw.filter as string | undefined,
    expand: names(raw.expand),
    orderBy: raw.orderBy as string | undefined,
    pageSize: (raw.pageSize as number | undefined) ?? 1000,
    incremental: (raw.incremental as boolean | undefined) ?? false,
    keyField: (raw.keyField as string | undefined) ?? 'Ref_Key',
    versionField: (raw.versionField as string | undefined) ?? 'DataVersion',
    timeoutMs: (raw.timeoutMs as number | undefined) ?? 60000,
    retries: (raw.retries as number | undefined) ?? 4,
    retryDelayMs: (raw.retryDelayMs as number | undefined) ?? 1000,
  };
}
