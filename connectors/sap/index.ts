// The SAP connector module: IDoc-XML / IDoc-SOAP files SAP sends (sap.idoc).
import type { ConnectorModule } from '../../src/port/index.ts';
import { idocConnector } from './idoc/connector.ts';

export const sapModule: ConnectorModule = {
  name: 'sap',
  connectors: [idocConnector],
};
