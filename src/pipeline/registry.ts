// The registry of connectors: one explicit object, built once in the composition root (bin/magistral.js)
// from the connector modules it is given, and passed down to the CLI, the server and the workers.
import type { Migration } from 'kysely';
import type { Connector } from '../port/connector.ts';
import type { ConnectorModule, ExchangeEndpoint } from '../port/module.ts';

export type { ConnectorModule } from '../port/module.ts';

export interface MigrationSet {
  name: string;
  migrations: Readonly<Record<string, Migration>>;
}

const MODULE_NAME = /^[a-z][a-z0-9]{0,30}$/;

export class Registry {
  readonly modules: readonly ConnectorModule[];
  private readonly byKind = new Map<string, Connector>();
  private readonly byPrefix = new Map<string, ExchangeEndpoint>();

  constructor(modules: readonly ConnectorModule[]) {
    const names = new Set<string>();
    for (const m of modules) {
      if (!MODULE_NAME.test(m.name)) throw new Error(`connector module name '${m.name}' must match ${MODULE_NAME}`);
      if (names.has(m.name)) throw new Error(`connector module '${m.name}' is listed twice`);
      names.add(m.name);
      for (const c of m.connectors ?? []) {
        if (this.byKind.has(c.kind)) throw new Error(`connector kind '${c.kind}' is brought by two modules`);
        this.byKind.set(c.kind, c);
      }
      for (const e of m.exchanges ?? []) {
        if (this.byPrefix.has(e.prefix)) throw new Error(`exchange prefix '${e.prefix}' is served by two modules`);
        this.byPrefix.set(e.prefix, e);
      }
    }
    this.modules = [...modules];
  }

  connector(kind: string): Connector | undefined {
    return this.byKind.get(kind);
  }

  /** Every connector kind a flow may name, sorted. */
  kinds(): string[] {
    return [...this.byKind.keys()].sort();
  }

  exchanges(): ExchangeEndpoint[] {
    return [...this.byPrefix.values()].sort((a, b) => a.prefix.localeCompare(b.prefix));
  }

  migrationSets(): MigrationSet[] {
    return this.modules.filter((m) => m.migrations && Object.keys(m.migrations).length).map((m) => ({ name: m.name, migrations: m.migrations! }));
  }
}
