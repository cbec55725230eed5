// Quick order from a file (/cabinet/quick-order): the upload form with a sample CSV, the report (found
// lines priced for the chosen legal entity, unknown and refused rows by number, notices about packs and
// merged rows) and "Добавить в корзину". The price-list page shows the same report for a filled price
// list. Reading, resolving and pricing live in src/cabinet (uploads.ts, quick-order.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import { sql } from 'kysely';
import type { ServerDeps } from '../../api/deps.ts';
import type { CabinetContext } from '../../cabinet/context.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { cartSummary } from '../../cabinet/cart-summary.ts';
import { UploadError } from '../../cabinet/upload-error.ts';
import { parseUpload, type ParsedUpload } from '../../cabinet/uploads.ts';
import { quickOrderReport, type QuickOrderReport } from '../../cabinet/quick-order.ts';
import { addToCart } from '../../cabinet/cart.ts';
import { shopperOf } from './cart.tsx';
import { money, plural, qty, sendFragment, sendPage, unitName } from '../render.tsx';
import { CartTotal, Flash, Layout } from './layout.tsx';
import { buyerError } from './errors.tsx';
import { fields, isHtmx, requireContact, requireOrdering } from './request.ts';

/** Reads the one uploaded file of a multipart request; a service's UploadError becomes the page's CabinetError. */
export async function readUploadedFile(request: FastifyRequest): Promise<{ parsed: ParsedUpload; fileName: string }> {
  if (!request.isMultipart()) throw new CabinetError(400, 'Выберите файл CSV или XLSX и нажмите «Загрузить».');
  const file = await request.file();
  if (!file || !file.filename) throw new CabinetError(400, 'Выберите файл CSV или XLSX и нажмите «Загрузить».', 'file');
  // toBuffer() throws fastify's file-too-large error past the multipart limit (rendered as a 413 in Russian).
  const buf = await file.toBuffer();
  try {
    return { parsed: await parseUpload(buf, file.filename), fileName: file.filename };
  } catch (e) {
    if (e instanceof UploadError) throw new CabinetError(e.status, e.message, 'file');
    throw e;
  }
}

export function UploadForm({ ctx, action, title }: { ctx: CabinetContext; action: string; title: string }): VNode {
  return (
    <form class="upload-form card" method="post" action={`${action}?_csrf=${encodeURIComponent(ctx.session.csrf)}`} enctype="multipart/form-data">
      <label for="upload-file">{title}</label>
      <div class="upload-row">
        <input id="upload-file" type="file" name="file" accept=".csv,.txt,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required />
        <button type="submit" class="primary">Загрузить</button>
      </div>
    </form>
  );
}

/** The report of a quick order or a filled price list, with the form that puts the found lines into the cart. */
export function QuickOrderReportView({ ctx, report, fileName, parsed }: { ctx: CabinetContext; report: QuickOrderReport; fileName: string; parsed: ParsedUpload }): VNode {
  const problems = report.unknown.length + report.rejected.length;
  return (
    <section class="qo-report" id="qo-report">
      <p class="qo-summary">
        Файл <b>{fileName}</b>{parsed.priceList ? ' (наш прайс-лист)' : ''}: {parsed.rows.length} {plural(parsed.rows.length, 'строка', 'строки', 'строк')} заказа.
        {' '}Найдено <b>{report.lines.length}</b> {plural(report.lines.length, 'позиция', 'позиции', 'позиций')} на сумму <b class="qo-total">{money(report.total, report.currency)}</b>
        {problems > 0 && <>; <span class="qo-bad">{problems} {plural(problems, 'строка требует', 'строки требуют', 'строк требуют')} внимания</span> (см. ниже)</>}.
        {report.lines.length > 0 && ctx.canOrder && <> <button type="submit" form="qo-found" class="primary qo-add-top">Добавить найденное в корзину</button></>}
      </p>
      <p class="hint">Цены — для {ctx.legalEntity ? `«${ctx.legalEntity.name}»` : `города ${ctx.city?.name ?? ''}`}{ctx.pricing.discountPercent !== '0' ? `, со скидкой ${ctx.pricing.discountPercent.replace('.', ',')} %` : ''}; в корзине они пересчитываются на момент заказа.</p>

      {report.unknown.length > 0 && (
        <div class="qo-block qo-unknown">
          <h2>Не найдены ({report.unknown.length})</h2>
          <table>
            <thead><tr><th class="num">Строка</th><th>Артикул / код / штрихкод</th></tr></thead>
            <tbody>{report.unknown.map((u) => <tr><td class="num">{u.row}</td><td>{u.article}</td></tr>)}</tbody>
          </table>
        </div>
      )}
      {report.rejected.length > 0 && (
        <div class="qo-block qo-rejected">
          <h2>Не приняты ({report.rejected.length})</h2>
          <table>
            <thead><tr><th class="num">Строка</th><th>Артикул</th><th class="num">Количество</th><th>Причина</th></tr></thead>
            <tbody>{report.rejected.map((r) => <tr><td class="num">{r.row}</td><td>{r.article || '—'}</td><td class="num">{r.quantity || '—'}</td><td>{r.reason}</td></tr>)}</tbody>
          </table>
        </div>
      )}
      {report.notices.length > 0 && (
        // Many notices (a long file naming products on several rows) fold away so the lines and the
        // button stay in sight; a few are shown open.
        <details class="qo-block qo-notices" open={report.notices.length <= 10}>
          <summary><h2>Изменения количества ({report.notices.length})</h2></summary>
          <ul>{report.notices.map((n) => <li>{n.text}</li>)}</ul>
        </details>
      )}

      {report.lines.length > 0 ? (
        <form class="qo-found" id="qo-found" method="post" action="/cabinet/quick-order/cart" hx-post="/cabinet/quick-order/cart" hx-target="#cart-total" hx-swap="outerHTML">
          <input type="hidden" name="_csrf" value={ctx.session.csrf} />
          <div class="qo-actions">
            <h2>Найдены ({report.lines.length})</h2>
            {ctx.canOrder
              ? <button type="submit" class="primary" id="qo-add">Добавить в корзину</button>
              : <span class="hint">{ctx.whyNoOrder}</span>}
          </div>
          <table class="qo-lines">
            <thead>
              <tr><th class="num">Строка</th><th>Код</th><th>Артикул</th><th>Наименование</th><th class="num">Количество</th><th class="num">Цена</th><th class="num">Сумма</th></tr>
            </thead>
            <tbody>
              {report.lines.map((l) => (
                <tr data-sku={l.sku}>
                  <td class="num">{l.rows.join(', ')}</td>
                  <td>{l.sku}<input type="hidden" name="line" value={`${l.sku}\t${l.quantity}`} /></td>
                  <td>{l.article ?? ''}</td>
                  <td>{l.name}</td>
                  <td class="num">
                    {l.quantity !== l.requested && <s class="muted" title="указано в файле">{qty(l.requested)}</s>} {qty(l.quantity)} {unitName(l.unit)}
                  </td>
                  <td class="num">{money(l.price, l.currency)}</td>
                  <td class="num">{money(l.amount, l.currency)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot><tr><td colSpan={6} class="num">Итого</td><td class="num"><b>{money(report.total, report.currency)}</b></td></tr></tfoot>
          </table>
        </form>
      ) : <p class="flash flash-error">Ни одна строка файла не подошла для заказа: исправьте строки, указанные выше, и загрузите файл снова.</p>}
    </section>
  );
}

function QuickOrderPage({ ctx, children }: { ctx: CabinetContext; children?: VNode | VNode[] | null }): VNode {
  return (
    <>
      <h1>Быстрый заказ из файла</h1>
      <div class="qo-intro">
        <UploadForm ctx={ctx} action="/cabinet/quick-order" title="Файл заказа (CSV или XLSX, до 20 МБ)" />
        <div class="card qo-help">
          <p>Две колонки: <b>артикул</b> (или код товара, или штрихкод) и <b>количество</b>. Строка заголовка — по желанию.
            CSV — в UTF-8 или Windows-1251, разделитель «;», «,» или табуляция. Дробное количество — с запятой или точкой.</p>
          <p>Количество округляется вверх до упаковки, повторы одного товара объединяются; штучный товар в дробном количестве не принимается.</p>
          <p><a href="/cabinet/quick-order/template.csv" download>Скачать образец CSV</a> · заполненный <a href="/cabinet/price-lists">прайс-лист</a> тоже подойдёт</p>
        </div>
      </div>
      {children}
    </>
  );
}

async function sendReport(request: FastifyRequest, reply: FastifyReply, deps: ServerDeps, page: 'quick-order' | 'price-lists'): Promise<FastifyReply> {
  const ctx = requireContact(request);
  let upload;
  try {
    upload = await readUploadedFile(request);
  } catch (e) {
    // A refused file: the quick-order form again with the reason above it, so the buyer can pick another.
    const refused = page === 'quick-order' ? buyerError(e) : undefined;
    if (!refused) throw e;
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Быстрый заказ" active="quick-order" flash={{ kind: 'error', text: refused.message }}><QuickOrderPage ctx={ctx} /></Layout>
    ), refused.status);
  }
  const { parsed, fileName } = upload;
  const report = await quickOrderReport(deps.db, { pricing: ctx.pricing }, parsed.rows);
  const view = <QuickOrderReportView ctx={ctx} report={report} fileName={fileName} parsed={parsed} />;
  if (page === 'price-lists') {
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Заказ из прайс-листа" active="price-lists">
        <h1>Заказ из прайс-листа</h1>
        <p><a href="/cabinet/price-lists">← к прайс-листам</a></p>
        {view}
      </Layout>
    ));
  }
  return sendPage(reply, <Layout ctx={ctx} cart={request.cabinetCart} title="Быстрый заказ — отчёт" active="quick-order"><QuickOrderPage ctx={ctx}>{view}</QuickOrderPage></Layout>);
}

export { sendReport as sendQuickOrderReport };

export async function quickOrderRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/quick-order', async (request, reply) => {
    const ctx = requireContact(request);
    const added = Number((request.query as { added?: string }).added);
    const flash = Number.isInteger(added) && added > 0
      ? { kind: 'ok' as const, text: `В корзину добавлено ${added} ${plural(added, 'позиция', 'позиции', 'позиций')}.` } : null;
    return sendPage(reply, <Layout ctx={ctx} cart={request.cabinetCart} title="Быстрый заказ" active="quick-order" flash={flash}><QuickOrderPage ctx={ctx} /></Layout>);
  });

  // A sample file with three products the buyer can actually order (on sale at its prices).
  app.get('/quick-order/template.csv', async (request, reply) => {
    const ctx = request.cabinet;
    const sample = (await sql<{ article: string }>`
      SELECT coalesce(p.article, p.code) AS article FROM products p
      JOIN prices pr ON pr.price_type_id = ${ctx.pricing.priceTypeId}::int AND pr.product_id = p.id AND pr.value > 0
      WHERE NOT p.deleted AND NOT p.placeholder ORDER BY p.code LIMIT 3`.execute(db)).rows;
    const rows = sample.length ? sample.map((s, i) => `${s.article};${[10, 2, 1][i]}`) : ['ART-0001;10'];
    const body = `\uFEFFАртикул;Количество\r\n${rows.join('\r\n')}\r\n`;
    return reply.header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="quick-order.csv"; filename*=UTF-8''${encodeURIComponent('образец-заказа.csv')}`)
      .send(body);
  });

  app.post('/quick-order', async (request, reply) => sendReport(request, reply, deps, 'quick-order'));

  // The report's lines come back as "SKU<TAB>quantity" and are resolved again (a product, a quantity
  // and a pack the server checks; never a price): what is added is what the report showed.
  app.post('/quick-order/cart', async (request, reply) => {
    const ctx = requireOrdering(request);
    const lines = fields(request.body, 'line').slice(0, 10_000).map((l, i) => {
      const [article = '', quantity = ''] = l.split('\t');
      return { row: i + 1, article: article.trim(), quantity: quantity.trim() };
    });
    if (!lines.length) throw new CabinetError(400, 'Нет строк для добавления в корзину: загрузите файл заказа.');
    const report = await quickOrderReport(db, { pricing: ctx.pricing }, lines);
    // The cart's own service adds them (legal entity checked, quantities add up, pieces whole, priced now).
    const added = await addToCart(db, shopperOf(ctx), report.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })));
    const n = added.added.length;
    const skipped = report.unknown.length + report.rejected.length + added.problems.length;
    const text = `В корзину «${ctx.legalEntity.name}» добавлено ${n} ${plural(n, 'позиция', 'позиции', 'позиций')}${skipped ? `; ${skipped} не добавлено (товары недоступны)` : ''}.`;
    if (!isHtmx(request)) return reply.redirect(`/cabinet/quick-order?added=${n}`, 303);
    const summary = await cartSummary(db, { contactId: ctx.contact.id, legalEntityId: ctx.legalEntity.id, pricing: ctx.pricing });
    return sendFragment(reply, <><CartTotal summary={summary} /><Flash kind={skipped ? 'info' : 'ok'} oob>{text} <a href="/cabinet/cart">Перейти в корзину</a></Flash></>);
  });
}
