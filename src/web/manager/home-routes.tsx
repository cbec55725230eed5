// The workplace's first page: the manager's own clients (search by name, INN or code, paging) with their
// legal entities, how much each ordered lately, the last order, the orders still open, and the debt
// against the credit limit (creditSummaries: one statement for the page).
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { creditSummaries } from '../../backoffice/credit.ts';
import { listManagerClients } from '../../backoffice/manager-clients.ts';
import { money, plural, sendPage } from '../render.tsx';
import { day } from './audit-view.tsx';
import { ManagerLayout } from './layout.tsx';
import { requireManager } from './request.ts';

export async function managerHomeRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  app.get('/', async (request, reply) => {
    const s = requireManager(request);
    const query = request.query as { q?: string; page?: string };
    const q = String(query.q ?? '').trim().slice(0, 100);
    const page = await listManagerClients(db, s.manager.id, { q, page: /^\d{1,6}$/.test(query.page ?? '') ? Number(query.page) : 1 });
    const credit = await creditSummaries(db, page.rows.map((c) => c.id));
    const href = (p: number): string => `/manager?${new URLSearchParams({ ...(q ? { q } : {}), page: String(p) })}`;
    return sendPage(reply, (
      <ManagerLayout s={s} title="Мои клиенты" active="clients">
        <h1>Мои клиенты</h1>
        <form class="inline-form" method="get" action="/manager">
          <input type="search" name="q" value={q} placeholder="Название, ИНН или код клиента" aria-label="Поиск клиента" />
          <button type="submit">Найти</button>
          {q && <a class="button" href="/manager">Сбросить</a>}
        </form>
        {page.rows.length === 0 ? <p class="empty">{q ? `Клиентов по запросу «${q}» не найдено.` : 'За вами пока не закреплено ни одного клиента.'}</p> : (
          <>
            <p class="muted">{page.total} {plural(page.total, 'клиент', 'клиента', 'клиентов')}{q ? ` по запросу «${q}»` : ''}</p>
            <table class="grid clients">
              <thead><tr><th>Клиент</th><th>Город</th><th>Юрлица</th><th class="num">Заказов за 30 дней</th><th>Последний заказ</th><th class="num">Открытых заказов</th><th class="num">Долг / лимит</th></tr></thead>
              <tbody>
                {page.rows.map((c) => (
                  <tr data-client={c.code}>
                    <td><a href={`/manager/clients/${c.id}`}>{c.name}</a> <small class="muted">{c.code}</small>
                      {c.pending && <span class="badge badge-warn">ждёт подтверждения</span>}{c.blocked && <span class="badge badge-error">заблокирован</span>}</td>
                    <td>{c.city ?? '—'}</td>
                    <td>{c.legalEntities.length ? c.legalEntities.join(', ') : <span class="muted">нет</span>}</td>
                    <td class="num">{c.orders30d}</td>
                    <td>{c.lastOrder ? <><a href={`/manager/orders/${encodeURIComponent(c.lastOrder.number)}`}>{c.lastOrder.number}</a> <small class="muted">от {day(c.lastOrder.at)}</small></> : '—'}</td>
                    <td class="num">{c.openOrders ? <a href={`/manager/orders?client=${c.id}`}>{c.openOrders}</a> : 0}</td>
                    <td class="num credit">{(() => {
                      const k = credit.get(c.id);
                      if (!k) return '—';
                      return <>{money(k.debt)} / {k.limit === null ? 'без лимита' : money(k.limit)}
                        {k.overdue !== '0.00' && <div><small class="neg">просрочено {money(k.overdue)}</small></div>}
                        {k.blocked && k.limit !== null && <div><span class="badge badge-error">кредит закрыт</span></div>}</>;
                    })()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {page.pages > 1 && (
              <nav class="pager" aria-label="Страницы">
                {page.page > 1 && <a class="button" href={href(page.page - 1)}>← Назад</a>}
                <span>Страница {page.page} из {page.pages}</span>
                {page.page < page.pages && <a class="button" href={href(page.page + 1)}>Вперёд →</a>}
              </nav>
            )}
          </>
        )}
      </ManagerLayout>
    ));
  });
}
