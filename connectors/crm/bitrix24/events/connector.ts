// Connector `bitrix24.events`: the flows that take Bitrix24 CRM events (companies → clients, requisites →
// legal entities, contacts → contacts). Its payloads are what the drain fetched for the events: one flat
// record per entity, NDJSON, read back here for the flow's mapping.
import type { Readable } from 'node:stream';
import type { Connector, ParseContext, SourceRecord } from '../../../../src/port/index.ts';
import { parseNdjson } from '../../../lib/index.ts';
import { eventsOptionsSchema, EVENTS_KIND } from './options.ts';

export const eventsConnector: Connector = {
  kind: EVENTS_KIND,
  optionsSchema: eventsOptionsSchema,
  parse(input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
    return parseNdjson(input, ctx, (d) => (d.ID ? `ID ${d.ID}` : undefined));
  },
};
