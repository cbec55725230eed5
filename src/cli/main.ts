// Entry point of the `magistral` CLI. Each command lives in src/cli/commands/<name>.ts and registers
// itself on the program; errors print their MAG_ERR_* code and message and exit non-zero.
import { Command } from 'commander';
import { isMagistralError } from '../errors/index.ts';
import { commands } from './commands/index.ts';

const program = new Command();
program.name('magistral').description('Magistral — integration bus for B2B commerce').showHelpAfterError();
for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (isMagistralError(e)) {
    console.error(`${e.code}: ${e.message}`);
  } else {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  }
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
}
