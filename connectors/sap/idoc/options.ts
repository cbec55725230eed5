// Flow options the inbound IDoc endpoint reads (`/exchange/sap/idoc/<endpoint>`) and the settings of one
// endpoint, derived from every flow that serves it. The `sap.idoc` connector's optionsSchema (H1,
// connector.ts) merges `idocEndpointOptionsProperties` so both sides use exactly these names.
import type { StoredFlow } from '../../../src/port/index.ts';
import { INBOUND_MESSAGE_TYPES } from './types.ts';
import { ENV_NAME_PATTERN as ENV_NAME } from '../../lib/index.ts';

/** An endpoint name: what follows /exchange/sap/idoc/ (a flow name when the flow sets no endpoint). */
export const ENDPOINT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** JSON Schema properties for the connector's `optionsSchema.properties`. */
export const idocEndpointOptionsProperties = {
  endpoint: { type: 'string', pattern: ENDPOINT_NAME.source, description: 'Name of the endpoint SAP posts to: /exchange/sap/idoc/<endpoint>. Default: the flow\'s name. Flows sharing an endpoint share its credentials and limit.' },
  messageTypes: {
    type: 'array', minItems: 1, uniqueItems: true, items: { enum: INBOUND_MESSAGE_TYPES.map((t) => t.mestyp) },
    description: 'IDoc message types (EDI_DC40/MESTYP) this flow takes, e.g. [COND_A]. A message holding another type is refused with the list the endpoint accepts.',
  },
  userEnv: { type: 'string', pattern: ENV_NAME, description: 'Environment variable holding the user SAP sends (HTTP Basic; SM59 logon).' },
  passwordEnv: { type: 'string', pattern: ENV_NAME, description: 'Environment variable holding the password SAP sends.' },
  maxBodyBytes: { type: 'integer', minimum: 1024, description: 'Largest request body accepted (413 above it); default MAGISTRAL_MAX_PAYLOAD_BYTES.' },
} as const;

export interface EndpointSettings {
  endpoint: string;
  userEnv: string;
  passwordEnv: string;
  maxBodyBytes: number;
}

/** The endpoint a `sap.idoc` flow serves: `source.options.endpoint`, else its name. */
export function endpointOf(flow: StoredFlow): string {
  const e = (flow.definition.source.options as Record<string, unknown> | undefined)?.endpoint;
  return typeof e === 'string' && e ? e : flow.name;
}

/** The message types a flow takes (`source.options.messageTypes`). */
export function messageTypesOf(flow: StoredFlow): string[] {
  const m = (flow.definition.source.options as Record<string, unknown> | undefined)?.messageTypes;
  return Array.isArray(m) ? m.filter((x): x is string => typeof x === 'string') : [];
}

function settingsOf(flow: StoredFlow, maxPayloadBytes: number): EndpointSettings {
  const o = (flow.definition.source.options ?? {}) as Record<string, unknown>;
  const limit = typeof o.maxBodyBytes === 'number' && Number.isFinite(o.maxBodyBytes) ? Math.floor(o.maxBodyBytes) : maxPayloadBytes;
  return {
    endpoint: endpointOf(flow),
    userEnv: typeof o.userEnv === 'string' ? o.userEnv : '',
    passwordEnv: typeof o.passwordEnv === 'string' ? o.passwordEnv : '',
    // Never above the installation's limit: the inbox is sized for that.
    maxBodyBytes: Math.min(limit, maxPayloadBytes),
  };
}

/**
 * The settings of an endpoint from its flows. They describe one HTTP endpoint, so every flow of it must
 * agree on credentials and limit; when they do not (or name no credentials) `conflict` says which flows
 * and what to fix, for the log and the administrator.
 */
export function endpointSettings(flows: readonly StoredFlow[], maxPayloadBytes: number): { settings?: EndpointSettings; conflict?: string } {
  if (!flows.length) return {};
  const first = settingsOf(flows[0]!, maxPayloadBytes);
  if (!first.userEnv || !first.passwordEnv) {
    return { conflict: `flow ${flows[0]!.name} serves SAP IDoc endpoint '${first.endpoint}' without userEnv and passwordEnv: set both (the names of the environment variables holding SAP's login)` };
  }
  // One login per endpoint (SAP's port has one); the body limit is the largest any of its flows takes
  // (a condition flow's big packets) — a message is received before it is known which flows it is for.
  let maxBodyBytes = first.maxBodyBytes;
  for (const f of flows.slice(1)) {
    const s = settingsOf(f, maxPayloadBytes);
    const differ = (['userEnv', 'passwordEnv'] as const).filter((k) => s[k] !== first[k]);
    if (differ.length) {
      return { conflict: `flows ${flows[0]!.name} and ${f.name} serve SAP IDoc endpoint '${first.endpoint}' with different ${differ.join(', ')}: flows of one endpoint must share its credentials` };
    }
    maxBodyBytes = Math.max(maxBodyBytes, s.maxBodyBytes);
  }
  return { settings: { ...first, maxBodyBytes } };
}
