// Options of the flows that take Bitrix24 events (`bitrix24.events`: companies, contacts, requisites;
// `bitrix24.deals`: orders out as deals, whose stage events come back), and which entity a flow takes.
import type { StoredFlow } from '../../../../src/port/index.ts';
import type { EventEntity } from './form.ts';

export const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';

/** Connector kinds whose flows take events at /exchange/webhooks/<flow>. */
export const EVENTS_KIND = 'bitrix24.events';
export const DEALS_KIND = 'bitrix24.deals';
/** Bitrix24 connectors whose flows take no events (a clear 409 instead of a 404). */
export const OTHER_BITRIX24_KINDS = ['bitrix24.rest'] as const;

/** JSON Schema properties shared by both kinds: the application token and the REST connection. */
export const connectionProperties = {
  webhookUrlEnv: {
    type: 'string', pattern: ENV_NAME,
    description: 'Environment variable holding the incoming webhook URL (https://<portal>/rest/<user>/<secret>/) the entities are fetched with.',
  },
  tokenEnv: {
    type: 'string', pattern: ENV_NAME,
    description: 'Environment variable holding the application token Bitrix24 sends with every event (auth[application_token]); events carrying another token are refused with 401.',
  },
  timeoutMs: { type: 'integer', minimum: 100, maximum: 600000, description: 'One REST request\'s time limit. Default 60000.' },
} as const;

export const eventsOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tokenEnv', 'webhookUrlEnv'],
  properties: {
    ...connectionProperties,
    gatherMs: {
      type: 'integer', minimum: 0, maximum: 60000,
      description: 'How long the drain waits after an event for more to fetch in the same batch (ms). Default 200.',
    },
  },
} as const;

export interface ConnectionOptions {
  webhookUrlEnv?: string;
  tokenEnv?: string;
  timeoutMs?: number;
}

export interface EventsOptions extends ConnectionOptions {
  gatherMs?: number;
}

/** The entity a `bitrix24.events` flow fetches, by its target. */
export const ENTITY_OF_TARGET: Readonly<Record<string, EventEntity>> = {
  clients: 'company', legalEntities: 'requisite', contacts: 'contact',
};

/** The entity whose events a flow takes: by target for events flows, deals for the deals flow. */
export function entityOf(flow: StoredFlow): EventEntity | undefined {
  if (flow.definition.source.connector === DEALS_KIND) return 'deal';
  return ENTITY_OF_TARGET[flow.definition.target];
}

export function optionsOf(flow: StoredFlow): EventsOptions {
  return (flow.definition.source.options ?? {}) as EventsOptions;
}
