// Options of the onec.http connector: where the 1C base's HTTP service is, who the portal signs in as,
// and how long and how much it waits for a document. Checked when a flow is applied.
import { ENV_NAME } from '../../lib/index.ts';

export interface OnecHttpOptions {
  /** Base of the 1C HTTP service, e.g. `http://1c/base/hs/portal` (no credentials in it). */
  url: string;
  /** 1C user (HTTP Basic). */
  user?: string;
  /** Environment variable holding the password. */
  passwordEnv?: string;
  /** Time allowed for one request, answer included. @defaultValue 60 */
  timeoutSeconds: number;
  /** Largest document accepted. @defaultValue 20 */
  maxMegabytes: number;
}

export const ONEC_HTTP_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/onec.http.options.json',
  title: 'onec.http options',
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string', pattern: '^https?://[^/@\\s?#]+(/[^\\s?#]*)?$',
      description: 'base of the 1C HTTP service, e.g. http://1c/base/hs/portal (the password goes to passwordEnv, never into the URL)',
    },
    user: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^:\\r\\n]+$', description: '1C user the portal signs in as (HTTP Basic)' },
    passwordEnv: { ...ENV_NAME, description: 'environment variable holding the 1C password' },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 60, description: 'time allowed for one request, the document included' },
    maxMegabytes: { type: 'number', exclusiveMinimum: 0, maximum: 1024, default: 20, description: 'largest document accepted; a longer answer is cut off and refused' },
  },
  dependencies: { passwordEnv: ['user'] },
} as const;

/** Options with defaults filled (the schema has already been checked when the flow was applied). */
export function resolveOptions(raw: Record<string, unknown>): OnecHttpOptions {
  return {
    url: String(raw.url).replace(/\/+$/, ''),
    user: raw.user as string | undefined,
    passwordEnv: raw.passwordEnv as string | undefined,
    timeoutSeconds: (raw.timeoutSeconds as number | undefined) ?? 60,
    maxMegabytes: (raw.maxMegabytes as number | undefined) ?? 20,
  };
}
