// The onec.odata connector: pulls an entity set or register virtual table from a 1C base's standard
// OData interface on a flow's schedule; the pulled entries become an NDJSON payload that runs through
// the pipeline like any pushed file (mapping, rejects, guard, replay).
import type { Readable } from 'node:stream';
import { parseNdjson } from '../../lib/index.ts';
import { ODATA_OPTIONS_SCHEMA } from './options.ts';
import { entitySetOf, pullOData } from './pull.ts';
import type { Connector, ParseContext, SourceRecord } from '../../../src/port/index.ts';

function parse(input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
  const resource = typeof ctx.options.resource === 'string' ? ctx.options.resource : '';
  const set = entitySetOf(resource);
  const key = typeof ctx.options.keyField === 'string' ? ctx.options.keyField : 'Ref_Key';
  // Catalog and document entries have an address of their own in 1C's OData: name it in rejects.
  const address = (v: string): string => (key === 'Ref_Key' ? `${set}(guid'${v}')` : `${set}(${key}='${v}')`);
  const pathOf = set ? (d: Record<string, string>) => (d[key] ? address(d[key]) : undefined) : undefined;
  return parseNdjson(input, ctx, pathOf);
}

export const odataConnector: Connector = {
  kind: 'onec.odata',
  optionsSchema: ODATA_OPTIONS_SCHEMA,
  parse,
  pull: pullOData,
};

export { encodeResource, pageUrl, describeODataError } from './client.ts';
export { parseLossless, flattenEntry, plainNumber } from './json.ts';
export { payloadFileName, type VersionCursor } from './pull.ts';
