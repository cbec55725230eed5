// Reconciliation acts asked of the ERP (a flow with `target: reconciliationActs`): the ERP builds the act
// itself and the buyer gets the ERP's own PDF, next to the one the portal generates from settlements
// (reconciliation.ts). As the outbound queue of orders (src/pipeline/outbound.ts): PostgreSQL holds the
// truth (act_requests, one row per request), a BullMQ job per request (queue `acts`, job id from the row's
// id, the flow's `retry`) is only the nudge, and the workers' sweep re-adds the job of a pending request
// whose job vanished (Redis restarted). On success the PDF is stored and, in the same transaction, the
// request is marked done and the buyer's 'document-new' e-mail written; a refusal that retrying cannot
// cure fails the request with the technical reason (English, for on-call) and the buyer's (Russian).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { isMagistralError, MagistralError, RetryableError, type ErrorCode } from '../errors/index.ts';
import type { PipelineDeps } from '../pipeline/deps.ts';
import type { Flow } from '../pipeline/flows.ts';
import { installationId } from '../pipeline/installation.ts';
import type { ActRequest, DocumentRequestCapability } from '../port/connector.ts';
import { storeFile } from './files.ts';
import { notify } from './notify.ts';
import { jobOptions } from '../pipeline/jobs.ts';

type Db = Kysely<Database>;

export const ACTS_TARGET = 'reconciliationActs';

export const actJobId = (requestId: number): string => `act-${requestId}`;

/** How long a pending request's job is looked for by the sweep: an older one has waited long enough to be re-asked by the buyer. */
const SWEEP_LOOKBACK_DAYS = 7;
const SWEEP_LIMIT = 200;

export type ActRequestState = 'pending' | 'done' | 'failed';

export interface ActRequestView {
  id: number;
  legalEntityId: number;
  legalEntityName: string;
  clientId: number;
  agreementCode: string | null;
  agreementName: string | null;
  from: string;
  to: string;
  state: ActRequestState;
  attempts: number;
  /** Why it failed, in the buyer's words (Russian). */
  reason: string | null;
  /** Why it failed, technically (English, for on-call). */
  lastError: string | null;
  lastErrorCode: string | null;
  number: string | null;
  actDate: string | null;
  sha256: string | null;
  flow: string;
  contactId: number | null;
  managerId: number | null;
  createdAt: Date;
  doneAt: Date | null;
}

/** The cabinet refuses a request it cannot place (no act flow for the legal entity): its Russian text. */
export class ActsUnavailable extends MagistralError {
  constructor(message: string, readonly russian: string) {
    super('MAG_ERR_CONFLICT', message);
    this.name = 'ActsUnavailable';
  }
}

interface FlowRow { id: number; name: string; definition: Flow; matches: boolean }

/**
 * The act flow that serves a legal entity: the active (not paused) `reconciliationActs` flow whose system
 * the legal entity has an external id in (its ERP knows it), else the only active one; none (or several,
 * none of them its ERP's) → undefined: the feature is off for it.
 */
export async function actFlowFor(db: Db, legalEntityId: number): Promise<{ id: number; name: string; definition: Flow } | undefined> {
  const rows = (await sql<FlowRow>`
    SELECT f.id, f.name, f.definition, EXISTS (
      SELECT 1 FROM external_ids x WHERE x.entity = 'legalEntity' AND x.internal_id = ${legalEntityId}
        AND x.system = coalesce(f.definition->'source'->>'system', 'local')) AS matches
    FROM flows f WHERE f.definition->>'target' = ${ACTS_TARGET} AND NOT f.paused ORDER BY f.id`.execute(db)).rows;
  const f = rows.find((r) => r.matches) ?? (rows.length === 1 ? rows[0] : undefined);
  return f && { id: Number(f.id), name: f.name, definition: f.definition };
}

/** Whether any act flow is active: the cabinet offers «Запросить акт из 1С» only then. */
export async function actsEnabled(db: Db): Promise<boolean> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM flows WHERE definition->>'target' = ${ACTS_TARGET} AND NOT paused`.execute(db);
  return (r.rows[0]?.n ?? 0) > 0;
}

async function addJob(deps: Pick<PipelineDeps, 'db' | 'queues'>, requestId: number, flow: Flow): Promise<boolean> {
  const jobId = actJobId(requestId);
  const existing = await deps.queues.acts.getJob(jobId);
  if (existing) {
    const state = await existing.getState();
    // A finished job of a request still pending (a crash between the answer and its record, a job whose
    // flow was paused and resumed): replaced. A waiting or running one is the nudge already.
    if (state !== 'completed' && state !== 'failed') return false;
    await existing.remove().catch(() => {});
  }
  await deps.queues.acts.add('act', { requestId, installation: await installationId(deps.db) }, jobOptions(flow, jobId));
  return true;
}

export interface NewActRequest {
  legalEntityId: number;
  agreementId: number | null;
  from: string;
  to: string;
  /** Who asked (the contact of the session). */
  contactId: number | null;
  /** A manager working as the client (impersonation). */
  managerId: number | null;
}

/**
 * Places a request (or answers the pending one for the same legal entity, agreement and period) and
 * queues its job. Redis down: the request is recorded anyway and the workers' sweep queues it.
 */
export async function placeActRequest(deps: Pick<PipelineDeps, 'db' | 'queues' | 'log'>, r: NewActRequest): Promise<{ request: ActRequestView; created: boolean }> {
  const flow = await actFlowFor(deps.db, r.legalEntityId);
  if (!flow) {
    throw new ActsUnavailable(`no active reconciliationActs flow serves legal entity ${r.legalEntityId}`, 'Запрос акта сверки из 1С сейчас недоступен. Скачайте акт, сформированный порталом, или обратитесь к менеджеру.');
  }
  const inserted = (await sql<{ id: string }>`
    INSERT INTO act_requests (legal_entity_id, agreement_id, period_from, period_to, contact_id, manager_id, flow_id)
    VALUES (${r.legalEntityId}, ${r.agreementId}, ${r.from}::date, ${r.to}::date, ${r.contactId}, ${r.managerId}, ${flow.id})
    ON CONFLICT (legal_entity_id, (coalesce(agreement_id, 0)), period_from, period_to) WHERE state = 'pending' DO NOTHING
    RETURNING id::text`.execute(deps.db)).rows[0];
  const id = inserted ? Number(inserted.id) : Number((await sql<{ id: string }>`
    SELECT id::text FROM act_requests WHERE legal_entity_id = ${r.legalEntityId} AND coalesce(agreement_id, 0) = ${r.agreementId ?? 0}
      AND period_from = ${r.from}::date AND period_to = ${r.to}::date AND state = 'pending'`.execute(deps.db)).rows[0]?.id);
  if (!Number.isFinite(id)) throw new Error('act request vanished between its insert and its read');
  await addJob(deps, id, flow.definition).catch((e: unknown) => deps.log.warn({ request: id, err: (e as Error).message }, 'act request not queued; the sweep will'));
  return { request: (await actRequestById(deps.db, id))!, created: !!inserted };
}

/**
 * Queues the job of every pending request of an active act flow whose job is gone (workers' sweep).
 * Answers how many were added.
 */
export async function enqueuePendingActs(deps: Pick<PipelineDeps, 'db' | 'queues'>): Promise<number> {
  const rows = (await sql<{ id: string; definition: Flow }>`
    SELECT r.id::text, f.definition FROM act_requests r JOIN flows f ON f.id = r.flow_id
    WHERE r.state = 'pending' AND NOT f.paused AND r.created_at > now() - make_interval(days => ${SWEEP_LOOKBACK_DAYS})
    ORDER BY r.id LIMIT ${SWEEP_LIMIT}`.execute(deps.db)).rows;
  let added = 0;
  for (const r of rows) if (await addJob(deps, Number(r.id), r.definition)) added++;
  return added;
}

/** The buyer's words for a failure, by the error's code (the connector's codes: see DocumentRequestCapability). */
export function buyerReason(code: ErrorCode | 'none'): string {
  switch (code) {
    case 'MAG_ERR_NOT_FOUND': return '1С не нашла ваше юрлицо или договор. Обратитесь к менеджеру.';
    case 'MAG_ERR_UNAUTHORIZED': return 'Портал не смог подключиться к 1С (ошибка настройки обмена). Обратитесь к менеджеру.';
    case 'MAG_ERR_PAYLOAD_TOO_LARGE': return 'Акт из 1С слишком большой, чтобы передать его через портал. Обратитесь к менеджеру.';
    case 'MAG_ERR_SEND_REFUSED': return '1С не выдала акт в формате PDF. Обратитесь к менеджеру.';
    case 'MAG_ERR_CONNECTOR_UNKNOWN': case 'MAG_ERR_BAD_REQUEST': return 'Запрос акта сверки из 1С сейчас недоступен. Обратитесь к менеджеру.';
    default: return '1С не ответила вовремя. Запросите акт ещё раз позже.';
  }
}

export type ActOutcome = 'done' | 'already' | 'paused' | 'skipped';

const ru = (iso: string): string => iso.split('-').reverse().join('.');

interface WorkRow {
  state: ActRequestState; legal_entity_id: string; agreement_id: string | null; from: string; to: string; contact_id: string | null;
  flow_id: number; flow: string; paused: boolean; definition: Flow;
  name: string; inn: string | null; kpp: string | null; agreement_code: string | null;
}

async function externalIds(db: Db, entity: 'legalEntity' | 'agreement', id: number): Promise<Record<string, string>> {
  const rows = await db.selectFrom('external_ids').select(['system', 'external_id']).where('entity', '=', entity).where('internal_id', '=', id).execute();
  return Object.fromEntries(rows.map((r) => [r.system, r.external_id]));
}

async function recordFailure(db: Db, id: number, final: boolean, attempt: number, code: ErrorCode, message: string): Promise<void> {
  await sql`UPDATE act_requests SET attempts = ${attempt}, last_error = ${message.slice(0, 2000)}, last_error_code = ${code},
      state = ${final ? 'failed' : 'pending'}, reason = ${final ? buyerReason(code) : null}, updated_at = now(), done_at = ${final ? sql`now()` : null}
    WHERE id = ${id} AND state = 'pending'`.execute(db);
}

/**
 * Asks the ERP for one request's act (the `acts` queue's processor calls this) and records the outcome.
 * Throws what the worker reacts to: RetryableError (and unknown errors) to retry with the flow's backoff,
 * any other MagistralError when retrying cannot help (the request is failed at once).
 */
export async function processActRequest(deps: PipelineDeps, requestId: number, attempt: number, attempts: number): Promise<ActOutcome> {
  const row = (await sql<WorkRow>`
    SELECT r.state, r.legal_entity_id::text, r.agreement_id::text, r.period_from::text AS "from", r.period_to::text AS "to", r.contact_id::text,
      f.id AS flow_id, f.name AS flow, f.paused, f.definition, le.name, le.inn, le.kpp, a.code AS agreement_code
    FROM act_requests r JOIN flows f ON f.id = r.flow_id JOIN legal_entities le ON le.id = r.legal_entity_id
    LEFT JOIN agreements a ON a.id = r.agreement_id
    WHERE r.id = ${requestId}`.execute(deps.db)).rows[0];
  if (!row) return 'skipped';
  if (row.state !== 'pending') return 'already';
  if (row.paused) return 'paused';
  const log = deps.log.child({ flow: row.flow, actRequest: requestId });
  const fail = async (e: unknown): Promise<never> => {
    const permanent = isMagistralError(e) && !(e instanceof RetryableError);
    const final = permanent || attempt >= attempts;
    const code: ErrorCode = isMagistralError(e) ? e.code : 'MAG_ERR_RETRYABLE';
    const message = (e as Error).message;
    await recordFailure(deps.db, requestId, final, attempt, code, message);
    log.warn({ attempt, attempts, code, err: message }, final ? 'act request failed for good' : 'act request failed; will retry');
    throw e;
  };
  const kind = row.definition.source.connector;
  const connector = deps.registry.connector(kind);
  if (!connector) return fail(new MagistralError('MAG_ERR_CONNECTOR_UNKNOWN', `flow ${row.flow}: connector '${kind}' is not available in this process`));
  if (!connector.documents) return fail(new MagistralError('MAG_ERR_BAD_REQUEST', `flow ${row.flow}: connector '${kind}' cannot request reconciliation acts`));
  const documents: DocumentRequestCapability = connector.documents;
  await sql`UPDATE act_requests SET attempts = ${attempt}, updated_at = now() WHERE id = ${requestId}`.execute(deps.db);

  const leId = Number(row.legal_entity_id);
  const req: ActRequest = {
    id: requestId,
    legalEntity: { name: row.name, inn: row.inn, kpp: row.kpp, externalIds: await externalIds(deps.db, 'legalEntity', leId) },
    from: row.from, to: row.to,
  };
  if (row.agreement_id !== null && row.agreement_code !== null) {
    req.agreement = { code: row.agreement_code, externalIds: await externalIds(deps.db, 'agreement', Number(row.agreement_id)) };
  }
  let answer;
  try {
    answer = await documents.requestAct(req, {
      flow: row.flow, options: (row.definition.source.options ?? {}) as Record<string, unknown>, env: process.env, log, sql: deps.pool,
      system: row.definition.source.system ?? 'local', attempt,
    });
  } catch (e) {
    return fail(e);
  }

  const fileName = `Акт сверки ${row.name} ${ru(row.from)}–${ru(row.to)}.pdf`;
  await deps.db.transaction().execute(async (trx) => {
    const file = await storeFile(trx, deps.config.MAGISTRAL_DATA_DIR, answer.content, 'application/pdf');
    const done = (await sql<{ id: string }>`
      UPDATE act_requests SET state = 'done', attempts = ${attempt}, sha256 = ${file.sha256}, number = ${answer.number ?? null},
        act_date = ${answer.date ?? null}::date, last_error = NULL, last_error_code = NULL, reason = NULL, done_at = now(), updated_at = now()
      WHERE id = ${requestId} AND state = 'pending' RETURNING id::text`.execute(trx)).rows[0];
    // Told once, with the act attached, only when this call made it done (a repeated job writes nothing).
    if (done && row.contact_id !== null) {
      await notify(trx, {
        kind: 'document-new', to: { contactId: Number(row.contact_id) },
        subject: `Акт сверки ${row.name} за ${ru(row.from)}–${ru(row.to)} из 1С готов`,
        text: `Здравствуйте!\n\nАкт сверки взаиморасчётов ${row.name} за период с ${ru(row.from)} по ${ru(row.to)}${answer.number ? ` № ${answer.number}` : ''}, сформированный учётной системой поставщика, во вложении.\nОн также в личном кабинете: раздел «Баланс и взаиморасчёты», список «Запрошенные акты».\n`,
        attachments: [{ sha256: file.sha256, fileName, contentType: 'application/pdf' }],
        dedupeKey: `act-request:${requestId}`,
      });
    }
  });
  log.info({ attempt, bytes: answer.content.byteLength, number: answer.number }, 'reconciliation act received');
  return 'done';
}

const VIEW = sql`
  SELECT r.id::int, r.legal_entity_id::int AS "legalEntityId", le.name AS "legalEntityName", le.client_id::int AS "clientId",
    a.code AS "agreementCode", a.name AS "agreementName", r.period_from::text AS "from", r.period_to::text AS "to", r.state, r.attempts,
    r.reason, r.last_error AS "lastError", r.last_error_code AS "lastErrorCode", r.number, r.act_date::text AS "actDate", r.sha256,
    f.name AS flow, r.contact_id::int AS "contactId", r.manager_id AS "managerId", r.created_at AS "createdAt", r.done_at AS "doneAt"
  FROM act_requests r JOIN legal_entities le ON le.id = r.legal_entity_id JOIN flows f ON f.id = r.flow_id
  LEFT JOIN agreements a ON a.id = r.agreement_id`;

export async function actRequestById(db: Db, id: number): Promise<ActRequestView | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return (await sql<ActRequestView>`${VIEW} WHERE r.id = ${id}`.execute(db)).rows[0];
}

/** The requests of some legal entities, newest first (the cabinet's list). */
export async function actRequestsOf(db: Db, legalEntityIds: readonly number[], limit = 20): Promise<ActRequestView[]> {
  if (!legalEntityIds.length) return [];
  return (await sql<ActRequestView>`${VIEW} WHERE r.legal_entity_id = ANY(${legalEntityIds.map(Number)}::bigint[]) ORDER BY r.id DESC LIMIT ${limit}`.execute(db)).rows;
}

/** Every request, newest first, optionally of one state (admin API: on-call sees the failures). */
export async function listActRequests(db: Db, opts: { state?: ActRequestState; limit?: number } = {}): Promise<ActRequestView[]> {
  const limit = Math.min(500, Math.max(1, opts.limit ?? 100));
  const where = opts.state ? sql`WHERE r.state = ${opts.state}` : sql``;
  return (await sql<ActRequestView>`${VIEW} ${where} ORDER BY r.id DESC LIMIT ${limit}`.execute(db)).rows;
}
