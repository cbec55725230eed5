// The list of CLI commands; each module adds its subcommands to the program.
import type { Command } from 'commander';
import { register as migrate } from './migrate.ts';
import { register as mappings } from './mappings.ts';
import { register as dryRun } from './dry-run.ts';

export const commands: Array<(program: Command) => void> = [migrate, mappings, dryRun];
