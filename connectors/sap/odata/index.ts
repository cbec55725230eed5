// The sap.odata connector: pulls an entity set of an S/4HANA OData v2 API (API_PRODUCT_SRV,
// API_SLSPRICINGCONDITIONRECORD_SRV, API_MATERIAL_STOCK_SRV, API_BUSINESS_PARTNER, …) on a flow's
// schedule; the pulled entries, shaped into flat records, become an NDJSON payload that runs through the
// pipeline like any pushed file (mapping, rejects, guard, replay).
import type { Readable } from 'node:stream';
import { parseNdjson } from '../../lib/index.ts';
import { SAP_ODATA_OPTIONS_SCHEMA } from './options.ts';
import { pullSapOData } from './pull.ts';
import type { Connector, ParseContext, SourceRecord } from '../../../src/port/index.ts';

function parse(input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
  const set = typeof ctx.options.entitySet === 'string' ? ctx.options.entitySet : '';
  const key = typeof ctx.options.keyField === 'string' ? ctx.options.keyField : undefined;
  // An entry has an address of its own in the service: name it in rejects (`A_Product('TG11')`).
  const pathOf = set && key ? (d: Record<string, string>) => (d[key] ? `${set}('${d[key].replace(/'/g, "''")}')` : undefined) : undefined;
  return parseNdjson(input, ctx, pathOf);
}

export const sapODataConnector: Connector = {
  kind: 'sap.odata',
  optionsSchema: SAP_ODATA_OPTIONS_SCHEMA,
  parse,
  pull: pullSapOData,
};

export { sapPageUrl, describeSapError, retryAfterMs, clearTokenCache } from './client.ts';
export { shapeEntry, wireDate } from './json.ts';
export { keysetFilter, deltaLiteral, type DeltaCursor } from './pull.ts';
