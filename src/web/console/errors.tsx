// Errors of /console routes in Russian, on the page or (htmx) in #flash: the rules of the cabinet's and the
// workplace's (webErrorText); 401 sends to the sign-in page.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CabinetError } from '../../cabinet/errors.ts';
import { webErrorText } from '../cabinet/errors.tsx';
import { sendFragment, sendPage } from '../render.tsx';
import { ConsoleBarePage, ConsoleFlash, ConsoleLayout } from './layout.tsx';
import { isHtmx } from './request.ts';

export async function consoleError(error: FastifyError | CabinetError, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { status, text, retryAfter } = webErrorText(error, request, `Что-то пошло не так. Повторите действие позже; если ошибка повторится, сообщите разработчикам код ${request.id}.`);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  // htmx is answered 200 (it swaps no error response): the audit entry reads the real status from here.
  request.consoleErrorStatus = status;
  if (status === 401) {
    const next = request.method === 'GET' ? request.url : '/console';
    const to = `/console/login?next=${encodeURIComponent(next)}${request.consoleExpired ? '&expired=1' : ''}`;
    if (isHtmx(request)) return reply.header('hx-redirect', to).code(200).send('');
    if (request.method === 'GET') return reply.redirect(to, 303);
  }
  if (isHtmx(request)) return sendFragment(reply.header('hx-reswap', 'none'), <ConsoleFlash kind="error" oob>{text}</ConsoleFlash>, 200);
  const s = request.consoleSession;
  if (!s) return sendPage(reply, <ConsoleBarePage title="Ошибка"><div class="flash flash-error" role="alert">{text}</div><p><a href="/console/login">Вход</a></p></ConsoleBarePage>, status);
  return sendPage(reply, (
    <ConsoleLayout s={s} title={status === 404 ? 'Не найдено' : 'Ошибка'} flash={{ kind: 'error', text }}>
      <p class="error-links"><a href="/console/flows">К списку потоков</a></p>
    </ConsoleLayout>
  ), status);
}
