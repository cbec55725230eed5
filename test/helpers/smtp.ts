// A real SMTP server in the test process (the smtp-server package): what the outbox delivers over
// SMTP_URL arrives here as raw messages, and the server can be stopped and started again on its port.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  raw: string;
}

export interface TestSmtp {
  url: string;
  received: ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtp(): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false, size: 30 * 1024 * 1024,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('latin1') });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The attachments of a raw MIME message (base64 parts with a file name), decoded. */
export function attachmentsOf(raw: string): Array<{ fileName: string; contentType: string; content: Buffer }> {
  const out: Array<{ fileName: string; contentType: string; content: Buffer }> = [];
  const boundaries = [...raw.matchAll(/boundary="?([^";\r\n]+)"?/gi)].map((m) => m[1]!);
  for (const b of boundaries) {
    for (const part of raw.split(`--${b}`)) {
      const split = part.search(/\r?\n\r?\n/);
      if (split < 0) continue;
      const head = part.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
      if (!/Content-Disposition:\s*attachment/i.test(head) || !/Content-Transfer-Encoding:\s*base64/i.test(head)) continue;
      const type = /Content-Type:\s*([^;\r\n]+)/i.exec(head)?.[1]?.trim() ?? '';
      const name = /filename\*?=(?:"([^"]*)"|([^;\r\n]*))/i.exec(head);
      out.push({ fileName: (name?.[1] ?? name?.[2] ?? '').trim(), contentType: type, content: Buffer.from(part.slice(split).replace(/\s/g, ''), 'base64') });
    }
  }
  return out;
}
