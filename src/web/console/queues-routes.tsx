// /console/queues: each queue's depth (waiting, active, delayed, failed), the workers connected and the age
// of the oldest waiting job; job detail is bull-board's (/admin/queues, behind the admin token). The table
// refreshes itself every 10 s (htmx) while the page is open.
import type { FastifyInstance } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { queueOverview, type QueueRow } from '../../console/queues.ts';
import { DASHBOARD_PATH } from '../../api/queue-dashboard.ts';
import { isDependencyUnavailable } from '../../db/availability.ts';
import { sendFragment, sendPage } from '../render.tsx';
import { ConsoleLayout } from './layout.tsx';
import { isHtmx, requireConsole } from './request.ts';
import { ago, count } from './format.ts';

const ROLE: Readonly<Record<string, string>> = {
  extract: 'разбор принятых файлов', merge: 'запись в хранилище', outbound: 'отправка заказов в ERP и CRM', acts: 'запросы актов сверки',
};

/** Waiting longer than this with no worker taking it reads as stuck (a run's extract takes seconds). */
const STUCK_AFTER_MS = 5 * 60_000;

function QueuesTable({ rows, at }: { rows: QueueRow[]; at: Date }): VNode {
  return (
    <div id="queues" hx-get="/console/queues" hx-trigger="every 10s" hx-select="#queues" hx-swap="outerHTML">
      <table class="grid queues">
        <thead><tr>
          <th>Очередь</th><th class="num">Ждут</th><th class="num">В работе</th><th class="num">Отложены</th><th class="num">С ошибкой</th>
          <th class="num">Обработчиков</th><th>Самое старое ожидающее</th><th>Задания</th>
        </tr></thead>
        <tbody>
          {rows.map((q) => {
            const stuck = q.oldestWaitingAt !== null && at.getTime() - q.oldestWaitingAt.getTime() > STUCK_AFTER_MS;
            return (
              <tr data-queue={q.name}>
                <td><b>{q.name}</b><div class="muted">{ROLE[q.name] ?? ''}</div></td>
                <td class="num">{count(q.waiting)}</td>
                <td class="num">{count(q.active)}</td>
                <td class="num">{count(q.delayed)}</td>
                <td class="num">{q.failed ? <span class="badge badge-error">{count(q.failed)}</span> : '0'}</td>
                <td class="num">{q.workers ? count(q.workers) : <span class="badge badge-error">нет</span>}</td>
                <td>{q.oldestWaitingAt ? <span class={stuck ? 'badge badge-error' : undefined}>ждёт {ago(q.oldestWaitingAt, at.getTime()).replace(' назад', '')}</span> : <span class="muted">никто не ждёт</span>}</td>
                <td><a href={`${DASHBOARD_PATH}/queue/${encodeURIComponent(q.name)}`}>подробно</a></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="muted">Обновлено {at.toLocaleTimeString('ru-RU', { timeZone: 'Europe/Moscow' })}, таблица обновляется каждые 10 секунд.</p>
    </div>
  );
}

export async function consoleQueuesRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get('/queues', async (request, reply) => {
    const s = requireConsole(request);
    let rows: QueueRow[] | null = null;
    try {
      rows = await queueOverview(deps.queues);
    } catch (e) {
      if (!isDependencyUnavailable(e) && !/Redis/.test((e as Error).message)) throw e;
      request.log.warn({ err: (e as Error).message }, 'console queues: Redis did not answer');
    }
    const at = new Date();
    if (isHtmx(request) && rows) return sendFragment(reply, <QueuesTable rows={rows} at={at} />);
    return sendPage(reply, (
      <ConsoleLayout s={s} title="Очереди" active="queues">
        <h1>Очереди и обработчики</h1>
        <p class="muted">
          Те же числа, что в /metrics (magistral_queue_jobs). Задания по отдельности, их ошибки и повтор — в панели очередей
          {' '}<a href={DASHBOARD_PATH}>{DASHBOARD_PATH}</a> (вход по токену администратора).
        </p>
        {rows ? <QueuesTable rows={rows} at={at} /> : <div class="flash flash-error" role="alert">Redis не отвечает: состояние очередей сейчас неизвестно. Проверьте /readyz.</div>}
      </ConsoleLayout>
    ), rows ? 200 : 503);
  });
}
