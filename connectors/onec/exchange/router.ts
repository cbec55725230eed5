// The fastify plugin of `/exchange/onec/:exchange`, the 1C "exchange with site" protocol as 1C-Bitrix
// speaks it: every answer is 200 with a plain-text body in windows-1251 (`success` / `progress` /
// `failure` and lines after it) — 1C reads the body, not the status, so refusals are `failure` too.
// `checkauth` and `init` are common to every type; the rest is dispatched by type (`catalog` here, `sale`
// in sale.ts) through the table of types the plugin is built with.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import iconv from 'iconv-lite';
import { Counter } from 'prom-client';
import type { ConnectorPort, Logger, StoredFlow } from '../../../src/port/index.ts';
import { ExchangeFailure, receiveChunk, type ReceivedFile } from './files.ts';
import { abandonOtherSessions, closeSession, ExchangeState, followUpload, importFile, type Answer } from './imports.ts';
import { EXCHANGE_NAME, exchangeSettings, type ExchangeSettings } from './options.ts';
import { checkBasic, COOKIE_NAME, createSession, exchangeFlows, expireSessions, findSession, saveSessionData, type ExchangeSession } from './sessions.ts';

/** Everything a mode handler gets: the authenticated session, the exchange's flows and settings. */
export interface ExchangeCall {
  exchange: string;
  type: string;
  mode: string;
  /** The query string (type, mode, filename, sessid, …). */
  query: Readonly<Record<string, string | undefined>>;
  /** The request; for POSTs its body is the raw stream (never parsed or buffered). */
  request: FastifyRequest;
  session: ExchangeSession;
  settings: ExchangeSettings;
  /** The flows serving this exchange, by name. */
  flows: StoredFlow[];
  port: ConnectorPort;
  state: ExchangeState;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Appends the POST body to the session's file `rawName` (file_limit, fsync); throws ExchangeFailure. */
  receiveFile(rawName: string): Promise<ReceivedFile>;
  /** Merges `patch` into the session's type-specific state (`session.data`). */
  saveData(patch: Record<string, unknown>): Promise<void>;
}

/** A protocol answer (`success|progress|failure` + message), raw lines, or a document (sale query/info). */
export type ExchangeReply = Answer | { lines: string[] } | { body: Buffer | string; contentType: string };

export type ModeHandler = (call: ExchangeCall) => Promise<ExchangeReply>;

/** The modes of one exchange type besides the common checkauth (init may be overridden). */
export interface ExchangeTypeHandler {
  modes: Record<string, ModeHandler>;
}

// The same words for every refusal of identity (no such exchange, wrong password, expired or
// unknown session): nothing tells a guesser which part was wrong. The log says.
const AUTH_FAILED = 'Authorization failed';
const UNKNOWN = 'Unknown command';

function filename(call: ExchangeCall): string {
  const f = call.query.filename;
  if (!f) throw new ExchangeFailure(`mode=${call.mode} needs filename=`);
  return f;
}

/** type=catalog: files, their import, the end of the export. */
export const catalogHandler: ExchangeTypeHandler = {
  modes: {
    async file(call) {
      const f = await call.receiveFile(filename(call));
      call.log.debug({ session: call.session.id, file: f.name, bytes: f.size, chunks: f.chunks }, '1C file chunk received');
      // The piece is kept whatever happens next: reading it early is an optimisation, never a refusal.
      await followUpload({ port: call.port, state: call.state, session: call.session, settings: call.settings, log: call.log }, f)
        .catch((e: unknown) => call.log.warn({ err: e, file: f.name }, '1C file could not be read as it arrives; it is read at the import'));
      return { status: 'success', message: '' };
    },
    async import(call) {
      return importFile({ port: call.port, state: call.state, session: call.session, settings: call.settings, log: call.log }, filename(call));
    },
    async deactivate(call) {
      return closeSession({ port: call.port, state: call.state, session: call.session, settings: call.settings, log: call.log });
    },
    async complete(call) {
      return closeSession({ port: call.port, state: call.state, session: call.session, settings: call.settings, log: call.log });
    },
  },
};

/** windows-1251 like 1C-Bitrix; a character it cannot hold becomes '?', never a broken byte. */
function encode(text: string): Buffer {
  return iconv.encode(text, 'win1251');
}

function send(reply: FastifyReply, r: ExchangeReply, status = 200): FastifyReply {
  reply.code(status).header('cache-control', 'no-store');
  if ('body' in r) return reply.type(r.contentType).send(r.body);
  const text = 'lines' in r ? r.lines.join('\n') : r.message ? `${r.status}\n${r.message}` : `${r.status}\n`;
  return reply.type('text/plain; charset=windows-1251').send(encode(text));
}

const failure = (message: string): Answer => ({ status: 'failure', message });

function metric(port: ConnectorPort): Counter<'type' | 'mode' | 'status'> | undefined {
  const registry = port.metrics;
  if (!registry) return undefined;
  const name = 'magistral_onec_exchange_requests_total';
  return (registry.getSingleMetric(name) as Counter<'type' | 'mode' | 'status'> | undefined) ?? new Counter({
    name, help: '1C exchange protocol requests by type, mode and answer', labelNames: ['type', 'mode', 'status'] as const, registers: [registry],
  });
}

/**
 * The plugin of the exchange, answering the types in `types` (type=catalog, type=sale …): a table the
 * connector module builds, not a registry filled by imports.
 */
export function onecExchangePlugin(types: Readonly<Record<string, ExchangeTypeHandler>>) {
  const TYPES = new Map(Object.entries(types));
  return async (app: FastifyInstance, port: ConnectorPort): Promise<void> => {
    const state = new ExchangeState();
    const requests = metric(port);
    // Whatever the content type, a file POST reaches its handler as the raw stream.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof ExchangeFailure) {
        request.log.info({ reason: error.message }, '1C exchange request refused');
        return send(reply, failure(error.message));
      }
      if (Array.isArray(error.validation)) return send(reply, failure(`bad request: ${error.message}`));
      request.log.error({ err: error }, '1C exchange request failed');
      return send(reply, failure(`internal error (request ${request.id}); details are in the server log`));
    });

    const expiry = port.outage('1C session expiry');
    const sweep = setInterval(() => void expireSessions(port).then(() => expiry.ok(), (e: unknown) => { if (!expiry.failed(e)) port.log.warn({ err: e }, '1C session expiry failed'); }), 60_000);
    sweep.unref();
    app.addHook('onClose', async () => {
      clearInterval(sweep);
      await Promise.allSettled([...state.tasks.values()]);
    });

    const handler = async (request: FastifyRequest<{ Params: { exchange: string }; Querystring: Record<string, string | undefined> }>, reply: FastifyReply) => {
      const q = request.query;
      const exchange = request.params.exchange;
      const type = q.type ?? '';
      const mode = q.mode ?? '';
      const log = request.log;
      // 429 (with Retry-After) for a checkauth from an address that failed too often; 1C shows the body.
      let httpStatus = 200;
      // Only a presented credential is a guess: a checkauth without HTTP Basic is not counted.
      const presented = (): boolean => /^Basic\s+\S/i.test(request.headers.authorization ?? '');
      const answer = async (): Promise<ExchangeReply> => {
        const typeHandler = TYPES.get(type);
        if (!typeHandler || !(mode === 'checkauth' || mode === 'init' || mode in typeHandler.modes)) return failure(UNKNOWN);
        if (mode === 'checkauth') {
          const wait = port.logins.retryAfterSeconds('onec', request.ip);
          if (wait > 0) {
            httpStatus = 429;
            reply.header('retry-after', String(wait));
            return failure(`Too many failed logins from this address: retry after ${wait} s`);
          }
        }
        const flows = EXCHANGE_NAME.test(exchange) ? await exchangeFlows(port, exchange) : [];
        const { settings, conflict } = exchangeSettings(flows, port.maxPayloadBytes);
        if (!settings) {
          if (conflict) log.error({ exchange }, conflict);
          else log.warn({ exchange }, '1C exchange refused: no flow serves this exchange');
          // A guessed exchange name is a failed login too (the answer is the same as a wrong password's).
          if (mode === 'checkauth' && !conflict && presented()) port.logins.failed('onec', request.ip);
          return failure(AUTH_FAILED);
        }
        if (mode === 'checkauth') {
          const auth = await checkBasic(request.headers.authorization, settings, port.secrets);
          if (!auth.ok) {
            if (presented()) port.logins.failed('onec', request.ip);
            log.warn({ exchange, reason: auth.reason }, '1C checkauth refused');
            return failure(AUTH_FAILED);
          }
          port.logins.succeeded('onec', request.ip);
          await expireSessions(port).catch((e: unknown) => log.warn({ err: e }, '1C session expiry failed'));
          const s = await createSession(port, settings, auth.user, request.ip);
          if (type === 'catalog') await abandonOtherSessions(port, exchange, s.session.id).catch((e: unknown) => log.warn({ err: e }, '1C early reads of other sessions not given up'));
          log.info({ exchange, session: s.session.id, user: auth.user, type }, '1C exchange session started');
          return { lines: ['success', COOKIE_NAME, s.token, `sessid=${s.sessid}`, `timestamp=${Math.floor(Date.now() / 1000)}`, ''] };
        }
        const found = await findSession(port, exchange, settings, request.headers.cookie, q.sessid);
        if ('reason' in found) {
          log.warn({ exchange, mode, reason: found.reason }, '1C exchange request refused');
          return failure(AUTH_FAILED);
        }
        const session = found.session;
        const call: ExchangeCall = {
          exchange, type, mode, query: q, request, session, settings, flows, port, state, log: log.child({ session: session.id }),
          receiveFile: (name) => {
            const body = request.body as NodeJS.ReadableStream | undefined;
            if (!body || typeof (body as { iterator?: unknown }).iterator !== 'function') throw new ExchangeFailure(`${name}: mode=file needs the file as the POST body`);
            const len = Number(request.headers['content-length']);
            return receiveChunk(port, state.hashes, session, settings, name, body as import('node:stream').Readable, Number.isFinite(len) ? len : undefined);
          },
          saveData: (patch) => saveSessionData(port, session.id, patch),
        };
        const fn = typeHandler.modes[mode];
        if (fn) return fn(call);
        // init (not overridden by the type): what the session was set up with at checkauth.
        return { lines: [`zip=${session.zip ? 'yes' : 'no'}`, `file_limit=${session.file_limit}`] };
      };
      let r: ExchangeReply;
      try {
        r = await answer();
      } catch (e) {
        if (!(e instanceof ExchangeFailure)) throw e;
        log.info({ reason: e.message }, '1C exchange request refused');
        r = failure(e.message);
        // A refused upload may leave the rest of its body unread: close rather than read it all.
        if (request.method === 'POST') reply.header('connection', 'close');
      }
      const status = 'status' in r ? r.status : 'lines' in r ? r.lines[0] ?? '' : 'document';
      requests?.inc({ type: TYPES.has(type) ? type : 'unknown', mode: mode.slice(0, 32) || 'none', status: httpStatus === 429 ? 'throttled' : status });
      return send(reply, r, httpStatus);
    };

    app.route({
      method: ['GET', 'POST'],
      url: '/:exchange',
      // The body is streamed and counted by receiveChunk against the exchange's file_limit (a stream
      // passed through by the content-type parser is not subject to fastify's bodyLimit).
      schema: {
        params: { type: 'object', required: ['exchange'], properties: { exchange: { type: 'string', maxLength: 63 } } },
        querystring: {
          type: 'object',
          additionalProperties: { type: 'string' },
          properties: {
            type: { type: 'string', maxLength: 32 },
            mode: { type: 'string', maxLength: 32 },
            filename: { type: 'string', maxLength: 1024 },
            sessid: { type: 'string', maxLength: 128 },
          },
        },
      },
      handler,
    });
  };
}
