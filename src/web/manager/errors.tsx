// Errors of /manager routes in Russian, on the page or (htmx) in #flash: the same rules as the cabinet's
// (src/web/cabinet/errors.tsx) — a CabinetError's own message, fastify's 4xx translated, anything else a
// generic message with the request id; 401 sends to the sign-in page.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CabinetError } from '../../cabinet/errors.ts';
import { webErrorText } from '../cabinet/errors.tsx';
import { sendFragment, sendPage } from '../render.tsx';
import { ManagerBarePage, ManagerFlash, ManagerLayout } from './layout.tsx';
import { isHtmx } from './request.ts';

export async function managerError(error: FastifyError | CabinetError, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { status, text, retryAfter } = webErrorText(error, request, `Что-то пошло не так. Повторите действие позже; если ошибка повторится, сообщите администратору код ${request.id}.`);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  if (status === 401) {
    const next = request.method === 'GET' ? request.url : '/manager';
    const to = `/manager/login?next=${encodeURIComponent(next)}${request.managerExpired ? '&expired=1' : ''}`;
    if (isHtmx(request)) return reply.header('hx-redirect', to).code(200).send('');
    if (request.method === 'GET') return reply.redirect(to, 303);
  }
  if (isHtmx(request)) return sendFragment(reply.header('hx-reswap', 'none'), <ManagerFlash kind="error" oob>{text}</ManagerFlash>, 200);
  const s = request.managerSession;
  if (!s) return sendPage(reply, <ManagerBarePage title="Ошибка"><div class="flash flash-error" role="alert">{text}</div><p><a href="/manager/login">Вход</a></p></ManagerBarePage>, status);
  return sendPage(reply, (
    <ManagerLayout s={s} title={status === 404 ? 'Не найдено' : 'Ошибка'} flash={{ kind: 'error', text }}>
      <p class="error-links"><a href="/manager">К списку клиентов</a></p>
    </ManagerLayout>
  ), status);
}
