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
/** The pull's kind: its flows of companies, contacts and requisites take events when they name a tokenEnv. */
export const REST_KIND = 'bitrix24.rest';
export const EVENT_FLOW_KINDS = [EVENTS_KIND, DEALS_KIND, REST_KIND] as const;

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

/** The entity a `bitrix24.rest` flow's events are about, by the entity it pulls. */
const ENTITY_OF_PULL: Readonly<Record<string, EventEntity>> = { companies: 'company', requisites: 'requisite', contacts: 'contact' };

/**
 * The entity whose events a flow takes: deals for the deals flow, by the pulled entity for a pull flow
 * (none for contact links and managers, which have no events here), by target for an events flow.
 */
export function entityOf(flow: StoredFlow): EventEntity | undefined {
  const kind = flow.definition.source.connector;
  if (kind === DEALS_KIND) return 'deal';
  if (kind === REST_KIND) return ENTITY_OF_PULL[String(optionsOf(flow).entity ?? '')];
  return ENTITY_OF_TARGET[flow.definition.target];
}

export function optionsOf(flow: StoredFlow): EventsOptions & Record<string, unknown> {
  return (flow.definition.source.options ?? {}) as EventsOptions & Record<string, unknown>;
}
