// Errors of cabinet routes, in Russian, on the page (or, for htmx, swapped into #flash), never a stack
// trace: a CabinetError's own message, fastify's and multipart's limits translated, anything else a
// generic message with the request id the manager can look up in the logs.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CabinetError } from '../../cabinet/errors.ts';
import { russianOf } from '../../backoffice/rights.ts';
import { sendFragment, sendPage } from '../render.tsx';
import { BarePage, Flash, Layout } from './layout.tsx';
import { isHtmx } from './request.ts';
import { isDependencyUnavailable } from '../../db/availability.ts';
import { UNAVAILABLE_RETRY_AFTER_S } from '../../api/error-handler.ts';

/** The largest upload (quick order, filled price list): a bigger file (the 50 MB one) is refused with a message. */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

const MESSAGES: Record<number, string> = {
  400: 'Запрос не понят. Проверьте введённые данные.',
  403: 'Доступ запрещён.',
  404: 'Страница не найдена.',
  413: 'Файл слишком большой.',
  415: 'Такой формат не поддерживается.',
  429: 'Слишком много запросов. Повторите чуть позже.',
};

/** The buyer's own mistake as a CabinetError (its Russian message), or undefined for anything else. */
export function buyerError(error: unknown): CabinetError | undefined {
  if (error instanceof CabinetError) return error;
  // The back office's refusals (rights, credit, approvals) carry the buyer's words and their status.
  const ru = russianOf(error);
  if (ru) return new CabinetError((error as { statusCode: number }).statusCode, ru);
  const e = error as Partial<FastifyError>;
  if (e.code === 'FST_REQ_FILE_TOO_LARGE' || e.code === 'FST_FILES_LIMIT' || e.statusCode === 413) {
    return new CabinetError(413, `Файл слишком большой: можно загрузить не больше ${Math.round(MAX_UPLOAD_BYTES / 1024 / 1024)} МБ.`, 'file');
  }
  return undefined;
}

/**
 * The status and Russian text of an error on a page (the cabinet's and the workplace's): a CabinetError's
 * own message, fastify's 4xx translated, anything else logged and shown as `unexpected` with status 500.
 */
export function webErrorText(error: FastifyError | CabinetError, request: FastifyRequest, unexpected: string): { status: number; text: string; retryAfter?: number } {
  const known = buyerError(error);
  if (known) return { status: known.status, text: known.message };
  // The database out of reach (a restart takes seconds, test/faults): an outage to wait out, not a fault.
  if (isDependencyUnavailable(error)) {
    request.log.warn({ err: (error as Error).message }, 'page request: a dependency is unavailable');
    return { status: 503, retryAfter: UNAVAILABLE_RETRY_AFTER_S, text: `Сервис временно недоступен: база данных перезапускается. Повторите действие через ${UNAVAILABLE_RETRY_AFTER_S} секунд.` };
  }
  if (!(error instanceof CabinetError) && error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, text: MESSAGES[error.statusCode] ?? MESSAGES[400]! };
  }
  request.log.error({ err: error }, 'page request failed');
  return { status: 500, text: unexpected };
}

/** Renders any error of a cabinet route in Russian: the page (or, for htmx, a fragment in #flash), never a stack trace. */
export async function cabinetError(error: FastifyError | CabinetError, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { status, text, retryAfter } = webErrorText(error, request, `Что-то пошло не так, мы уже разбираемся. Повторите действие позже; если ошибка повторится, сообщите менеджеру код ${request.id}.`);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  // An anonymous visitor (or an expired session) asked for a page of signed-in contacts: sign in first.
  if (status === 401) {
    const next = request.method === 'GET' ? request.url : (request.headers.referer ? new URL(request.headers.referer, 'http://x').pathname : '/cabinet');
    const to = `/cabinet/login?next=${encodeURIComponent(next)}${request.cabinetExpired ? '&expired=1' : ''}`;
    if (isHtmx(request)) return reply.header('hx-redirect', to).code(200).send('');
    if (request.method === 'GET') return reply.redirect(to, 303);
  }
  if (isHtmx(request)) {
    // htmx does not swap error responses by default: answer 200 with the message swapped into #flash.
    return sendFragment(reply.header('hx-reswap', 'none'), <Flash kind="error" oob>{text}</Flash>, 200);
  }
  const ctx = request.cabinet;
  if (!ctx) {
    return sendPage(reply, <BarePage title="Ошибка"><div class="flash flash-error" role="alert">{text}</div><p><a href="/cabinet">На главную</a></p></BarePage>, status);
  }
  return sendPage(reply, (
    <Layout ctx={ctx} cart={request.cabinetCart ?? null} title={status === 404 ? 'Не найдено' : 'Ошибка'} flash={{ kind: 'error', text }}>
      <p class="error-links"><a href="/cabinet/catalog">В каталог</a>{ctx.contact && <> · <a href="/cabinet/orders">К заказам</a></>}</p>
    </Layout>
  ), status);
}
