// /console/runs, /console/held and /console/runs/:id: runs with filters (flow, state, period) a page at a
// time; held runs with why they were held; a run's page with its counts, the timeline of its stages, its
// payload files, its rejects (paged, CSV), what a held run would change, and the operator's decisions
// (approve / reject with a comment, replay). Reading needs any role; deciding needs operator (audited).
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { pipelineDeps } from '../../api/run-views.ts';
import { contentDisposition } from '../../backoffice/files.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { roleAllows } from '../../console/rights.ts';
import type { ConsoleSession } from '../../console/sessions.ts';
import { isMagistralError } from '../../errors/index.ts';
import { HELD_SAMPLE_ROWS, type HeldSample, type HeldSampleRow } from '../../pipeline/held-sample.ts';
import { rejectsCsv } from '../../pipeline/rejects-export.ts';
import { runTimeline, type TimelineStage } from '../../pipeline/run-timeline.ts';
import { approveRun, getRun, listRejects, listRuns, rejectRun, replayRun, runPayloadFile, type RunView } from '../../pipeline/runs.ts';
import { plural, sendFragment, sendPage } from '../render.tsx';
import { ConsoleCsrf, ConsoleLayout } from './layout.tsx';
import { lineageUrl } from './lineage-routes.tsx';
import { HeldExplanation, heldSampleKind, HeldShort } from './held-reason.tsx';
import { FingerprintFact, ReadCount, RunCounts } from './run-counts.tsx';
import { actorOf, requireConsole } from './request.ts';
import { ago, count, decimalRu, duration, RUN_STATE, runStateClass, when } from './format.ts';

const PAGE = 50;
const REJECTS_PAGE = 50;
const OPEN = new Set(['received', 'extracting', 'staged', 'merging']);

const STAGE: Record<TimelineStage, string> = {
  received: 'Получен', queued: 'В очереди', extract: 'Разбор и подготовка', waiting: 'Ожидание записи', held: 'Задержан', merge: 'Запись в хранилище', finished: 'Завершён',
};

const OP: Record<HeldSampleRow['op'], string> = { new: 'новая', changed: 'изменится', removed: 'удалится', written: 'запишется' };

const KEY_LABEL: Record<string, string> = { product: 'товар', priceType: 'тип цены', warehouse: 'склад', contact: 'контакт', legalEntity: 'юрлицо' };

const ms = (v: number | null): string => (v === null ? '—' : v < 1000 ? `${v} мс` : duration(v / 1000));

function RunState({ r }: { r: Pick<RunView, 'state'> }): VNode {
  return <span class={runStateClass(r.state)} data-state={r.state}>{RUN_STATE[r.state] ?? r.state}</span>;
}

// ---------- the list ----------

interface ListFilters { flow?: string; state?: string; from?: string; to?: string; beforeId?: number }

/** A day in the form's date field is a day in Moscow (the console's clock): [00:00, next 00:00). */
function dayStart(d: string | undefined, plusDays = 0): Date | undefined {
  if (!d || !/^\d{4}-\d{2}-\d{2}$/.test(d)) return undefined;
  const t = Date.parse(`${d}T00:00:00+03:00`);
  return Number.isNaN(t) ? undefined : new Date(t + plusDays * 86_400_000);
}

function listUrl(f: ListFilters): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `/console/runs${s ? `?${s}` : ''}`;
}

function readFilters(request: FastifyRequest): ListFilters {
  const q = request.query as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof q[k] === 'string' && q[k] !== '' ? (q[k] as string) : undefined);
  const before = Number(q.beforeId);
  const state = str('state');
  return {
    flow: str('flow'), state: state && RUN_STATE[state] ? state : undefined, from: str('from'), to: str('to'),
    beforeId: Number.isInteger(before) && before > 0 ? before : undefined,
  };
}

function RunsTable({ runs, showFlow = true }: { runs: RunView[]; showFlow?: boolean }): VNode {
  return (
    <table class="grid runs">
      <thead><tr>
        <th>Запуск</th>{showFlow && <th>Поток</th>}<th>Состояние</th><th>Получен</th><th>Длительность</th>
        <th class="num">Прочитано</th><th class="num">Новых</th><th class="num">Изменено</th><th class="num">Удалено</th><th class="num">Отказы</th>
      </tr></thead>
      <tbody>
        {runs.map((r) => (
          <tr data-run={r.id}>
            <td><a href={`/console/runs/${r.id}`}>№{r.id}</a></td>
            {showFlow && <td><a href={`/console/flows/${encodeURIComponent(r.flow)}`}>{r.flow}</a></td>}
            <td><RunState r={r} />{r.error && <div class="muted" title={r.error.message}>{r.error.code}</div>}</td>
            <td class="nowrap">{when(r.receivedAt)}</td>
            <td class="nowrap">{r.durationMs !== null ? ms(r.durationMs) : <span class="muted">идёт {ago(r.receivedAt).replace(' назад', '')}</span>}</td>
            <ReadCount read={r.rows.read} skipped={r.rows.skipped} />
            <td class="num">{count(r.rows.inserted)}</td>
            <td class="num">{count(r.rows.updated)}</td>
            <td class="num">{count(r.rows.removed)}</td>
            <td class="num">{r.rows.rejected ? <span class="badge badge-warn">{count(r.rows.rejected)}</span> : '0'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// ---------- a run ----------

function Timeline({ r }: { r: RunView }): VNode {
  const t = runTimeline(r);
  const total = Math.max(1, ...t.map((e) => e.ms ?? 0));
  return (
    <table class="grid timeline">
      <thead><tr><th>Этап</th><th>Начало</th><th class="num">Длительность</th><th class="bar-cell"></th></tr></thead>
      <tbody>
        {t.map((e, i) => {
          const lasting = e.ms === null && i === t.length - 1 && OPEN.has(r.state) || (e.stage === 'held' && r.state === 'held');
          return (
            <tr data-stage={e.stage}>
              <td>{STAGE[e.stage]}</td>
              <td class="nowrap">{when(e.at)}</td>
              <td class="num">{e.ms !== null ? ms(e.ms) : lasting ? `идёт ${ago(e.at).replace(' назад', '')}` : ''}</td>
              <td class="bar-cell">{e.ms ? <span class="bar" style={`width:${Math.max(1, Math.round((e.ms / total) * 100))}%`}></span> : null}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Sample({ sample }: { sample: HeldSample | null }): VNode {
  if (!sample) return <p class="muted">Примера изменений нет: запуск задержан до того, как консоль начала их сохранять.</p>;
  return (
    <>
      {sample.rows.length
        ? (
          <table class="grid sample">
            <thead><tr><th>Что</th><th>Ключ</th><th class="num">Было</th><th class="num">Станет</th></tr></thead>
            <tbody>
              {sample.rows.map((row) => (
                <tr data-op={row.op}>
                  <td><span class={row.op === 'removed' ? 'badge badge-error' : row.op === 'new' ? 'badge badge-ok' : 'badge badge-warn'}>{OP[row.op]}</span></td>
                  <td>
                    {Object.entries(row.key).map(([k, v]) => <span class="key"><span class="muted">{KEY_LABEL[k] ?? k}</span> {v}</span>)}
                    {row.key.product && (row.key.priceType || row.key.warehouse)
                      ? <a class="lineage-link" href={lineageUrl({ product: row.key.product, ...(row.key.priceType ? { priceType: row.key.priceType } : { warehouse: row.key.warehouse }) })}>история</a>
                      : null}
                  </td>
                  <td class="num">{decimalRu(row.old)}</td>
                  <td class="num">{decimalRu(row.new)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
        : null}
      {sample.note && <p class="muted">{sample.note}</p>}
    </>
  );
}

function Decision({ r }: { r: RunView }): VNode | null {
  const d = r.decision;
  if (!d) return null;
  return (
    <div class={`flash ${d.action === 'approved' ? 'flash-ok' : 'flash-info'}`} data-decision={d.action}>
      {d.action === 'approved' ? 'Одобрен' : 'Отклонён'}: {d.by}, {when(new Date(d.at))}{d.comment ? <> — «{d.comment}»</> : null}.
      {d.heldReason && <div class="muted">Был задержан. <HeldShort reason={d.heldReason} /></div>}
    </div>
  );
}

/** The part of the run page that changes while the run is open: polled every 2 s until it ends. */
function RunLive({ r }: { r: RunView }): VNode {
  const open = OPEN.has(r.state);
  return (
    <section id="run-live" {...(open ? { 'hx-get': `/console/runs/${r.id}/live`, 'hx-trigger': 'every 2s', 'hx-swap': 'outerHTML' } : {})}>
      <h1>Запуск №{r.id} <RunState r={r} /></h1>
      <Decision r={r} />
      {r.error && <div class="flash flash-error" role="alert"><code>{r.error.code}</code>: {r.error.message}</div>}
      <dl class="facts">
        <dt>Поток</dt><dd><a href={`/console/flows/${encodeURIComponent(r.flow)}`}>{r.flow}</a> → {r.target}, режим {r.mode}{r.replayOf ? <>, повтор запуска <a href={`/console/runs/${r.replayOf}`}>№{r.replayOf}</a></> : null}</dd>
        {r.kind === 'finalize'
          ? <><dt>Что делает</dt><dd data-finalize>удаляет строки потока, которых не было ни в одном файле выгрузки, пришедшей несколькими файлами (группа <code>{r.snapshotGroup}</code>); файлы он не читает — их записали запуски группы</dd></>
          : (
            <>
              <dt>Путь загрузки</dt><dd>{r.loadPath === 'direct' ? 'напрямую в пустую таблицу' : 'через подготовку и слияние'}{r.mergedWith ? <>, записан вместе с запуском <a href={`/console/runs/${r.mergedWith}`}>№{r.mergedWith}</a></> : null}</dd>
              <FingerprintFact r={r} />
              <dt>Попыток разбора</dt><dd>{r.attempts}</dd>
            </>
          )}
      </dl>
      <RunCounts r={r} />
      <h2>Этапы</h2>
      <Timeline r={r} />
    </section>
  );
}

function HeldSection({ r, s }: { r: RunView; s: ConsoleSession }): VNode | null {
  if (r.state !== 'held') return null;
  const canAct = roleAllows(s.user.role, 'operator');
  const sample = heldSampleKind(r.heldReason);
  return (
    <section class="held" data-held>
      <h2>Почему задержан</h2>
      <HeldExplanation reason={r.heldReason} />
      {sample === 'sample' && (
        <>
          <h3>Что изменится (пример)</h3>
          <p class="muted">До {HELD_SAMPLE_ROWS} строк каждого вида изменений — ровно то, что запишет одобрение.</p>
          <Sample sample={r.heldSample} />
        </>
      )}
      {sample === 'removal' && (
        <>
          <h3>Что изменится</h3>
          <p class="muted" data-held-sample>
            Удалится {count(r.rows.removed)} {plural(r.rows.removed, 'строка', 'строки', 'строк')} потока — {plural(r.rows.removed, 'та, которой', 'те, которых', 'те, которых')} не было
            ни в одном файле выгрузки. Примера строк нет: для такого удаления он не сохраняется.
          </p>
        </>
      )}
      {canAct
        ? (
          <form method="post" class="stack decide" action={`/console/runs/${r.id}/approve`}>
            <ConsoleCsrf s={s} />
            <label>Комментарий (сохраняется с решением)
              <textarea name="comment" rows={2} maxLength={2000} placeholder="например: новый прайс закупок, согласовано"></textarea></label>
            <div class="actions">
              <button type="submit" class="primary">Одобрить и записать</button>
              <button type="submit" formaction={`/console/runs/${r.id}/reject`}>Отклонить</button>
            </div>
          </form>
        )
        : <p class="muted">Решение о задержанном запуске принимает оператор; ваша роль — только просмотр.</p>}
    </section>
  );
}

function Rejects({ r, rejects, afterId }: { r: RunView; rejects: Awaited<ReturnType<typeof listRejects>>; afterId?: number }): VNode {
  if (!r.rows.rejected && !rejects.length) return <p class="empty">Отказов нет.</p>;
  const next = rejects.length === REJECTS_PAGE ? rejects[rejects.length - 1]!.id : null;
  return (
    <>
      <p>
        {count(r.rows.rejected)} {plural(r.rows.rejected, 'строка отклонена', 'строки отклонены', 'строк отклонено')}.{' '}
        <a href={`/console/runs/${r.id}/rejects.csv`} download>Скачать все (CSV для Excel)</a>
      </p>
      <table class="grid rejects">
        <thead><tr><th>Файл</th><th class="num">Строка</th><th>Элемент</th><th>Поле</th><th>Правило</th><th>Причина</th></tr></thead>
        <tbody>
          {rejects.map((j) => (
            <tr data-reject={j.id}>
              <td>{j.file ?? '—'}</td><td class="num">{j.line ?? '—'}</td><td><code>{j.path ?? ''}</code></td>
              <td>{j.field ?? ''}</td><td>{j.rule ?? ''}</td><td>{j.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="pager">
        {afterId ? <a href={`/console/runs/${r.id}#rejects`}>← с начала</a> : null}{' '}
        {next ? <a href={`/console/runs/${r.id}?rejectsAfter=${next}#rejects`}>следующие {REJECTS_PAGE} →</a> : null}
      </p>
    </>
  );
}

const FLASH: Record<string, { kind: 'ok' | 'info'; text: string }> = {
  approved: { kind: 'ok', text: 'Запуск одобрен: он записывается в хранилище.' },
  rejected: { kind: 'ok', text: 'Запуск отклонён: в хранилище ничего не записано.' },
};

async function runPage(reply: FastifyReply, deps: ServerDeps, s: ConsoleSession, id: number, o: { flash?: { kind: 'ok' | 'error' | 'info'; text: string } | null; afterId?: number; status?: number } = {}): Promise<FastifyReply> {
  const r = await getRun(deps.db, id);
  const rejects = await listRejects(deps.db, id, { limit: REJECTS_PAGE, ...(o.afterId ? { afterId: o.afterId } : {}) });
  const canAct = roleAllows(s.user.role, 'operator');
  const finished = r.state === 'done' || r.state === 'failed' || r.state === 'rejected';
  return sendPage(reply, (
    <ConsoleLayout s={s} title={`Запуск №${r.id}`} active={r.state === 'held' ? 'held' : 'runs'} flash={o.flash}>
      <p class="muted"><a href="/console/runs">Запуски</a> / <a href={listUrl({ flow: r.flow })}>{r.flow}</a> /</p>
      <RunLive r={r} />
      <HeldSection r={r} s={s} />
      <h2>Файлы</h2>
      {r.files.length
        ? <ul class="files">{r.files.map((f, n) => <li><a href={`/console/runs/${r.id}/files/${n}`} download>{f}</a></li>)}</ul>
        : <p class="empty">Файлов нет (служебный запуск).</p>}
      {finished && canAct && (
        <form method="post" action={`/console/runs/${r.id}/replay`} class="actions">
          <ConsoleCsrf s={s} />
          <button type="submit">Повторить из сохранённых файлов</button>
          <span class="muted">— новый запуск с теми же файлами (например, после исправления сопоставления)</span>
        </form>
      )}
      <h2 id="rejects">Отказы</h2>
      <Rejects r={r} rejects={rejects} afterId={o.afterId} />
    </ConsoleLayout>
  ), o.status ?? 200);
}

export async function consoleRunsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  const idOf = (request: FastifyRequest): number => {
    const id = Number((request.params as { id: string }).id);
    if (!Number.isSafeInteger(id) || id < 1) throw new CabinetError(404, 'Такого запуска нет.');
    return id;
  };
  /** The run service's "no run" is the page's 404. */
  const found = async <T,>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => {
    if (isMagistralError(e) && (e.code === 'MAG_ERR_RUN_NOT_FOUND' || e.code === 'MAG_ERR_NOT_FOUND')) throw new CabinetError(404, e.code === 'MAG_ERR_RUN_NOT_FOUND' ? 'Такого запуска нет.' : 'Такого файла у запуска нет.');
    throw e;
  });

  app.get('/runs', async (request, reply) => {
    const s = requireConsole(request);
    const f = readFilters(request);
    const from = dayStart(f.from);
    const to = dayStart(f.to, 1);
    const [runs, flows] = await Promise.all([
      listRuns(db, { flow: f.flow, state: f.state, limit: PAGE, beforeId: f.beforeId, ...(from ? { from } : {}), ...(to ? { to } : {}) }),
      db.selectFrom('flows').select('name').orderBy('name').execute(),
    ]);
    const next = runs.length === PAGE ? runs[runs.length - 1]!.id : null;
    return sendPage(reply, (
      <ConsoleLayout s={s} title="Запуски" active="runs">
        <h1>Запуски</h1>
        <form method="get" action="/console/runs" class="console-filters">
          <label>Поток <select name="flow"><option value="">все</option>{flows.map((x) => <option value={x.name} selected={x.name === f.flow}>{x.name}</option>)}</select></label>
          <label>Состояние <select name="state"><option value="">все</option>{Object.entries(RUN_STATE).map(([k, v]) => <option value={k} selected={k === f.state}>{v}</option>)}</select></label>
          <label>С <input type="date" name="from" value={f.from ?? ''} /></label>
          <label>По <input type="date" name="to" value={f.to ?? ''} /></label>
          <button type="submit">Показать</button>
          {(f.flow || f.state || f.from || f.to) && <a href="/console/runs">сбросить</a>}
        </form>
        <p class="muted">Новые сверху, по {PAGE}; время московское.</p>
        {runs.length ? <RunsTable runs={runs} /> : <p class="empty">Запусков с такими условиями нет.</p>}
        <p class="pager">
          {f.beforeId ? <a href={listUrl({ ...f, beforeId: undefined })}>← к новым</a> : null}{' '}
          {next ? <a href={listUrl({ ...f, beforeId: next })} rel="next">следующие {PAGE} →</a> : null}
        </p>
      </ConsoleLayout>
    ));
  });

  app.get('/held', async (request, reply) => {
    const s = requireConsole(request);
    const runs = await listRuns(db, { state: 'held', limit: 500 });
    return sendPage(reply, (
      <ConsoleLayout s={s} title="Задержанные запуски" active="held">
        <h1>Задержанные запуски</h1>
        <p class="muted">Запуски, остановленные до записи проверкой потока (guard) или по просьбе источника: ждут решения оператора. Пока запуск задержан, следующие запуски его потока ждут.</p>
        {runs.length
          ? (
            <table class="grid held">
              <thead><tr><th>Запуск</th><th>Поток</th><th>Ждёт</th><th>Почему</th><th class="num">Новых</th><th class="num">Изменится</th><th class="num">Удалится</th><th class="num">В охвате</th></tr></thead>
              <tbody>
                {runs.map((r) => (
                  <tr data-run={r.id}>
                    <td><a href={`/console/runs/${r.id}`}>№{r.id}</a></td>
                    <td class="nowrap"><a href={`/console/flows/${encodeURIComponent(r.flow)}`}>{r.flow}</a></td>
                    <td class="nowrap">{ago(r.stagedAt ?? r.receivedAt).replace(' назад', '')}</td>
                    <td><HeldShort reason={r.heldReason} /></td>
                    <td class="num">{count(r.rows.inserted)}</td><td class="num">{count(r.rows.updated)}</td><td class="num">{count(r.rows.removed)}</td>
                    <td class="num">{r.rows.inScope === null ? '—' : count(r.rows.inScope)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
          : <p class="empty">Задержанных запусков нет.</p>}
      </ConsoleLayout>
    ));
  });

  app.get('/runs/:id', async (request, reply) => {
    const s = requireConsole(request);
    const q = request.query as { done?: string; rejectsAfter?: string };
    const after = Number(q.rejectsAfter);
    return found(runPage(reply, deps, s, idOf(request), { flash: q.done ? FLASH[q.done] ?? null : null, ...(Number.isSafeInteger(after) && after > 0 ? { afterId: after } : {}) }));
  });

  app.get('/runs/:id/live', async (request, reply) => {
    requireConsole(request);
    return sendFragment(reply, <RunLive r={await found(getRun(db, idOf(request)))} />);
  });

  app.get('/runs/:id/rejects.csv', async (request, reply) => {
    requireConsole(request);
    const r = await found(getRun(db, idOf(request)));
    return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', contentDisposition(`run-${r.id}-rejects.csv`))
      .send(Readable.from(rejectsCsv(db, r.id)));
  });

  app.get('/runs/:id/files/:n', async (request, reply) => {
    requireConsole(request);
    const n = Number((request.params as { n: string }).n);
    if (!Number.isSafeInteger(n) || n < 0) throw new CabinetError(404, 'Такого файла у запуска нет.');
    const f = await found(runPayloadFile(db, idOf(request), n));
    if (!f.stream) throw new CabinetError(404, `Файл ${f.fileName} больше не хранится на диске.`);
    return reply.header('content-type', 'application/octet-stream').header('x-content-type-options', 'nosniff')
      .header('content-disposition', contentDisposition(f.fileName)).send(f.stream);
  });

  for (const [verb, act] of [['approve', approveRun], ['reject', rejectRun]] as const) {
    app.post(`/runs/:id/${verb}`, { config: { consoleRole: 'operator', consoleAction: `run.${verb}` } }, async (request, reply) => {
      const s = requireConsole(request);
      const id = idOf(request);
      const raw = (request.body as { comment?: unknown } | undefined)?.comment;
      const comment = typeof raw === 'string' ? raw.trim().slice(0, 2000) : '';
      try {
        await act(pipelineDeps(deps), id, { by: `${actorOf(request).name} (консоль)`, ...(comment ? { comment } : {}) });
      } catch (e) {
        if (isMagistralError(e) && e.code === 'MAG_ERR_RUN_STATE') {
          request.consoleAudit = { details: { refused: e.message } };
          return found(runPage(reply, deps, s, id, { flash: { kind: 'error', text: 'Решение не принято: запуск уже не задержан (его решил кто-то другой?). Страница показывает, что с ним сейчас.' }, status: 409 }));
        }
        throw e;
      }
      request.consoleAudit = { details: { result: verb === 'approve' ? 'approved' : 'rejected', ...(comment ? { comment } : {}) } };
      return reply.redirect(`/console/runs/${id}?done=${verb === 'approve' ? 'approved' : 'rejected'}`, 303);
    });
  }

  app.post('/runs/:id/replay', { config: { consoleRole: 'operator', consoleAction: 'run.replay' } }, async (request, reply) => {
    const s = requireConsole(request);
    const id = idOf(request);
    try {
      const run = await replayRun(pipelineDeps(deps), id);
      request.consoleAudit = { details: { newRun: run.id } };
      return reply.redirect(`/console/runs/${run.id}`, 303);
    } catch (e) {
      if (isMagistralError(e) && e.code === 'MAG_ERR_RUN_STATE') {
        request.consoleAudit = { details: { refused: e.message } };
        return found(runPage(reply, deps, s, id, { flash: { kind: 'error', text: 'Повтор не запущен: повторить можно только завершённый запуск (готов, ошибка или отклонён).' }, status: 409 }));
      }
      throw e;
    }
  });
}
