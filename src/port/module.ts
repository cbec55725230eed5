// What a connector package brings to the registry: the payload kinds it reads, the HTTP endpoints it
// serves to its system (handed the port), and the migrations of its own tables.
import type { FastifyInstance } from 'fastify';
import type { Migration } from 'kysely';
import type { Connector } from './connector.ts';
import type { ConnectorPort } from './port.ts';

/**
 * An HTTP endpoint a connector serves to its system (1C's exchange with site, webhooks). A connector
 * module lists it (ConnectorModule.exchanges); src/api mounts every endpoint of the registry under its
 * prefix, so the server never imports a connector. `app` is the fastify instance scoped to the prefix (a type-only dependency).
 */
export interface ExchangeEndpoint {
  /** Path prefix, e.g. `/exchange/onec`. */
  prefix: string;
  plugin(app: FastifyInstance, port: ConnectorPort): Promise<void>;
}

/**
 * What one connector package brings to the core: the payload kinds it parses (and pulls), the HTTP
 * endpoints it serves to its system, and the migrations of its own tables. Nothing is registered by
 * importing a module: the composition root lists the modules.
 */
export interface ConnectorModule {
  /** Short name, lowercase (`onec`, `file`): names its migrations' bookkeeping table and its logs. */
  readonly name: string;
  readonly connectors?: readonly Connector[];
  readonly exchanges?: readonly ExchangeEndpoint[];
  /**
   * The module's own tables, by migration name; applied in name order after the core's, and kept in a
   * bookkeeping table of the module's own (`kysely_migration_<name>`), so each connector's migrations
   * are ordered among themselves only.
   */
  readonly migrations?: Readonly<Record<string, Migration>>;
}
