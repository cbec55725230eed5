// A password for the CLI without putting it on the command line: from standard input (scripts) or typed
// at a terminal with the echo off. Without a terminal and without --password-stdin it refuses (exit 2)
// rather than wait for input nobody will type.
import { MagistralError } from '../errors/index.ts';

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  // One trailing line break (echo, a here-string) is not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    // Echo off before the prompt shows: a password typed (or pasted) as soon as the prompt appears
    // used to reach the terminal while it still echoed, and stood on the screen (seen in CI under load).
    input.setRawMode(true);
    process.stderr.write(prompt);
    input.resume();
    input.setEncoding('utf8');
    let value = '';
    const done = (err?: Error): void => {
      input.setRawMode(false);
      input.pause();
      input.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new MagistralError('MAG_ERR_BAD_REQUEST', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}

export async function readPassword(opts: { stdin: boolean; prompt: string }): Promise<string> {
  if (opts.stdin) return readAll();
  if (!process.stdin.isTTY) {
    process.exitCode = 2;
    throw new MagistralError('MAG_ERR_BAD_REQUEST', 'no terminal to ask for the password: pass it on standard input with --password-stdin');
  }
  const first = await askHidden(opts.prompt);
  const again = await askHidden('again: ');
  if (first !== again) {
    process.exitCode = 2;
    throw new MagistralError('MAG_ERR_BAD_REQUEST', 'the two passwords differ: nothing changed');
  }
  return first;
}
