// Command-line arguments the commands share. A bad one is one line naming it and what to give, exit 2
// (a usage error) — issue 17: `magistral runs show abc` printed a stack trace from the database driver.
import { MagistralError } from '../errors/index.ts';

/** A positive integer id (runs, keys, e-mails); `list` names the command that shows the ids. */
export function idArgument(value: string, what: string, list: string): number {
  const v = value.trim();
  if (!/^[1-9][0-9]{0,14}$/.test(v)) {
    process.exitCode = 2;
    throw new MagistralError('MAG_ERR_BAD_REQUEST', `'${value}' is not a ${what} id: give the number \`${list}\` shows`);
  }
  return Number(v);
}
