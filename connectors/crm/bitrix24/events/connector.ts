// Connector `bitrix24.events`: the flows that take Bitrix24 CRM events (companies → clients, requisites →
// legal entities, contacts → contacts). Its payloads are what the drain fetched for the events, written
// as the pull's records (`_kind` names the mapping), so they are read back with the pull's parse and
// mapped with the pull's mappings (mappings/crm/bitrix24-*.yaml).
import type { Connector } from '../../../../src/port/index.ts';
import { bitrix24RestConnector } from '../index.ts';
import { eventsOptionsSchema, EVENTS_KIND } from './options.ts';

export const eventsConnector: Connector = {
  kind: EVENTS_KIND,
  optionsSchema: eventsOptionsSchema,
  parse: bitrix24RestConnector.parse,
};
