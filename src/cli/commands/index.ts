// The list of CLI commands; each module adds its subcommands to the program.
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { register as migrate } from './migrate.ts';
import { register as flows } from './flows.ts';
import { register as runs } from './runs.ts';
import { register as start } from './start.ts';
import { register as demo } from './demo.ts';
import { register as mappings } from './mappings.ts';
import { register as dryRun } from './dry-run.ts';
import { register as keys } from './keys.ts';
import { register as cabinet } from './cabinet.ts';
import { register as settings } from './settings.ts';
import { register as documents } from './documents.ts';
import { register as managers } from './managers.ts';
import { register as mail } from './mail.ts';
import { register as secrets } from './secrets.ts';
import { register as users } from './users.ts';
import { register as lineage } from './lineage.ts';

export const commands: Array<(program: Command, host: CliHost) => void> = [migrate, flows, runs, start, demo, mappings, dryRun, lineage, keys, cabinet, managers, mail, settings, documents, secrets, users];
