// The list of CLI commands; each module adds its subcommands to the program.
import type { Command } from 'commander';
import { register as migrate } from './migrate.ts';

export const commands: Array<(program: Command) => void> = [migrate];
