// Builds the port object a connector is handed (src/port/port.ts) from the pipeline's dependencies: the
// one place where a connector's requests meet the inbox, the runs, snapshot groups and the orders module.
import type { Kysely } from 'kysely';
import type { ConnectorPort, LoginGuard } from '../port/port.ts';
import { LoginThrottle } from '../security/login-throttle.ts';
import { tickOutage } from '../telemetry/tick-outage.ts';
import { ordersPort } from '../orders/outbound.ts';
import type { PipelineDeps } from './deps.ts';
import { listFlows } from './flows.ts';
import { receive } from './receive.ts';
import { abandonGrowth, extendGrowth, sealGrowth } from './growth.ts';
import { checkSecret } from './secrets.ts';
import { runStatuses } from './run-status.ts';
import { abandonSnapshotGroup, closeSnapshotGroup, openSnapshotGroup } from './snapshot-group.ts';
import path from 'node:path';

export function createConnectorPort(deps: PipelineDeps, env: Readonly<Record<string, string | undefined>>, logins: LoginGuard = new LoginThrottle({ registry: deps.metrics?.registry })): ConnectorPort {
  return {
    log: deps.log,
    env,
    inboxDir: path.resolve(deps.config.MAGISTRAL_DATA_DIR, 'inbox'),
    maxPayloadBytes: deps.config.MAGISTRAL_MAX_PAYLOAD_BYTES,
    metrics: deps.metrics?.registry,
    // The same connection pool, seen through the connector's own table types.
    tables: <T>() => deps.db as unknown as Kysely<T>,
    sql: deps.pool,
    flows: async (connector) => (await listFlows(deps.db)).filter((f) => f.definition.source.connector === connector),
    receive: (req) => receive(deps, req),
    growth: {
      extend: (key, bytes) => extendGrowth(deps.pool, key, bytes),
      seal: (key, file) => sealGrowth(deps, key, file),
      abandon: (keys, reason) => abandonGrowth(deps, keys, reason),
    },
    runs: (ids) => runStatuses(deps, ids),
    snapshots: {
      open: (id) => openSnapshotGroup(deps.db, id),
      close: (id) => closeSnapshotGroup(deps, id),
      abandon: (id) => abandonSnapshotGroup(deps, id),
    },
    orders: ordersPort(deps.db),
    secrets: { check: (name, given) => checkSecret(deps.db, env, name, given) },
    logins,
    outage: (loop) => tickOutage(deps.log, loop),
  };
}
