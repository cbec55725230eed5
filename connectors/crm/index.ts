// The CRM connector module (Bitrix24): events at /exchange/webhooks/<flow> (bitrix24.events), orders out
// as deals (bitrix24.deals), with the tables of the events. The pull side (bitrix24.rest) joins this list.
import type { ConnectorModule } from '../../src/port/index.ts';
import { bitrix24EventMigrations, dealsConnector, eventsConnector, webhooksExchange } from './bitrix24/events/index.ts';

export const crmModule: ConnectorModule = {
  name: 'crm',
  connectors: [eventsConnector, dealsConnector],
  exchanges: [webhooksExchange],
  migrations: { ...bitrix24EventMigrations },
};
