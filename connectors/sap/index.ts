// The SAP connector module: S/4HANA OData v2 pulled (sap.odata), RFC tables and BAPIs pulled (sap.rfc;
// node-rfc loaded only when a flow pulls). IDoc endpoints and orders out join here.
import type { ConnectorModule } from '../../src/port/index.ts';
import { sapODataConnector } from './odata/index.ts';
import { sapRfcConnector } from './rfc/index.ts';

export const sapModule: ConnectorModule = {
  name: 'sap',
  connectors: [sapODataConnector, sapRfcConnector],
};
