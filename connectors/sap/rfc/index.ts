// The sap.rfc connector: reads SAP tables (RFC_READ_TABLE) or calls a configured BAPI over RFC on a
// flow's schedule; the rows become an NDJSON payload that runs through the pipeline like any file.
// node-rfc is loaded only when a pull runs (see client.ts): without the SAP NW RFC SDK the pull fails
// with what to install, and nothing else is affected.
import { parseNdjson } from '../../lib/index.ts';
import { nodeRfcFactory, type RfcClientFactory } from './client.ts';
import { SAP_RFC_OPTIONS_SCHEMA } from './options.ts';
import { pullSapRfc } from './pull.ts';
import type { Connector } from '../../../src/port/index.ts';

/** The connector with its RFC client factory: node-rfc by default, a recorded system in tests. */
export function createSapRfcConnector(opts: { clientFactory?: RfcClientFactory } = {}): Connector {
  return {
    kind: 'sap.rfc',
    optionsSchema: SAP_RFC_OPTIONS_SCHEMA,
    parse: (input, ctx) => parseNdjson(input, ctx),
    pull: pullSapRfc(opts.clientFactory ?? nodeRfcFactory),
  };
}

export const sapRfcConnector: Connector = createSapRfcConnector();

export type { RfcClient, RfcClientFactory } from './client.ts';
export { NODE_RFC_INSTALL, nodeRfcFactory } from './client.ts';
export { whereLines, splitRow, abapValue, bapiErrors } from './pull.ts';
