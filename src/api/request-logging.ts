// Request ids and the request serializer of the access log. The URL is logged without its query
// values for secret-looking keys (`?token=` of the dashboard), so no credential reaches a log line.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';

const SECRET_QUERY_KEYS = /^(token|access_token|password|secret|key|sessid)$/i;
const INCOMING_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** A caller's `x-request-id` is kept when it is a plain short token (so ids follow a request across services); else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && INCOMING_ID.test(given) ? given : randomUUID();
}

export function maskQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url.slice(q + 1).split('&').map((kv) => {
    const i = kv.indexOf('=');
    const key = decodeURIComponentSafe(i < 0 ? kv : kv.slice(0, i));
    return SECRET_QUERY_KEYS.test(key) ? `${kv.slice(0, i < 0 ? kv.length : i)}=[redacted]` : kv;
  });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: maskQuery(req.url),
    host: req.host,
    remoteAddress: req.ip,
  };
}
