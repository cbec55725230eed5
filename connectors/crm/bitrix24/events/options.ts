// Options of the flows that take Bitrix24 events (`bitrix24.events`: companies, contacts, requisites;
// `bitrix24.deals`: orders out as deals, whose stage events come back), and which entity a flow takes.
// The connection (webhook URL, portal + webhook secret, or OAuth; the portal's rate and burst) is the
// pull's (`bitrix24.rest`, ../options.ts), so an events flow and a pull flow of one portal read alike.
import type { StoredFlow } from '../../../../src/port/index.ts';
import { BITRIX24_OPTIONS_SCHEMA, resolveBitrix24Options, type Bitrix24Options } from '../options.ts';
import type { EventEntity } from './form.ts';

/** Connector kinds whose flows take events at /exchange/webhooks/<flow>. */
export const EVENTS_KIND = 'bitrix24.events';
export const DEALS_KIND = 'bitrix24.deals';
/** Bitrix24 connectors whose flows take no events (a clear 409 instead of a 404). */
export const OTHER_BITRIX24_KINDS = ['bitrix24.rest'] as const;

const P = BITRIX24_OPTIONS_SCHEMA.properties;

/** JSON Schema properties shared by both kinds: the pull's connection, and the application token of events. */
export const connectionProperties = {
  webhookUrlEnv: P.webhookUrlEnv, portal: P.portal, webhookUser: P.webhookUser, webhookSecretEnv: P.webhookSecretEnv, oauth: P.oauth,
  rate: P.rate, burst: P.burst, retries: P.retries, retryDelayMs: P.retryDelayMs, timeoutMs: P.timeoutMs,
  tokenEnv: {
    ...P.webhookUrlEnv,
    description: 'Environment variable holding the application token Bitrix24 sends with every event (auth[application_token]); events carrying another token are refused with 401.',
  },
} as const;

/** Exactly one way to connect, as for the pull. */
export const connectionOneOf = BITRIX24_OPTIONS_SCHEMA.oneOf;

export const eventsOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tokenEnv'],
  properties: {
    ...connectionProperties,
    presets: P.presets,
    gatherMs: {
      type: 'integer', minimum: 0, maximum: 60000,
      description: 'How long the drain waits after an event for more to fetch in the same batch (ms). Default 200.',
    },
  },
  oneOf: connectionOneOf,
} as const;

export interface EventsOptions {
  tokenEnv?: string;
  gatherMs?: number;
}

/** The connection (and presets) of an events or deals flow, resolved as the pull resolves its own. */
export function connectionOf(raw: Record<string, unknown>, defaults: { retries?: number } = {}): Bitrix24Options {
  return resolveBitrix24Options({ ...raw, entity: 'companies', retries: raw.retries ?? defaults.retries });
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

export function optionsOf(flow: StoredFlow): EventsOptions & Record<string, unknown> {
  return (flow.definition.source.options ?? {}) as EventsOptions & Record<string, unknown>;
}
