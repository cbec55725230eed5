// Price lists (/cabinet/price-lists): a checkbox tree of catalog sections with the number of products
// the buyer can order in each, downloads as XLSX or PDF at the buyer's prices (streamed as written),
// and the upload of a filled XLSX price list, which becomes the quick-order report and then the cart.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { VNode } from 'preact';
import { sql } from 'kysely';
import type { ServerDeps } from '../../api/deps.ts';
import type { CabinetContext } from '../../cabinet/context.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { UploadError } from '../../cabinet/upload-error.ts';
import { priceListMeta, writePriceListPdf, writePriceListXlsx, type PriceListScope } from '../../cabinet/price-list.ts';
import { plural, sendPage } from '../render.tsx';
import { Layout } from './layout.tsx';
import { fields, requireContact } from './request.ts';
import { WorkGate } from '../../cabinet/gate.ts';
import { sendQuickOrderReport, UploadForm } from './quick-order.tsx';

interface GroupNode { id: number; parentId: number | null; code: string; name: string; count: number; children: GroupNode[] }

/** The group tree with, per group, the products (its own and its sub-groups') priced for the buyer. */
async function groupTree(db: ServerDeps['db'], ctx: CabinetContext): Promise<GroupNode[]> {
  const rows = (await sql<{ id: number; parent_id: number | null; code: string; name: string; n: number }>`
    SELECT g.id, g.parent_id, g.code, g.name, count(p.id)::int AS n
    FROM groups g
    LEFT JOIN products p ON p.group_id = g.id AND NOT p.deleted AND NOT p.placeholder
      AND EXISTS (SELECT 1 FROM prices pr WHERE pr.price_type_id = ${ctx.pricing.priceTypeId}::int AND pr.product_id = p.id AND pr.value > 0)
    WHERE NOT g.deleted AND NOT g.placeholder
    GROUP BY g.id ORDER BY g.name`.execute(db)).rows;
  const byId = new Map(rows.map((r) => [r.id, { id: r.id, parentId: r.parent_id, code: r.code, name: r.name, count: r.n, children: [] as GroupNode[] }]));
  const roots: GroupNode[] = [];
  for (const g of byId.values()) {
    const parent = g.parentId === null ? undefined : byId.get(g.parentId);
    (parent ? parent.children : roots).push(g);
  }
  const total = (g: GroupNode, seen: Set<number>): number => {
    if (seen.has(g.id)) return 0;
    seen.add(g.id);
    g.count += g.children.reduce((s, c) => s + total(c, seen), 0);
    return g.count;
  };
  const seen = new Set<number>();
  for (const r of roots) total(r, seen);
  return roots.filter((r) => r.count > 0);
}

function Tree({ nodes, chosen }: { nodes: GroupNode[]; chosen: Set<string> }): VNode {
  return (
    <ul class="pl-tree">
      {nodes.filter((n) => n.count > 0).map((n) => (
        <li>
          <label><input type="checkbox" name="group" value={n.code} checked={chosen.has(n.code)} /> {n.name} <small>{n.count} {plural(n.count, 'товар', 'товара', 'товаров')}</small></label>
          {n.children.length > 0 && <Tree nodes={n.children} chosen={chosen} />}
        </li>
      ))}
    </ul>
  );
}

const scopeOf = (ctx: CabinetContext): PriceListScope => ({ pricing: ctx.pricing, cityId: ctx.city?.id ?? null });

export async function priceListRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/price-lists', async (request, reply) => {
    const ctx = request.cabinet;
    const tree = await groupTree(db, ctx);
    const chosen = new Set(fields(request.query, 'group'));
    const whose = ctx.legalEntity && ctx.contact ? `для «${ctx.legalEntity.name}»` : `базовые, ${ctx.city?.name ?? ''}`;
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Прайс-листы" active="price-lists">
        <h1>Прайс-листы</h1>
        <div class="pl-layout">
          <form class="card pl-choose" method="get" action="/cabinet/price-lists/download">
            <h2>Разделы каталога</h2>
            <p class="hint">Отметьте один или несколько разделов (подразделы входят в раздел). Цены — {whose}; остатки — склады города {ctx.city?.name ?? ''}.</p>
            {tree.length ? <Tree nodes={tree} chosen={chosen} /> : <p>В каталоге нет товаров с ценами для вас.</p>}
            <div class="pl-buttons">
              <button type="submit" name="format" value="xlsx" class="primary">Скачать XLSX</button>
              <button type="submit" name="format" value="pdf">Скачать PDF</button>
            </div>
          </form>
          {ctx.contact ? (
            <div class="pl-upload">
              <UploadForm ctx={ctx} action="/cabinet/price-lists/upload" title="Заказ из прайс-листа: загрузите XLSX с заполненной колонкой «Заказ»" />
              <p class="hint">Скачайте прайс-лист в XLSX, впишите количества в колонку «Заказ» и загрузите файл: вы увидите отчёт и добавите найденное в корзину.</p>
            </div>
          ) : <p class="card hint">Войдите, чтобы видеть свои цены и заказывать из прайс-листа.</p>}
        </div>
      </Layout>
    ));
  });

  // Each price list holds a cursor and a pool connection while it is written (seconds for a big one):
  // two at once in the process, one per session (src/cabinet/gate.ts).
  const gate = new WorkGate(2);

  app.get('/price-lists/download', async (request, reply) => {
    const ctx = request.cabinet;
    const q = request.query as Record<string, unknown>;
    const groups = fields(q, 'group');
    const format = fields(q, 'format')[0] === 'pdf' ? 'pdf' : 'xlsx';
    const scope = scopeOf(ctx);
    const customer = ctx.contact ? ctx.legalEntity?.name : undefined;
    // Refused before any byte is sent, so the buyer gets the message on a page, not a broken file.
    let meta;
    try {
      meta = await priceListMeta(db, scope, groups);
    } catch (e) {
      if (e instanceof UploadError) throw new CabinetError(e.status, e.message);
      throw e;
    }
    const base = `Прайс-лист ${meta.groups.map((g) => g.name).join(', ').slice(0, 80)} ${new Date().toLocaleDateString('ru-RU', { timeZone: 'Europe/Moscow' })}`;
    const fileName = `${base.replace(/[\\/:*?"<>|«»]/g, '').trim()}.${format}`;
    const entered = gate.enter(ctx.session.idHash);
    if (entered === 'session') throw new CabinetError(429, 'Прайс-лист уже формируется: дождитесь, пока скачается предыдущий.');
    if (entered === 'busy') throw new CabinetError(429, 'Сейчас формируется много прайс-листов. Повторите через минуту.');
    const out = new PassThrough();
    const write = format === 'pdf' ? writePriceListPdf : writePriceListXlsx;
    write(db, scope, { groups, customer }, out).catch((e: unknown) => {
      // 499: the buyer cancelled the download (the cursor's transaction has ended); anything else is ours.
      if (e instanceof UploadError && e.status === 499) request.log.info('price list download cancelled');
      else request.log.error({ err: e }, 'price list failed');
      out.destroy();
    }).finally(entered);
    return reply
      .header('content-type', format === 'pdf' ? 'application/pdf' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="price-list.${format}"; filename*=UTF-8''${encodeURIComponent(fileName)}`)
      .header('cache-control', 'no-store')
      .send(out);
  });

  app.post('/price-lists/upload', async (request, reply) => {
    requireContact(request);
    return sendQuickOrderReport(request, reply, deps, 'price-lists');
  });
}
