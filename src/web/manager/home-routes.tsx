// The workplace's first page: the manager's own clients (search by name, INN or code), with how much
// each ordered lately. The client card, orders and sign-ups pages build on it.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ServerDeps } from '../../api/deps.ts';
import { money } from '../render.tsx';
import { sendPage } from '../render.tsx';
import { ManagerLayout } from './layout.tsx';
import { requireManager } from './request.ts';

interface ClientRow {
  id: string;
  code: string;
  name: string;
  city: string | null;
  pending: boolean;
  blocked: boolean;
  inns: string | null;
  orders_30d: number;
  total_30d: string | null;
  last_order_at: Date | null;
}

export async function managerHomeRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  app.get('/', async (request, reply) => {
    const s = requireManager(request);
    const q = String((request.query as { q?: string }).q ?? '').trim().slice(0, 100);
    const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = (await sql<ClientRow>`
      SELECT c.id::text, c.code, c.name, ci.name AS city, c.pending, c.blocked,
        (SELECT string_agg(DISTINCT le.inn, ', ') FROM legal_entities le WHERE le.client_id = c.id AND NOT le.deleted AND le.inn IS NOT NULL) AS inns,
        (SELECT count(*)::int FROM orders o WHERE o.client_id = c.id AND o.created_at > now() - interval '30 days') AS orders_30d,
        (SELECT sum(o.total)::text FROM orders o WHERE o.client_id = c.id AND o.created_at > now() - interval '30 days' AND NOT o.cancelled) AS total_30d,
        (SELECT max(o.created_at) FROM orders o WHERE o.client_id = c.id) AS last_order_at
      FROM clients c LEFT JOIN cities ci ON ci.id = c.city_id
      WHERE c.manager_id = ${s.manager.id} AND NOT c.placeholder
        AND (${q} = '' OR c.name ILIKE ${like} OR c.code ILIKE ${like}
          OR EXISTS (SELECT 1 FROM legal_entities le WHERE le.client_id = c.id AND (le.inn LIKE ${like} OR le.name ILIKE ${like})))
      ORDER BY c.name LIMIT 200`.execute(db)).rows;
    return sendPage(reply, (
      <ManagerLayout s={s} title="Мои клиенты" active="clients">
        <h1>Мои клиенты</h1>
        <form class="inline-form" method="get" action="/manager">
          <input type="search" name="q" value={q} placeholder="Название, ИНН или код клиента" aria-label="Поиск клиента" />
          <button type="submit">Найти</button>
        </form>
        {rows.length === 0 ? <p class="empty">{q ? `Клиентов по запросу «${q}» не найдено.` : 'За вами пока не закреплено ни одного клиента.'}</p> : (
          <table class="grid clients">
            <thead><tr><th>Клиент</th><th>ИНН</th><th>Город</th><th class="num">Заказов за 30 дней</th><th class="num">Сумма за 30 дней</th><th>Последний заказ</th></tr></thead>
            <tbody>
              {rows.map((c) => (
                <tr data-client={c.code}>
                  <td><a href={`/manager/clients/${c.id}`}>{c.name}</a> <small class="muted">{c.code}</small>
                    {c.pending && <span class="badge badge-warn">ждёт подтверждения</span>}{c.blocked && <span class="badge badge-error">заблокирован</span>}</td>
                  <td>{c.inns ?? '—'}</td>
                  <td>{c.city ?? '—'}</td>
                  <td class="num">{c.orders_30d}</td>
                  <td class="num">{money(c.total_30d ?? '0')}</td>
                  <td>{c.last_order_at ? c.last_order_at.toLocaleDateString('ru-RU', { timeZone: 'Europe/Moscow' }) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ManagerLayout>
    ));
  });
}
