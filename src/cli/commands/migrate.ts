// `magistral migrate`: creates the database when missing and applies migrations.
import type { Command } from 'commander';
import { createCliContext } from '../context.ts';
import { ensureDatabase, migrate } from '../../db/index.ts';
import type { CliHost } from '../host.ts';

export function register(program: Command, host: CliHost): void {
  program
    .command('migrate')
    .description('create the database if missing and apply migrations')
    .action(async () => {
      const ctx = createCliContext();
      try {
        const created = await ensureDatabase(ctx.config.DATABASE_URL);
        const applied = await migrate(ctx.db().db, host.registry.migrationSets());
        if (created) console.log('created database');
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await ctx.close();
      }
    });
}
