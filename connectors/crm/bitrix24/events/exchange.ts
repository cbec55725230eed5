// The events endpoint, `/exchange/webhooks/<flow>`: where Bitrix24 posts CRM events (an outgoing webhook
// or an application's event.bind handler). One request, in this order:
//   1. the flow: a `bitrix24.events` or `bitrix24.deals` flow of that name, or a `bitrix24.rest` (pull)
//      flow with tokenEnv, else 404 (409 for a pull flow without tokenEnv);
//   2. the body: application/x-www-form-urlencoded with nested keys, else 415; unreadable → 400 naming the key;
//   3. the token: auth[application_token] equal (constant time) to the value of the flow's tokenEnv, else
//      401 and nothing stored;
//   4. the event's fields (event, data[FIELDS][ID], ts) → 400 naming the field; an event of an entity
//      the flow does not take → 422;
//   5. stored (crm_bitrix24_events, unique by event, id and ts: a replay is the same row) and answered 200
//      at once; the drain then fetches the entity and merges it in a run (drain.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import type { ConnectorPort, ErrorCode, ExchangeEndpoint, StoredFlow } from '../../../../src/port/index.ts';
import { FormFieldError, parseForm, readEvent, type FormTree } from './form.ts';
import { DEALS_KIND, entityOf, EVENT_FLOW_KINDS, EVENTS_KIND, optionsOf, REST_KIND } from './options.ts';
import { storeEvent } from './store.ts';
import { EventDrain } from './drain.ts';

export const WEBHOOKS_PREFIX = '/exchange/webhooks';
/** An event is a few hundred bytes; a body beyond this is not an event. */
const MAX_BODY_BYTES = 64 * 1024;
const FLOW_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

interface Answer { status: number; text: string; code?: ErrorCode }

function metric(port: ConnectorPort): Counter<'outcome'> | undefined {
  const registry = port.metrics;
  if (!registry) return undefined;
  const name = 'magistral_bitrix24_events_total';
  return (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ?? new Counter({
    name, help: 'Bitrix24 events posted to /exchange/webhooks by outcome', labelNames: ['outcome'] as const, registers: [registry],
  });
}

/** The flow an event is posted to, or the answer refusing it. */
async function flowOf(port: ConnectorPort, name: string): Promise<StoredFlow | Answer> {
  if (FLOW_NAME.test(name)) {
    for (const kind of EVENT_FLOW_KINDS) {
      const flow = (await port.flows(kind)).find((f) => f.name === name);
      if (!flow) continue;
      if (kind === REST_KIND && !optionsOf(flow).tokenEnv) {
        return { status: 409, code: 'MAG_ERR_CONFLICT', text: `flow '${name}' is a ${REST_KIND} flow without tokenEnv, which pulls and takes no events: give it tokenEnv (the application token's variable), or post events to a ${EVENTS_KIND} flow` };
      }
      return flow;
    }
  }
  return { status: 404, code: 'MAG_ERR_FLOW_NOT_FOUND', text: `no Bitrix24 events flow '${name.slice(0, 63)}' (a flow of connector ${EVENTS_KIND}, ${DEALS_KIND} or ${REST_KIND} with tokenEnv of that name)` };
}

type Req = FastifyRequest<{ Params: { flow: string } }>;

export async function webhooksPlugin(app: FastifyInstance, port: ConnectorPort): Promise<void> {
  const events = metric(port);
  const drain = new EventDrain(port);
  app.addHook('onReady', async () => drain.start());
  app.addHook('onClose', async () => drain.stop());

  // The form is read here as text (the server has no form parser; an event is small).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.post('/:flow', { bodyLimit: MAX_BODY_BYTES }, async (request: Req, reply: FastifyReply) => {
    const name = request.params.flow;
    const done = (a: Answer, outcome: string): FastifyReply => {
      events?.inc({ outcome });
      if (a.status >= 400) request.log.info({ flow: name, status: a.status, code: a.code, reason: a.text }, 'Bitrix24 event refused');
      reply.code(a.status).header('cache-control', 'no-store');
      if (a.code) reply.header('x-magistral-error-code', a.code);
      return reply.type('text/plain; charset=utf-8').send(`${a.text}\n`);
    };
    // An address that failed too often is refused unchecked (429, Retry-After) until its lock ends.
    const wait = port.logins.retryAfterSeconds('bitrix24', request.ip);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      return done({ status: 429, code: 'MAG_ERR_TOO_MANY_FAILURES', text: `too many failed logins from this address: retry after ${wait} s; nothing was stored` }, 'throttled');
    }
    const flow = await flowOf(port, name);
    if ('status' in flow) return done(flow, flow.status === 409 ? 'not-events-flow' : 'unknown-flow');
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      return done({ status: 415, code: 'MAG_ERR_BAD_REQUEST', text: `a Bitrix24 event is application/x-www-form-urlencoded, not ${type || 'a body without content type'}` }, 'unsupported-media');
    }
    let tree: FormTree;
    try {
      tree = parseForm(typeof request.body === 'string' ? request.body : '');
    } catch (e) {
      if (!(e instanceof FormFieldError)) throw e;
      return done({ status: 400, code: 'MAG_ERR_BAD_REQUEST', text: `malformed event body: ${e.message}; nothing was stored` }, 'malformed');
    }
    // The token before anything else of the event: a caller without it learns nothing about the fields.
    const tokenEnv = optionsOf(flow).tokenEnv;
    const auth = tree.auth;
    const given = typeof auth === 'object' && typeof auth.application_token === 'string' ? auth.application_token : '';
    // The token stored with `magistral secrets set` (rotated without a restart) wins over the environment.
    const check = tokenEnv ? await port.secrets.check(tokenEnv, given) : 'unset';
    if (check === 'unset') {
      request.log.error({ flow: name, tokenEnv }, `Bitrix24 events flow has no application token: set the environment variable ${tokenEnv ?? '(tokenEnv of the flow)'} or \`magistral secrets set ${tokenEnv ?? 'NAME'}\``);
    }
    if (check !== 'ok' || !given) {
      if (given) port.logins.failed('bitrix24', request.ip);
      return done({ status: 401, code: 'MAG_ERR_UNAUTHORIZED', text: given ? 'auth[application_token] does not match the flow\'s token; nothing was stored' : 'auth[application_token] is missing; nothing was stored' }, 'unauthorized');
    }
    port.logins.succeeded('bitrix24', request.ip);
    let event;
    try {
      event = readEvent(tree);
    } catch (e) {
      if (!(e instanceof FormFieldError)) throw e;
      return done({ status: 400, code: 'MAG_ERR_BAD_REQUEST', text: `malformed event: ${e.message}; nothing was stored` }, 'malformed');
    }
    const takes = entityOf(flow);
    if (event.entity !== takes) {
      return done({
        status: 422, code: 'MAG_ERR_BAD_REQUEST',
        text: `flow '${name}' takes ${takes ? `${takes} events` : 'no events (its target has no Bitrix24 entity)'}, not ${event.event}: bind ${event.event} to the flow of that entity; nothing was stored`,
      }, 'wrong-entity');
    }
    const stored = await storeEvent(port, flow.name, event);
    request.log.info({ flow: name, event: event.event, id: event.id, ts: event.ts, domain: event.domain, row: stored.id, fresh: stored.fresh }, 'Bitrix24 event received');
    if (stored.fresh) drain.poke(flow.name, optionsOf(flow).gatherMs);
    return done({ status: 200, text: stored.fresh ? `stored ${event.event} ${event.id} (event ${stored.id})` : `already stored ${event.event} ${event.id} at ${event.ts} (event ${stored.id}); not fetched again` }, stored.fresh ? 'stored' : 'replayed');
  });
}

export const webhooksExchange: ExchangeEndpoint = { prefix: WEBHOOKS_PREFIX, plugin: webhooksPlugin };
