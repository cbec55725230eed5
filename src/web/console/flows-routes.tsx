// /console/flows: every flow with its state, schedule, last run, rows/s, lag and open rejects; a flow's
// page with its YAML (view, and edit with the checks of `flows apply`), pause/resume, pull now and its
// last 50 runs. Reading needs any role; every action needs operator (config.consoleRole, audited).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { applyFlowYaml, flowDetail, flowsOverview, type FlowDetail, type FlowRow } from '../../console/flows.ts';
import { roleAllows } from '../../console/rights.ts';
import { setFlowPaused } from '../../pipeline/flows.ts';
import { pullFlow, type PullOutcome } from '../../pipeline/poll.ts';
import { pipelineDeps } from '../../api/run-views.ts';
import { isMagistralError, type Problem } from '../../errors/index.ts';
import type { ConsoleSession } from '../../console/sessions.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { plural, sendPage } from '../render.tsx';
import { ConsoleCsrf, ConsoleLayout } from './layout.tsx';
import { requireConsole } from './request.ts';
import { ReadCount } from './run-counts.tsx';
import { ago, count, duration, RUN_STATE, runStateClass, when } from './format.ts';

function scheduleText(f: FlowRow): string {
  const s = f.schedule;
  if (!s) return 'по приходу данных';
  const parts = [];
  if (s.everySeconds) parts.push(`каждые ${duration(s.everySeconds)}`);
  if (s.cron) parts.push(`cron ${s.cron}${s.timezone ? ` (${s.timezone})` : ''}`);
  return parts.join(', ');
}

function StateBadge({ f }: { f: FlowRow }): VNode {
  return f.paused ? <span class="badge badge-warn">приостановлен</span> : <span class="badge badge-ok">активен</span>;
}

function Lag({ f }: { f: FlowRow }): VNode {
  if (f.lagS === null) return <span class={f.late ? 'badge badge-error' : 'muted'}>{f.late ? 'ни одного успешного' : '—'}</span>;
  const text = duration(f.lagS);
  if (f.expectedIntervalS === null) return <span title="У потока нет расписания: ожидаемый интервал неизвестен">{text}</span>;
  return <span class={f.late ? 'badge badge-error' : undefined} title={`Ожидаемый интервал: ${duration(f.expectedIntervalS)}`}>{text}{f.late ? ' — отстаёт' : ''}</span>;
}

function Warnings({ list }: { list: string[] }): VNode | null {
  if (!list.length) return null;
  return <ul class="warnings problems">{list.map((w) => <li class="flash flash-error" data-warning>{w}</li>)}</ul>;
}

function FlowsTable({ flows }: { flows: FlowRow[] }): VNode {
  if (!flows.length) return <p class="empty">Потоков нет. Зарегистрируйте поток: <code>magistral flows apply -f FILE</code>.</p>;
  return (
    <table class="grid flows">
      <thead><tr>
        <th>Поток</th><th>Коннектор</th><th>Режим</th><th>Состояние</th><th>Расписание</th><th>Последний запуск</th>
        <th class="num">Строк/с</th><th>Отставание</th><th class="num">Открытые отказы</th>
      </tr></thead>
      <tbody>
        {flows.map((f) => (
          <tr data-flow={f.name}>
            <td>
              <a href={`/console/flows/${encodeURIComponent(f.name)}`}>{f.name}</a>
              {f.description && <div class="muted">{f.description}</div>}
              {f.warnings.map((w) => <div class="warning" data-warning>{w}</div>)}
            </td>
            <td>{f.connector}<div class="muted">→ {f.target}</div></td>
            <td>{f.mode}</td>
            <td><StateBadge f={f} /></td>
            <td>{scheduleText(f)}</td>
            <td class="nowrap">{f.lastRun
              ? <><a href={`/console/runs/${f.lastRun.id}`}>№{f.lastRun.id}</a> <span class={runStateClass(f.lastRun.state)}>{RUN_STATE[f.lastRun.state] ?? f.lastRun.state}</span><div class="muted">{ago(f.lastRun.receivedAt)}</div></>
              : <span class="muted">не было</span>}</td>
            <td class="num">{f.lastRun?.rowsPerSecond != null ? count(f.lastRun.rowsPerSecond) : '—'}</td>
            <td><Lag f={f} /></td>
            <td class="num">{f.openRejects ? <span class="badge badge-warn">{count(f.openRejects)}</span> : '0'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Problems({ problems }: { problems: Problem[] }): VNode {
  return (
    <div class="flash flash-error" role="alert">
      Поток не применён: {problems.length} {plural(problems.length, 'ошибка', 'ошибки', 'ошибок')}. Ничего не изменено.
      <ul class="problems">
        {problems.map((p) => <li data-problem><code>{p.line !== undefined ? `строка ${p.line}:${p.column} ` : ''}{p.path}</code>: {p.message}{p.rule ? ` (${p.rule})` : ''}</li>)}
      </ul>
    </div>
  );
}

const PULL_TEXT = (o: PullOutcome): { kind: 'ok' | 'error' | 'info'; text: string } => {
  switch (o.outcome) {
    case 'received': return { kind: 'ok', text: `Загружено записей: ${count(o.records)}, запуск №${o.runId}.` };
    case 'unchanged': return { kind: 'info', text: 'Нового с прошлой загрузки нет.' };
    case 'failed': return { kind: 'error', text: `Загрузка не удалась: ${o.error.code}: ${o.error.message}` };
    default: return { kind: 'info', text: `Не загружено сейчас: ${o.reason}.` };
  }
};

interface FlowPageOptions {
  flash?: { kind: 'ok' | 'error' | 'info'; text: string } | null;
  edit?: { text: string; problems: Problem[] };
  status?: number;
}

function flowPage(reply: FastifyReply, s: ConsoleSession, d: FlowDetail, o: FlowPageOptions = {}): FastifyReply {
  const f = d.row;
  const canAct = roleAllows(s.user.role, 'operator');
  const base = `/console/flows/${encodeURIComponent(f.name)}`;
  return sendPage(reply, (
    <ConsoleLayout s={s} title={`Поток ${f.name}`} active="flows" flash={o.flash}>
      <p class="muted"><a href="/console/flows">Потоки</a> /</p>
      <h1>{f.name} <StateBadge f={f} /></h1>
      {f.description && <p class="description">{f.description}</p>}
      <Warnings list={f.warnings} />
      <dl class="facts">
        <dt>Коннектор</dt><dd>{f.connector} → {f.target}, режим {f.mode}</dd>
        <dt>Версия</dt><dd>{d.stored.version}, изменён {when(d.stored.updatedAt)}</dd>
        <dt>Расписание</dt><dd>{scheduleText(f)}</dd>
        <dt>Последний успешный</dt><dd>{f.lastSuccessAt ? `${when(f.lastSuccessAt)} (${ago(f.lastSuccessAt)})` : 'не было'}; отставание <Lag f={f} /></dd>
        <dt>Открытые отказы</dt><dd>{count(f.openRejects)} (отказы последнего завершённого запуска)</dd>
      </dl>
      {canAct
        ? (
          <div class="actions">
            <form method="post" action={`${base}/${f.paused ? 'resume' : 'pause'}`}><ConsoleCsrf s={s} />
              <button type="submit">{f.paused ? 'Возобновить' : 'Приостановить'}</button></form>
            {d.pulls && <form method="post" action={`${base}/pull`}><ConsoleCsrf s={s} /><button type="submit" class="primary">Загрузить сейчас</button></form>}
          </div>
        )
        : <p class="muted">Действия с потоком доступны оператору; ваша роль — только просмотр.</p>}
      <h2>Определение (YAML)</h2>
      {o.edit?.problems.length ? <Problems problems={o.edit.problems} /> : null}
      {canAct
        ? (
          <details open={o.edit !== undefined} class="edit">
            <summary>Изменить</summary>
            <form method="post" action={`${base}/apply`} class="stack">
              <ConsoleCsrf s={s} />
              <label>YAML потока — проверяется так же, как magistral flows apply; при любой ошибке ничего не применяется
                <textarea name="yaml" class="yaml" spellcheck={false}>{o.edit?.text ?? d.yaml}</textarea></label>
              <button type="submit" class="primary">Проверить и применить</button>
            </form>
          </details>
        )
        : null}
      <pre class="yaml" data-yaml>{d.yaml}</pre>
      <h2>Последние запуски</h2>
      {d.runs.length
        ? (
          <table class="grid runs">
            <thead><tr><th>Запуск</th><th>Состояние</th><th>Получен</th><th>Завершён</th><th class="num">Прочитано</th><th class="num">Изменено</th><th class="num">Отказы</th><th>Ошибка</th></tr></thead>
            <tbody>
              {d.runs.map((r) => (
                <tr data-run={r.id}>
                  <td><a href={`/console/runs/${r.id}`}>№{r.id}</a></td>
                  <td><span class={runStateClass(r.state)}>{RUN_STATE[r.state] ?? r.state}</span></td>
                  <td class="nowrap">{when(r.receivedAt)}</td>
                  <td class="nowrap">{when(r.finishedAt)}</td>
                  <ReadCount read={r.rowsRead} skipped={r.rowsSkipped} />
                  <td class="num">{count(r.changed)}</td>
                  <td class="num">{count(r.rowsRejected)}</td>
                  <td>{r.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
        : <p class="empty">Запусков ещё не было.</p>}
    </ConsoleLayout>
  ), o.status ?? 200);
}

const FLASH: Record<string, { kind: 'ok' | 'info'; text: string }> = {
  paused: { kind: 'ok', text: 'Поток приостановлен: данные принимаются, но не обрабатываются до возобновления.' },
  resumed: { kind: 'ok', text: 'Поток возобновлён.' },
  unchanged: { kind: 'info', text: 'Определение не изменилось: применять нечего.' },
  updated: { kind: 'ok', text: 'Поток применён: новая версия сохранена.' },
};

export async function consoleFlowsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  // Flow names are the schema's (lowercase letters, digits, dashes): anything else is a 404 before any query.
  const nameOf = (request: FastifyRequest): string => {
    const n = (request.params as { name: string }).name;
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(n)) throw new CabinetError(404, 'Такого потока нет.');
    return n;
  };

  app.get('/flows', async (request, reply) => {
    const s = requireConsole(request);
    const flows = await flowsOverview(db);
    const late = flows.filter((f) => f.late).length;
    return sendPage(reply, (
      <ConsoleLayout s={s} title="Потоки" active="flows">
        <h1>Потоки</h1>
        <p class="muted">
          {count(flows.length)} {plural(flows.length, 'поток', 'потока', 'потоков')}{late ? `, отстают: ${late}` : ''}. Отставание — время с последнего успешного запуска;
          «отстаёт», когда оно больше двух интервалов расписания. Открытые отказы — отказы последнего завершённого запуска.
        </p>
        <FlowsTable flows={flows} />
      </ConsoleLayout>
    ));
  });

  app.get('/flows/:name', async (request, reply) => {
    const s = requireConsole(request);
    const d = await flowDetail(db, deps.registry, nameOf(request));
    const done = (request.query as { done?: string }).done;
    return flowPage(reply, s, d, { flash: done ? FLASH[done] ?? null : null });
  });

  app.post('/flows/:name/apply', { config: { consoleRole: 'operator', consoleAction: 'flow.apply' } }, async (request, reply) => {
    const s = requireConsole(request);
    const name = nameOf(request);
    const text = (request.body as { yaml?: unknown } | undefined)?.yaml;
    const r = await applyFlowYaml(db, deps.registry, name, typeof text === 'string' ? text : '');
    if (!r.ok) {
      request.consoleAudit = { details: { problems: r.problems.length, first: r.problems[0]?.message } };
      return flowPage(reply, s, await flowDetail(db, deps.registry, name), { edit: { text: typeof text === 'string' ? text : '', problems: r.problems }, status: 400 });
    }
    request.consoleAudit = { details: { result: r.action, version: r.version } };
    return reply.redirect(`/console/flows/${encodeURIComponent(name)}?done=${r.action === 'unchanged' ? 'unchanged' : 'updated'}`, 303);
  });

  for (const [verb, paused] of [['pause', true], ['resume', false]] as const) {
    app.post(`/flows/:name/${verb}`, { config: { consoleRole: 'operator', consoleAction: `flow.${verb}` } }, async (request, reply) => {
      const name = nameOf(request);
      await setFlowPaused(db, name, paused);
      return reply.redirect(`/console/flows/${encodeURIComponent(name)}?done=${paused ? 'paused' : 'resumed'}`, 303);
    });
  }

  app.post('/flows/:name/pull', { config: { consoleRole: 'operator', consoleAction: 'flow.pull' } }, async (request, reply) => {
    const s = requireConsole(request);
    const name = nameOf(request);
    let flash: { kind: 'ok' | 'error' | 'info'; text: string };
    let status = 200;
    try {
      const o = await pullFlow(pipelineDeps(deps), name, { trigger: 'manual' });
      request.consoleAudit = { details: { result: o.outcome, ...('runId' in o ? { run: o.runId } : {}) } };
      flash = PULL_TEXT(o);
      if (o.outcome === 'failed') status = 502;
    } catch (e) {
      if (!isMagistralError(e) || e.statusCode >= 500) throw e;
      flash = { kind: 'error', text: `Загрузка не выполнена: ${e.message}` };
      status = e.statusCode;
    }
    return flowPage(reply, s, await flowDetail(db, deps.registry, name), { flash, status });
  });
}
