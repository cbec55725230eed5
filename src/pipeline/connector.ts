// Where the pipeline's connector types come from: the connector interface is defined by the port
// (src/port/connector.ts), which connectors import; the core imports it from here or from the port.
export type { Connector, ParseContext, SourceRecord, PullContext, PullHandle, PullResult, DryRunCounting } from '../port/connector.ts';
export type { ExchangeEndpoint, ConnectorModule } from '../port/module.ts';

/**
 * A pull could not read the remote system: its message names the resource, the HTTP status and the
 * remote's own code and text. `auth`: the credentials were refused (retrying will not help).
 */
export class PullError extends Error {
  readonly code: 'MAG_ERR_PULL_FAILED' | 'MAG_ERR_PULL_AUTH';
  readonly status?: number;

  constructor(code: 'MAG_ERR_PULL_FAILED' | 'MAG_ERR_PULL_AUTH', message: string, status?: number) {
    super(message);
    this.name = 'PullError';
    this.code = code;
    this.status = status;
  }
}
