// Reading what the e-mail outbox delivered: without SMTP_URL the workers write each message as an .eml
// file under MAGISTRAL_DATA_DIR/mail; mailparser-free decoding of the few encodings nodemailer uses.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ReadMail {
  file: string;
  to: string;
  replyTo: string;
  subject: string;
  body: string;
}

function decodeWords(s: string): string {
  return s.replace(/\r?\n[ \t]/g, ' ').replace(/=\?utf-8\?([BQ])\?([^?]*)\?=\s*/gi, (_, enc: string, text: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));
}

export function parseEml(raw: string, file = ''): ReadMail {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split);
  let body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  if (/Content-Transfer-Encoding: quoted-printable/i.test(head)) {
    body = Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  } else if (/Content-Transfer-Encoding: base64/i.test(head)) {
    body = Buffer.from(body.replace(/\s/g, ''), 'base64').toString('utf8');
  }
  const header = (name: string) => decodeWords(new RegExp(`^${name}: (.*(?:\\r?\\n[ \\t].*)*)$`, 'mi').exec(head)?.[1] ?? '');
  return { file, to: header('To'), replyTo: header('Reply-To'), subject: header('Subject'), body };
}

/** Every delivered message, oldest first. */
export async function readMails(dataDir: string): Promise<ReadMail[]> {
  const dir = path.join(dataDir, 'mail');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.eml')).sort();
  return Promise.all(names.map(async (n) => parseEml(await readFile(path.join(dir, n), 'utf8'), n)));
}
