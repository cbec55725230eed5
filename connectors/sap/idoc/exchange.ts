// The inbound IDoc endpoint, `/exchange/sap/idoc/<endpoint>`: what SAP's XML-HTTP port (WE21, over an
// SM59 connection of type G), SAP PI/PO and SAP Integration Suite post IDoc-XML to, and where SAP's
// SOAP/IDoc adapter sends IDocs in a SOAP envelope (same URL; `GET …?wsdl` serves the WSDL).
//
// One request, in this order:
//   1. the endpoint's flows (kind `sap.idoc`, `source.options.endpoint`, else the flow's name) and their
//      shared settings; unknown endpoint or wrong credentials → 401 with no detail (the log says which);
//   2. the body streamed into the inbox (sha256 while writing; over the limit → 413 and the partial file
//      removed), scanned on the way by envelope.ts: well-formedness, each IDoc's control record;
//   3. the decision: ORDRSP → the orders side; IDocs of types the endpoint's flows accept → one run per
//      flow that takes one of the message's types (port.receive, keyed by the DOCNUMs so a resend makes
//      nothing new); malformed XML → the runs are made all the same and fail in extract with the reader's
//      error, while the answer (400 / SOAP fault) already names IDoc, segment, line and column;
//      a well-formed message the endpoint does not accept → 422 / SOAP fault, nothing kept.
//   4. 2xx only once port.receive resolved: the bytes are on disk (fsync'd) and the runs exist.
import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { PayloadError, type ConnectorPort, type ErrorCode, type ExchangeEndpoint, type Logger, type ReceiptTransaction, type StoredFlow } from '../../../src/port/index.ts';
import { EnvelopeScanner, type EnvelopeScan, type IdocHead } from './envelope.ts';
import { ENDPOINT_NAME, endpointOf, endpointSettings, messageTypesOf, type EndpointSettings } from './options.ts';
import { soapAccepted, soapFault, soapVersionOfRequest, type SoapVersion } from './soap.ts';
import { messageType } from './types.ts';
import { idocWsdl } from './wsdl.ts';
import { handleOrderResponses } from '../outbound/ordrsp.ts';

export const IDOC_EXCHANGE_PREFIX = '/exchange/sap/idoc';
const REALM = 'Magistral SAP IDoc';
/** Socket reads are 64 KiB: gathered into writes of a few MiB (measured for the 1C exchange: fewer thread-pool round trips). */
const WRITE_BYTES = 4 << 20;
/** Longest receipt key kept as the DOCNUM list itself; longer lists are hashed. */
const KEY_PLAIN_MAX = 200;

/** The answer in the sender's framing: plain text for IDoc-XML, a SOAP envelope for SOAP. */
interface Answer {
  status: number;
  text: string;
  /** The catalogue code of a refusal: sent as `x-magistral-error-code` and logged. */
  code?: ErrorCode;
  /** A refusal (4xx/5xx) that SOAP senders get as a fault. */
  fault?: boolean;
  headers?: Record<string, string>;
}

interface Stored {
  path: string;
  sha256: string;
  size: number;
  /** A file of the same bytes was there already (an earlier message, maybe referenced by runs): never removed. */
  existed: boolean;
}

function metric(port: ConnectorPort): Counter<'outcome'> | undefined {
  const registry = port.metrics;
  if (!registry) return undefined;
  const name = 'magistral_sap_idoc_requests_total';
  return (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ?? new Counter({
    name, help: 'SAP IDoc endpoint requests by outcome', labelNames: ['outcome'] as const, registers: [registry],
  });
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** HTTP Basic against the endpoint's credentials (stored with `magistral secrets set`, else the environment); `reason` is for the log only. */
async function checkBasic(header: string | undefined, s: EndpointSettings, secrets: ConnectorPort['secrets']): Promise<{ ok: true } | { ok: false; reason: string }> {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return { ok: false, reason: header ? 'not HTTP Basic' : 'no Authorization header' };
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { ok: false, reason: 'malformed Basic credentials' };
  const [okUser, okPassword] = await Promise.all([secrets.check(s.userEnv, decoded.slice(0, colon)), secrets.check(s.passwordEnv, decoded.slice(colon + 1))]);
  if (okUser === 'unset' || okPassword === 'unset') return { ok: false, reason: `${okUser === 'unset' ? s.userEnv : s.passwordEnv} is set neither in the environment nor with \`magistral secrets set\`` };
  return okUser === 'ok' && okPassword === 'ok' ? { ok: true } : { ok: false, reason: okUser === 'ok' ? 'wrong password' : 'unknown user' };
}

/**
 * Media types that cannot be IDoc-XML or SOAP (JSON, forms, multipart, plain text): refused with 415
 * before the body is read. XML types, SAP's `application/x-sap.idoc`, octet-stream and none are read
 * (senders label IDoc-XML loosely; the scan decides).
 */
function refusedMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const t = contentType.split(';')[0]!.trim().toLowerCase();
  if (!t || t.includes('xml') || t === 'application/x-sap.idoc' || t === 'application/octet-stream') return undefined;
  return t;
}

/** What the endpoint's flows accept, for refusals: `COND_A (COND_A03, COND_A04, COND_A05), MATMAS (MATMAS05)`. */
function accepted(flows: readonly StoredFlow[]): string {
  const types = [...new Set(flows.flatMap(messageTypesOf))].sort();
  return types.map((m) => `${m} (${messageType(m)?.basicTypes.join(', ') ?? '?'})`).join(', ') || 'nothing (no flow names messageTypes)';
}

const idocName = (i: IdocHead): string => `IDoc ${i.control.DOCNUM || `#${i.index}`}`;

/** Receipt key of a message: the endpoint and its DOCNUMs (hashed when long); the body's hash when an IDoc has none. */
export function receiptKey(endpoint: string, docnums: readonly string[], bodySha: string): string {
  if (!docnums.length || docnums.some((d) => !d)) return `sap:${endpoint}:body:${bodySha}`;
  const list = [...new Set(docnums)].sort().join(',');
  return list.length <= KEY_PLAIN_MAX ? `sap:${endpoint}:${list}` : `sap:${endpoint}:sha256:${sha256(list)}`;
}

/**
 * Streams the body into `dir` while `scan` reads it: sha256 on the way, fsync, then renamed to
 * `<sha256>.xml` (a resend of the same bytes lands on the same name, with the same content). Over
 * `limit` bytes: the partial file is removed and undefined is answered.
 */
async function storeBody(dir: string, body: Readable, limit: number, scan: EnvelopeScanner): Promise<Stored | undefined> {
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.receiving-${randomUUID()}`);
  const fh = await open(tmp, 'wx');
  const hash = createHash('sha256');
  let size = 0;
  let done = false;
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (!pendingBytes) return;
      const parts = pending;
      pending = [];
      pendingBytes = 0;
      await fh.writev(parts);
    };
    // Leaving the loop early (over the limit) must not destroy the request: the sender reads our 413.
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) return undefined;
      hash.update(chunk);
      scan.write(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_BYTES || pending.length >= 512) await flush();
    }
    await flush();
    await fh.sync();
    done = true;
  } finally {
    await fh.close().catch(() => {});
    if (!done) await rm(tmp, { force: true });
  }
  const digest = hash.digest('hex');
  const final = path.join(dir, `${digest}.xml`);
  const existed = await access(final).then(() => true, () => false);
  await rename(tmp, final);
  // The directory entry too: the runs made next refer to the file and may be replayed after a crash.
  const dh = await open(dir, 'r');
  try {
    await dh.sync().catch(() => {});
  } finally {
    await dh.close();
  }
  return { path: final, sha256: digest, size, existed };
}

interface Call {
  endpoint: string;
  flows: StoredFlow[];
  settings: EndpointSettings;
  port: ConnectorPort;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

/** The file name runs show: the endpoint and the first DOCNUM (+ how many more). */
function runFileName(endpoint: string, docnums: readonly string[], sha: string): string {
  const first = docnums[0];
  if (!first) return `${endpoint}-${sha.slice(0, 16)}.xml`;
  return docnums.length > 1 ? `${endpoint}-${first}+${docnums.length - 1}.xml` : `${endpoint}-${first}.xml`;
}

/** Checks each IDoc's message type and basic type against the flows; answers the flows to receive or a refusal. */
function dispatch(call: Call, scan: EnvelopeScan): { flows: string[]; orderResponses: boolean } | { refusal: string } {
  const mestyps = [...new Set(scan.types.map((i) => i.control.MESTYP))];
  for (const idoc of scan.types) {
    const { MESTYP, IDOCTYP } = idoc.control;
    const t = messageType(MESTYP);
    const takers = call.flows.filter((f) => messageTypesOf(f).includes(MESTYP));
    if (!t || !takers.length) {
      return { refusal: `${idocName(idoc)}: message type ${MESTYP ? `'${MESTYP}'` : '(MESTYP empty)'} (basic type ${IDOCTYP || '?'}) is not accepted by endpoint '${call.endpoint}'; it accepts ${accepted(call.flows)}` };
    }
    if (!t.basicTypes.includes(IDOCTYP)) {
      return { refusal: `${idocName(idoc)}: basic type '${IDOCTYP}' is not read for message type ${MESTYP}; endpoint '${call.endpoint}' accepts ${accepted(call.flows)}` };
    }
  }
  // The element holding the IDOCs is named after their basic type (or extension, CIMTYP). A message
  // mixing types can match only one of them; a root matching none is not an IDoc message as SAP writes it.
  const named = scan.types.flatMap((i) => [i.control.IDOCTYP, i.control.CIMTYP]).filter(Boolean);
  if (scan.root && !named.includes(scan.root)) {
    const first = scan.types[0]!;
    return { refusal: `${idocName(first)}: the message element is <${scan.root}>, but the control records name basic type ${[...new Set(named)].join(', ')} (SAP names the element after the basic type or extension)` };
  }
  const orders = mestyps.filter((m) => !messageType(m)!.kinds.length);
  if (orders.length && orders.length < mestyps.length) {
    return { refusal: `the message mixes order responses (${orders.join(', ')}) with master data (${mestyps.filter((m) => !orders.includes(m)).join(', ')}): send them in separate messages (one packet per message type in WE20)` };
  }
  if (orders.length) return { flows: [], orderResponses: true };
  const flows = call.flows.filter((f) => messageTypesOf(f).some((m) => mestyps.includes(m))).map((f) => f.name);
  return { flows, orderResponses: false };
}

/**
 * Records the message (its file and DOCNUMs) in the receipt's transaction, so the record exists exactly
 * when its runs do. A key is recorded by its first receipt: a resend of the same DOCNUMs (in other bytes:
 * another CRETIM, a regrouped packet) is answered with the first runs and its own copy is not kept.
 */
function recordMessage(call: Call, key: string, stored: Stored, fileName: string, scan: EnvelopeScan) {
  return async (q: ReceiptTransaction): Promise<void> => {
    await q.query(`INSERT INTO sap_idoc_messages (receipt_key, endpoint, path, sha256, size_bytes, file_name, idocs, docnums)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
      ON CONFLICT (receipt_key) DO UPDATE SET endpoint = excluded.endpoint, path = excluded.path, sha256 = excluded.sha256, size_bytes = excluded.size_bytes,
        file_name = excluded.file_name, idocs = excluded.idocs, docnums = excluded.docnums, received_at = now()`,
    [key, call.endpoint, stored.path, stored.sha256, stored.size, fileName, scan.idocCount, scan.docnums.filter(Boolean)]);
  };
}

/** The decision for a stored, scanned message (the body is at `stored.path`). */
async function decide(call: Call, scan: EnvelopeScan, stored: Stored, contentType: string | undefined): Promise<{ answer: Answer; keep: boolean; outcome: string }> {
  const fileName = runFileName(call.endpoint, scan.docnums, stored.sha256);
  if (scan.error) {
    // Malformed: the runs of the flows that take the IDoc types read so far (every run-making flow of
    // the endpoint when none was read) are made and fail in extract with the reader's message, so the
    // failure is visible where the flows' runs are watched. Keyed by the bytes, not the DOCNUMs: the
    // corrected message, resent with the same DOCNUMs, must make new runs.
    // Named by the file name the runs show, so the answer and the run's error read alike.
    const c = scan.error.code;
    const code = c === 'MAG_ERR_PAYLOAD_ENCODING' || c === 'MAG_ERR_PAYLOAD_TOO_LARGE' ? c : 'MAG_ERR_PAYLOAD_MALFORMED';
    const msg = new PayloadError(code, { ...scan.error.position, file: fileName }, scan.errorDetail ?? '').message;
    const known = scan.types.length ? dispatch(call, scan) : undefined;
    const flows = known && 'flows' in known && !known.orderResponses ? known.flows
      : !known ? call.flows.filter((f) => messageTypesOf(f).some((m) => messageType(m)?.kinds.length)).map((f) => f.name) : [];
    if (!flows.length) return { answer: { status: 400, text: `${msg}\nNothing was stored.`, fault: true, code: scan.error.code }, keep: false, outcome: 'malformed' };
    const r = await call.port.receive({ flows, files: [{ fileName, stored, contentType }], key: `sap:${call.endpoint}:malformed:${stored.sha256}` });
    call.log.warn({ endpoint: call.endpoint, error: msg, runs: r.runs.map((x) => x.id) }, 'SAP IDoc message malformed; stored, its runs fail in extract');
    return {
      answer: { status: 400, text: `${msg}\nThe message was stored as run ${r.runs.map((x) => `${x.id} (${x.flow})`).join(', ')}, which fails with this error.`, fault: true, code: scan.error.code },
      keep: true, outcome: 'malformed',
    };
  }
  if (scan.problem) return { answer: { status: 422, text: scan.problem, fault: true, code: 'MAG_ERR_IDOC_REFUSED' }, keep: false, outcome: 'refused' };
  const d = dispatch(call, scan);
  if ('refusal' in d) return { answer: { status: 422, text: d.refusal, fault: true, code: 'MAG_ERR_IDOC_REFUSED' }, keep: false, outcome: 'refused' };
  const docnums = scan.docnums.filter(Boolean);
  const listed = docnums.length > 10 ? `${docnums.slice(0, 10).join(', ')} … (${docnums.length})` : docnums.join(', ');
  if (d.orderResponses) {
    // Order responses are no run: SAP's number, date and status go onto the portal orders now (connectors/sap/outbound/ordrsp.ts).
    // An order made in SAP is resolved by the customer and material numbers of the flow's system.
    const system = call.flows.find((f) => messageTypesOf(f).includes('ORDRSP'))?.definition.source.system;
    const report = await handleOrderResponses(call.port, { path: stored.path, fileName }, system ? { system } : {});
    call.log.info({ endpoint: call.endpoint, docnums, report }, 'SAP order responses applied');
    const counts = (['changed', 'unchanged', 'notFound'] as const).filter((k) => typeof report[k] === 'number').map((k) => `${k} ${report[k]}`).join(', ');
    return { answer: { status: 200, text: `order responses applied: ${scan.idocCount} IDoc(s) (DOCNUM ${listed})${counts ? `; orders ${counts}` : ''}` }, keep: true, outcome: 'orders' };
  }
  const key = receiptKey(call.endpoint, scan.docnums, stored.sha256);
  const r = await call.port.receive({
    flows: d.flows, files: [{ fileName, stored: { path: stored.path, sha256: stored.sha256, size: stored.size }, contentType }], key, coalesce: true,
    // SAP's senders wait for the answer before the next packet: answering at the flows' pace keeps a
    // flood from piling up a backlog that every later IDoc, a one-condition correction too, waits behind.
    pace: true,
    record: recordMessage(call, key, stored, fileName, scan),
  });
  call.log.info({ endpoint: call.endpoint, idocs: scan.idocCount, docnums: docnums.slice(0, 20), runs: r.runs, bytes: stored.size, ...(r.repeated ? { repeated: true } : {}), ...(r.pacedMs ? { pacedMs: r.pacedMs } : {}) }, 'SAP IDoc message received');
  return {
    answer: { status: 200, text: `stored ${scan.idocCount} IDoc(s) (DOCNUM ${listed}) as run ${r.runs.map((x) => `${x.id} (${x.flow})`).join(', ')}` },
    keep: !r.repeated, outcome: 'stored',
  };
}

type Req = FastifyRequest<{ Params: { endpoint: string }; Querystring: Record<string, string | undefined> }>;

function send(reply: FastifyReply, a: Answer, soap: SoapVersion | undefined): FastifyReply {
  reply.code(a.status).header('cache-control', 'no-store');
  for (const [k, v] of Object.entries(a.headers ?? {})) reply.header(k, v);
  if (a.code) reply.header('x-magistral-error-code', a.code);
  if (soap && a.status !== 401 && a.status !== 413 && a.status !== 429) {
    const s = a.fault ? soapFault(soap, a.text) : soapAccepted(soap);
    return reply.code(a.fault ? s.status : a.status).type(s.contentType).send(s.body);
  }
  return reply.type('text/plain; charset=utf-8').send(`${a.text}\n`);
}

export async function idocExchangePlugin(app: FastifyInstance, port: ConnectorPort): Promise<void> {
  const requests = metric(port);
  // Whatever the content type, the body reaches the handler as the raw stream (never parsed or buffered;
  // a stream passed through by the parser is not subject to fastify's bodyLimit: storeBody counts it).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  /** The endpoint's flows and settings, or the answer refusing the request (no flow, conflict, credentials). */
  async function authorize(request: Req, log: Call['log']): Promise<Call | Answer> {
    const endpoint = request.params.endpoint;
    const unauthorized: Answer = { status: 401, text: 'Unauthorized', code: 'MAG_ERR_UNAUTHORIZED', headers: { 'www-authenticate': `Basic realm="${REALM}", charset="UTF-8"` } };
    // An address that failed too often is refused unchecked (429, Retry-After) until its lock ends.
    const wait = port.logins.retryAfterSeconds('sap', request.ip);
    if (wait > 0) return { status: 429, text: `too many failed logins from this address: retry after ${wait} s`, code: 'MAG_ERR_TOO_MANY_FAILURES', headers: { 'retry-after': String(wait) } };
    // Only a presented credential is a guess: a request without HTTP Basic (a probe, a misconfigured port) is not counted.
    const presented = /^Basic\s+\S/i.test(request.headers.authorization ?? '');
    const flows = ENDPOINT_NAME.test(endpoint) ? (await port.flows('sap.idoc')).filter((f) => endpointOf(f) === endpoint) : [];
    if (!flows.length) {
      // The same answer as wrong credentials: nothing tells a guesser which endpoints exist.
      log.warn({ endpoint }, 'SAP IDoc request refused: no flow serves this endpoint');
      if (presented) port.logins.failed('sap', request.ip);
      return unauthorized;
    }
    const { settings, conflict } = endpointSettings(flows, port.maxPayloadBytes);
    if (!settings) {
      log.error({ endpoint }, conflict ?? 'SAP IDoc endpoint misconfigured');
      return { status: 500, text: `endpoint '${endpoint}' is misconfigured (its flows disagree on credentials or limit); the server log names the flows`, fault: true, code: 'MAG_ERR_FLOW_INVALID' };
    }
    const auth = await checkBasic(request.headers.authorization, settings, port.secrets);
    if (!auth.ok) {
      log.warn({ endpoint, reason: auth.reason }, 'SAP IDoc request refused');
      if (presented) port.logins.failed('sap', request.ip);
      return unauthorized;
    }
    port.logins.succeeded('sap', request.ip);
    return { endpoint, flows, settings, port, log };
  }

  // GET: the WSDL with ?wsdl; without it a short description, which makes SM59's connection test
  // (a GET of the path prefix) show 200 for a right URL and credentials and 401 for wrong ones.
  app.get('/:endpoint', async (request: Req, reply) => {
    const log = request.log;
    const call = await authorize(request, log);
    if ('status' in call) return send(reply, call, undefined);
    const basicTypes = call.flows.flatMap(messageTypesOf).flatMap((m) => messageType(m)?.basicTypes ?? []);
    const location = `${request.protocol}://${request.host}${IDOC_EXCHANGE_PREFIX}/${call.endpoint}`;
    if (!Object.keys(request.query).some((k) => k.toLowerCase() === 'wsdl')) {
      requests?.inc({ outcome: 'probe' });
      return send(reply, { status: 200, text: `SAP IDoc endpoint '${call.endpoint}': POST IDoc-XML or IDoc-SOAP to ${location}; it accepts ${accepted(call.flows)}. WSDL: ${location}?wsdl` }, undefined);
    }
    requests?.inc({ outcome: 'wsdl' });
    return reply.code(200).type('text/xml; charset=utf-8').header('cache-control', 'no-store')
      .send(idocWsdl({ endpoint: call.endpoint, location, basicTypes }));
  });

  app.post('/:endpoint', async (request: Req, reply) => {
    const log = request.log;
    const soapHint = soapVersionOfRequest(request.headers['content-type'], request.headers.soapaction as string | undefined);
    const done = (a: Answer, outcome: string, soap: SoapVersion | undefined = soapHint): FastifyReply => {
      requests?.inc({ outcome });
      // A refused request may leave its body unread: close rather than read it all.
      if (a.status >= 400) reply.header('connection', 'close');
      return send(reply, a, soap);
    };
    const call = await authorize(request, log);
    if ('status' in call) return done(call, call.status === 401 ? 'unauthorized' : call.status === 429 ? 'throttled' : 'misconfigured');
    const media = refusedMediaType(request.headers['content-type']);
    if (media) return done({ status: 415, text: `a body of type ${media} is not an IDoc message: send IDoc-XML (application/xml, text/xml) or a SOAP envelope`, fault: true, code: 'MAG_ERR_IDOC_REFUSED' }, 'unsupported-media');
    const limit = call.settings.maxBodyBytes;
    const tooLarge: Answer = { status: 413, text: `the message is larger than the endpoint's limit of ${limit} bytes: lower the packet size in the partner profile (WE20) or raise maxBodyBytes; nothing was stored`, code: 'MAG_ERR_PAYLOAD_TOO_LARGE' };
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return done(tooLarge, 'too-large');
    const raw = request.body as Readable | undefined;
    const body = raw && typeof (raw as { iterator?: unknown }).iterator === 'function' ? raw : request.raw;
    const scanner = new EnvelopeScanner(`${call.endpoint}.xml`);
    const dir = path.join(port.inboxDir, 'sap-idoc', call.endpoint);
    let stored: Stored | undefined;
    try {
      stored = await storeBody(dir, body, limit, scanner);
    } catch (e) {
      // The sender broke off (or the disk failed): the partial file is gone, nothing was received.
      log.warn({ err: e, endpoint: call.endpoint }, 'SAP IDoc message not received: the upload broke off');
      return done({ status: 500, text: `the message could not be received (${(e as Error).message}); nothing was kept, send it again`, fault: true, code: 'MAG_ERR_INTERNAL' }, 'broken-off');
    }
    if (!stored) return done(tooLarge, 'too-large');
    const scan = scanner.end();
    const soap = scan.format === 'soap' ? scan.soapVersion ?? soapHint ?? '1.1' : soapHint;
    let decision: Awaited<ReturnType<typeof decide>>;
    try {
      decision = await decide(call, scan, stored, request.headers['content-type']);
    } catch (e) {
      // Nothing refers to a new file unless receive resolved: it is removed again.
      log.error({ err: e, endpoint: call.endpoint }, 'SAP IDoc message could not be received');
      if (!stored.existed) await rm(stored.path, { force: true });
      return done({ status: 500, text: `the message could not be stored (request ${request.id}); send it again, details are in the server log`, fault: true, code: 'MAG_ERR_INTERNAL' }, 'error', soap);
    }
    if (!decision.keep && !stored.existed) await rm(stored.path, { force: true });
    if (decision.answer.status >= 400) log.info({ endpoint: call.endpoint, status: decision.answer.status, code: decision.answer.code, reason: decision.answer.text }, 'SAP IDoc message refused');
    return done(decision.answer, decision.outcome, soap);
  });
}

export const idocExchange: ExchangeEndpoint = { prefix: IDOC_EXCHANGE_PREFIX, plugin: idocExchangePlugin };
