// /console/lineage: where a price or a stock quantity came from (issue 15, part 5) — the same service as
// `magistral lineage` and GET /admin/api/lineage. A product (its code or any external id) alone: its live
// prices and stock with the run that wrote each; with a price type or warehouse: the live value and every
// recorded change, old → new, with its run, flow, file and line or element path, received and merged.
import type { FastifyInstance } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { isMagistralError } from '../../errors/index.ts';
import {
  lineageHistory, lineageOverview, type LineageEntry, type LineageHistory, type LineageOverview, type LineageRun, type LineageValue,
} from '../../pipeline/lineage.ts';
import { sendPage } from '../render.tsx';
import { ConsoleLayout } from './layout.tsx';
import { requireConsole } from './request.ts';
import { decimalRu, when } from './format.ts';

interface LineageForm { product: string; priceType: string; warehouse: string; before: string }

/** A lineage page's address: the console's links from a held run's sample and from run pages use it too. */
export function lineageUrl(q: Partial<LineageForm>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) p.set(k, v);
  return `/console/lineage?${p.toString()}`;
}

const OP: Record<LineageEntry['op'], string> = { insert: 'первое значение', update: 'изменение', delete: 'удаление' };

function RunLink({ run }: { run: LineageRun | null }): VNode {
  if (!run) return <span class="muted">запуск не записан</span>;
  return (
    <>
      <a href={`/console/runs/${run.id}`}>№{run.id}</a>
      {run.flow ? <> · <a href={`/console/flows/${encodeURIComponent(run.flow)}`}>{run.flow}</a></> : <span class="muted"> (поток удалён)</span>}
      {run.loadPath === 'direct' && <div class="muted">первая загрузка напрямую в таблицу</div>}
    </>
  );
}

function Money({ v }: { v: LineageValue }): VNode {
  return (
    <span class="nowrap">
      {decimalRu(v.value)}{v.currency ? ` ${v.currency}` : ''}
      {v.unit ? <span class="muted"> за {v.unit}{v.factor && v.factor !== '1.000000' ? ` ×${decimalRu(v.factor)}` : ''}</span> : null}
    </span>
  );
}

function Position({ e }: { e: LineageEntry }): VNode {
  if (!e.file) return <span class="muted">позиция не записана</span>;
  return (
    <span data-position>
      {e.file}{e.line !== null ? <>, строка <b>{e.line}</b></> : null}
      {e.path ? <div><code>{e.path}</code></div> : null}
    </span>
  );
}

function Overview({ o }: { o: LineageOverview }): VNode {
  const row = (label: VNode, v: LineageValue, href: string) => (
    <tr>
      <td>{label}</td><td class="num"><Money v={v} /></td><td><RunLink run={v.run} /></td><td class="nowrap">{when(v.updatedAt)}</td>
      <td><a href={href}>история →</a></td>
    </tr>
  );
  return (
    <>
      <h2>Цены</h2>
      {o.prices.length
        ? (
          <table class="grid lineage-overview" data-prices>
            <thead><tr><th>Тип цены</th><th class="num">Значение</th><th>Записал</th><th>Когда</th><th></th></tr></thead>
            <tbody>{o.prices.map((p) => row(<>{p.priceType.code} <span class="muted">{p.priceType.name}</span></>, p, lineageUrl({ product: o.product.code, priceType: p.priceType.code })))}</tbody>
          </table>
        )
        : <p class="empty">Цен у товара нет.</p>}
      <h2>Остатки</h2>
      {o.stock.length
        ? (
          <table class="grid lineage-overview" data-stock>
            <thead><tr><th>Склад</th><th class="num">Количество</th><th>Записал</th><th>Когда</th><th></th></tr></thead>
            <tbody>{o.stock.map((s) => row(<>{s.warehouse.code} <span class="muted">{s.warehouse.name}</span></>, s, lineageUrl({ product: o.product.code, warehouse: s.warehouse.code })))}</tbody>
          </table>
        )
        : <p class="empty">Остатков у товара нет.</p>}
    </>
  );
}

function History({ l, form }: { l: LineageHistory; form: LineageForm }): VNode {
  const keyText = l.key.kind === 'price' ? <>тип цены {l.key.priceType.code} <span class="muted">{l.key.priceType.name}</span></> : <>склад {l.key.warehouse.code} <span class="muted">{l.key.warehouse.name}</span></>;
  return (
    <>
      <h2>{keyText}</h2>
      <dl class="facts">
        <dt>Сейчас</dt>
        <dd data-current>{l.current ? <><Money v={l.current} /> — <RunLink run={l.current.run} />, записано {when(l.current.updatedAt)}</> : 'значения нет (удалено или не загружалось)'}</dd>
      </dl>
      {l.entries.length
        ? (
          <table class="grid lineage" data-history>
            <thead><tr><th>Записано</th><th>Что</th><th class="num">Было</th><th class="num">Стало</th><th>Запуск и поток</th><th>Откуда</th><th>Получено</th></tr></thead>
            <tbody>
              {l.entries.map((e) => (
                <tr data-op={e.op}>
                  <td class="nowrap">{when(e.mergedAt)}</td>
                  <td>{OP[e.op]}</td>
                  <td class="num">{e.op === 'insert' ? '—' : decimalRu(e.oldValue)}</td>
                  <td class="num">{e.op === 'delete' ? '—' : decimalRu(e.newValue)}</td>
                  <td><RunLink run={e.run} /></td>
                  <td><Position e={e} /></td>
                  <td class="nowrap">{when(e.receivedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
        : <p class="empty">Изменений не записано.</p>}
      {l.origin && (
        <p class="muted" data-origin>
          Самое раннее известное значение: {l.origin.value !== null ? decimalRu(l.origin.value) : '—'}{l.origin.run ? <> — <RunLink run={l.origin.run} /></> : null}.{' '}
          <span title={l.origin.note}>
            {l.origin.run
              ? 'Его записала первая загрузка, поток без истории или запуск до того, как позиции стали записываться: файл и строка не известны.'
              : 'Оно пришло первой загрузкой или запуском без истории: его запуск, файл и строка не записаны.'}
          </span>
        </p>
      )}
      <p class="pager">
        {form.before ? <a href={lineageUrl({ ...form, before: '' })}>← к последним</a> : null}{' '}
        {l.nextBefore ? <a href={lineageUrl({ ...form, before: l.nextBefore })} rel="next">более ранние →</a> : null}
      </p>
    </>
  );
}

/** The service's refusals in the console's words; the code a person typed is shown back as text. */
function refusal(e: unknown, form: LineageForm): string {
  if (!isMagistralError(e)) throw e;
  if (e.code === 'MAG_ERR_NOT_FOUND') {
    const what = /^price type /.test(e.message) ? `Тип цены «${form.priceType}»` : /^warehouse /.test(e.message) ? `Склад «${form.warehouse}»` : `Товар «${form.product}»`;
    return `${what} не найден (искали по коду и по внешним идентификаторам всех систем).`;
  }
  if (e.code === 'MAG_ERR_BAD_REQUEST') return `Запрос не выполнен: ${e.message}`;
  throw e;
}

export async function consoleLineageRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get('/lineage', async (request, reply) => {
    const s = requireConsole(request);
    const q = request.query as Record<string, unknown>;
    const text = (k: string): string => (typeof q[k] === 'string' ? (q[k] as string).trim().slice(0, 200) : '');
    const form: LineageForm = { product: text('product'), priceType: text('priceType'), warehouse: text('warehouse'), before: text('before') };
    let body: VNode | null = null;
    let error: string | null = null;
    let status = 200;
    if (form.product) {
      try {
        if (form.priceType || form.warehouse) {
          const l = await lineageHistory(deps.db, {
            product: form.product, ...(form.priceType ? { priceType: form.priceType } : { warehouse: form.warehouse }), ...(form.before ? { before: form.before } : {}),
          });
          body = <><h1 class="lineage-product">{l.product.code} <span class="muted">{l.product.name}</span></h1><History l={l} form={form} /></>;
        } else {
          const o = await lineageOverview(deps.db, form.product);
          body = <><h1 class="lineage-product">{o.product.code} <span class="muted">{o.product.name}</span></h1><Overview o={o} /></>;
        }
      } catch (e) {
        error = refusal(e, form);
        status = isMagistralError(e) ? e.statusCode : 500;
      }
    }
    return sendPage(reply, (
      <ConsoleLayout s={s} title={form.product ? `Происхождение ${form.product}` : 'Происхождение значений'} active="lineage" flash={error ? { kind: 'error', text: error } : null}>
        {!body && <h1>Происхождение значений</h1>}
        <form method="get" action="/console/lineage" class="console-filters">
          <label>Товар (код или внешний id) <input name="product" value={form.product} required placeholder="SKU-00001" /></label>
          <label>Тип цены <input name="priceType" value={form.priceType} placeholder="retail" /></label>
          <label>или склад <input name="warehouse" value={form.warehouse} placeholder="msk-1" /></label>
          <button type="submit">Показать</button>
        </form>
        {!body && !error && <p class="muted">Откуда взялось значение: какой запуск какого потока записал его, из какого файла и строки, и когда. Без типа цены и склада — все цены и остатки товара.</p>}
        {body}
      </ConsoleLayout>
    ), status);
  });
}
