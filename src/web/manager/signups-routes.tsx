// Sign-ups of new wholesale buyers waiting for a manager: those of the manager's cities (or all), with
// «Одобрить» (the client becomes this manager's and may order) and «Отклонить» (a reason the applicant
// receives). Decisions are audited.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { decideSignupAsManager, listPendingSignups } from '../../backoffice/manager-clients.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { sendPage } from '../render.tsx';
import { dateTime } from './audit-view.tsx';
import { ManagerCsrf, ManagerLayout } from './layout.tsx';
import { field, idParam, requireManager } from './request.ts';

async function signupsPage(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, o: { flash?: { kind: 'ok' | 'error' | 'info'; text: string }; status?: number } = {}): Promise<FastifyReply> {
  const s = requireManager(request);
  const q = request.query as { scope?: string; done?: string };
  const scope = q.scope === 'all' ? 'all' : 'mine';
  const rows = await listPendingSignups(deps.db, s.manager.id, scope);
  const flash = o.flash ?? (q.done === 'approved' ? { kind: 'ok' as const, text: 'Заявка одобрена: клиент закреплён за вами и может оформлять заказы; заявитель получит письмо.' }
    : q.done === 'rejected' ? { kind: 'ok' as const, text: 'Заявка отклонена; заявитель получит письмо с причиной.' } : null);
  return sendPage(reply, (
    <ManagerLayout s={s} title="Заявки на регистрацию" active="signups" flash={flash}>
      <h1>Заявки на регистрацию</h1>
      <p class="tabs">
        {scope === 'mine' ? <b>Мои города</b> : <a href="/manager/signups">Мои города</a>} · {scope === 'all' ? <b>Все заявки</b> : <a href="/manager/signups?scope=all">Все заявки</a>}
      </p>
      <p class="hint">«Мои города» — заявки из городов, где у вас есть клиенты, и заявки без города. Одобренный клиент закрепляется за вами.</p>
      {!rows.length ? <p class="empty">{scope === 'mine' ? 'Новых заявок из ваших городов нет.' : 'Новых заявок нет.'}</p> : (
        <table class="grid signups">
          <thead><tr><th>№</th><th>Компания</th><th>Контакт</th><th>Город</th><th>Подана</th><th>Решение</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr data-signup={String(r.id)}>
                <td>{r.id}</td>
                <td>{r.company}<div><small class="muted">ИНН {r.inn}{r.kpp ? `, КПП ${r.kpp}` : ''}</small></div></td>
                <td>{r.contactName}<div><small><a href={`mailto:${r.email}`}>{r.email}</a>{r.phone ? `, ${r.phone}` : ''}</small></div></td>
                <td>{r.city ?? '—'}</td>
                <td>{dateTime(r.createdAt)}</td>
                <td class="decide">
                  <form method="post" action={`/manager/signups/${r.id}/approve`}><ManagerCsrf s={s} /><button type="submit" class="primary">Одобрить</button></form>
                  <form method="post" action={`/manager/signups/${r.id}/reject`} class="reject-form">
                    <ManagerCsrf s={s} />
                    <input name="reason" placeholder="Причина отказа" aria-label={`Причина отказа по заявке ${r.id}`} maxLength={1000} />
                    <button type="submit" class="danger">Отклонить</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </ManagerLayout>
  ), o.status ?? 200);
}

export async function managerSignupRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get('/signups', async (request, reply) => signupsPage(deps, request, reply));

  app.post('/signups/:id/:decision', async (request, reply) => {
    const s = requireManager(request);
    const decision = (request.params as { decision: string }).decision;
    if (decision !== 'approve' && decision !== 'reject') throw new CabinetError(404, 'Страница не найдена.');
    try {
      await decideSignupAsManager(deps.db, { id: s.manager.id, name: s.manager.name }, idParam(request), { approve: decision === 'approve', reason: field(request.body, 'reason') },
        { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
    } catch (e) {
      if (e instanceof CabinetError && e.status !== 403) return signupsPage(deps, request, reply, { flash: { kind: 'error', text: e.message }, status: e.status });
      throw e;
    }
    return reply.redirect(`/manager/signups?done=${decision === 'approve' ? 'approved' : 'rejected'}`, 303);
  });
}
