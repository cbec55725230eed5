// The SAP connector module. Orders out: ORDERS05 IDoc-XML over HTTP and S/4HANA's sales order API
// (connectors/sap/outbound). The inbound IDoc reader and endpoint join this list when they land.
import type { ConnectorModule } from '../../src/port/index.ts';
import { idocOrdersConnector, s4OrdersConnector } from './outbound/index.ts';

export const sapModule: ConnectorModule = { name: 'sap', connectors: [idocOrdersConnector, s4OrdersConnector] };
