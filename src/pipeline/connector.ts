// Where the pipeline's connector types come from: the connector interface is defined by the port
// (src/port/connector.ts), which connectors import; the core imports it from here or from the port.
export type { Connector, ParseContext, SourceRecord, PullContext, PullHandle, PullResult, DryRunCounting } from '../port/connector.ts';
export type { ExchangeEndpoint, ConnectorModule } from '../port/module.ts';

// PullError lives with the other errors; the port re-exports it for connectors.
export { PullError } from '../errors/index.ts';
