// Entry point of the `magistral` CLI. Each command lives in src/cli/commands/<name>.ts and registers
// itself on the program; errors print their MAG_ERR_* code and message and exit non-zero.
import { Command } from 'commander';
import { isDependencyUnavailable } from '../db/availability.ts';
import { isMagistralError } from '../errors/index.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { commands } from './commands/index.ts';
import type { CliHost } from './host.ts';

export type { CliHost } from './host.ts';

/** Runs the CLI. The host (bin/magistral.js) supplies what lives outside src/: the workers. */
export async function runCli(argv: string[], host: CliHost): Promise<void> {
  // `magistral runs list | head -1`: the reader is gone, and what is left to print has nowhere to go —
  // a quiet end, not a stack of `write EPIPE` (issue 17).
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  const program = new Command();
  program.name('magistral').description('Magistral — integration bus for B2B commerce').showHelpAfterError();
  for (const register of commands) register(program, host);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (isMagistralError(e)) {
      console.error(`${e.code}: ${e.message}`);
    } else if (isDependencyUnavailable(e)) {
      // PostgreSQL (or Redis) out of reach: one line saying so, not a stack of the driver's internals.
      console.error(`MAG_ERR_UNAVAILABLE: a dependency does not answer (${(e as Error).message}); check that PostgreSQL and Redis run (DATABASE_URL, REDIS_URL) and try again`);
    } else if (e instanceof CabinetError) {
      // The cabinet's services speak Russian to buyers; an operator gets the same sentence, no stack.
      console.error(e.message);
    } else {
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    }
    process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
  }
}
