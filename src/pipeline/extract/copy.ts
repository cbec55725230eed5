// COPY text helpers of the extract: escaping a value for COPY's text format, and writing to a COPY
// stream with back-pressure (the parser waits while PostgreSQL catches up, memory stays flat).
import type { Writable } from 'node:stream';

/** Escapes a value for PostgreSQL COPY text format; null becomes \N. */
export function copyText(v: string | boolean | undefined | null): string {
  if (v === undefined || v === null) return '\\N';
  const s = typeof v === 'string' ? v : v ? 'true' : 'false';
  // Fast path: most values need no escaping.
  if (!/[\\\t\n\r]/.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export async function writeWithBackpressure(stream: Writable, chunk: string | Buffer): Promise<void> {
  if (stream.write(chunk)) return;
  // Wait for drain, but fail fast if the server aborts the COPY meanwhile. Both listeners go once
  // either fires: racing two events.once() left an 'error' listener (and its promise) on the stream
  // at every wait — thousands on one COPY of a big file.
  if (stream.errored) throw stream.errored;
  await new Promise<void>((resolve, reject) => {
    const settle = (e?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = () => settle();
    const onError = (e: unknown) => settle(e);
    const onClose = () => settle(stream.errored ?? new Error('the stream closed before it drained'));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
