// The manager's own "work as client" history: each session (client, contact, legal entity, from where,
// when, how it ended) with every action taken in it, from the append-only audit log.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { auditTrail } from '../../backoffice/audit.ts';
import { listImpersonations, type ImpersonationSummary } from '../../backoffice/impersonation.ts';
import { sendPage } from '../render.tsx';
import { AuditTable, dateTime } from './audit-view.tsx';
import { ManagerLayout } from './layout.tsx';
import { requireManager } from './request.ts';

const STATES: Record<ImpersonationSummary['state'], string> = {
  active: 'идёт сейчас', logout: 'выход из кабинета', expired: 'истекли 30 минут', ended: 'завершён', replaced: 'начат новый сеанс',
};

const PAGE = 20;

export async function managerImpersonationRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get('/impersonations', async (request, reply) => {
    const s = requireManager(request);
    const before = (request.query as { before?: string }).before;
    const list = await listImpersonations(deps.db, s.manager.id, { limit: PAGE + 1, ...(before && /^\d{1,15}$/.test(before) ? { beforeId: Number(before) } : {}) });
    const more = list.length > PAGE;
    const shown = more ? list.slice(0, PAGE) : list;
    // Each session's actions (its audit entries, at most 100 per session on this page).
    const actions = await Promise.all(shown.map((i) => auditTrail(deps.db, { impersonationId: i.id }, 100)));
    return sendPage(reply, (
      <ManagerLayout s={s} title="Работа за клиента" active="impersonations">
        <h1>Работа как клиент: история</h1>
        <p class="hint">Ваши сеансы работы в кабинете клиентов и всё, что в них сделано. Журнал только дополняется: записи нельзя изменить или удалить.</p>
        {!shown.length ? <p class="empty">Вы ещё не работали как клиент. Начать можно на странице клиента.</p> : shown.map((i, n) => (
          <section class="card impersonation" data-impersonation={String(i.id)}>
            <h2><a href={`/manager/clients/${i.clientId}`}>{i.clientName}</a> — от имени {i.contactName}{i.legalEntityName ? `, ${i.legalEntityName}` : ''}</h2>
            <dl class="requisites">
              <dt>Начат</dt><dd>{dateTime(i.startedAt)}{i.ip ? ` с адреса ${i.ip}` : ''}</dd>
              <dt>Окончен</dt><dd class="imp-state" data-state={i.state}>{i.state === 'active' ? `идёт, до ${dateTime(i.expiresAt)}` : `${dateTime(i.endedAt ?? i.expiresAt)} — ${STATES[i.state]}`}</dd>
            </dl>
            <AuditTable rows={actions[n]!} showActor={false} empty="Действий нет." />
          </section>
        ))}
        {more && <p><a class="button" href={`/manager/impersonations?before=${shown[shown.length - 1]!.id}`}>Показать ещё</a></p>}
      </ManagerLayout>
    ));
  });
}
