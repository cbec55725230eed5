// Every connector module of this build, for the composition root (bin/magistral.js) to build the
// registry from. Importing this registers nothing: the list is data, handed to `new Registry(…)`.
import type { ConnectorModule } from '../src/port/index.ts';
import { csvConnector } from './file/csv.ts';
import { documentsConnector } from './file/documents.ts';
import { onecModule } from './onec/index.ts';
import { sapModule } from './sap/index.ts';
import { crmModule } from './crm/index.ts';

export const fileModule: ConnectorModule = { name: 'file', connectors: [csvConnector, documentsConnector] };

export const CONNECTOR_MODULES: readonly ConnectorModule[] = [fileModule, onecModule, sapModule, crmModule];

export { csvConnector, onecModule, sapModule, crmModule };
