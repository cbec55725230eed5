// Search in the cabinet: /cabinet/search?q= (the portal's understanding: morphology, typos, wrong
// keyboard layout, synonyms, prefixes; "Показаны результаты для …" when the query was read otherwise)
// and /cabinet/search/suggest?q=, the autocomplete fragment under the header's search box (completions,
// brands, groups, and products with image and the visitor's own price).
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { completions, understand } from '../../search/understand.ts';
import { codeMatches, searchProducts, suggest, SuggestTopCache } from '../../api/portal/search-query.ts';
import { SUGGEST_SAMPLE } from '../../api/portal/search-routes.ts';
import { tunedRead } from '../../api/portal/catalog-query.ts';
import { ensureOffers } from '../../portal/offers.ts';
import { cityWarehouses, stockByWarehouse } from '../../cabinet/catalog.ts';
import { money, plural, sendFragment, sendPage, unitName } from '../render.tsx';
import { Layout } from './layout.tsx';
import { ProductTable, Tiles, type ListedProduct } from './catalog-views.tsx';

const PAGE = 30;
const MAX_QUERY = 200;

const one = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '').trim().slice(0, MAX_QUERY);

export async function searchRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  // Autocomplete's ranked matches per query, kept while the catalog version holds (search-query.ts).
  const tops = new SuggestTopCache();

  app.get('/search', async (request, reply) => {
    const ctx = request.cabinet;
    const qs = request.query as Record<string, unknown>;
    const q = one(qs.q);
    const offset = Math.max(0, Math.min(10_000, Number.parseInt(one(qs.offset) || '0', 10) || 0));
    if (!q || !/[0-9a-zа-яё]/i.test(q)) {
      return sendPage(reply, (
        <Layout ctx={ctx} cart={request.cabinetCart} title="Поиск" active="search">
          <h1>Поиск</h1>
          <p class="empty">Введите в строке поиска название, артикул или штрихкод товара.</p>
        </Layout>
      ));
    }
    const { u, found, stock, warehouses } = await tunedRead(db, async (tx) => {
      const u = await understand(tx, q);
      let found = null;
      // A code (one word with a digit) that is some product's article, barcode or SKU: those products alone.
      if (!/\s/.test(q) && /[0-9]/.test(q)) {
        const exact = await searchProducts(tx, ctx.scope, { ...u, terms: [] }, { limit: PAGE, offset });
        if (exact.total > 0) found = exact;
      }
      const understood = found ? { ...u, corrected: null, ignored: [] } : u;
      found ??= await searchProducts(tx, ctx.scope, u, { limit: PAGE, offset });
      const warehouses = await cityWarehouses(tx, ctx.scope.cityId);
      const stock = await stockByWarehouse(tx, found.rows.map((r) => Number(r.id)), warehouses);
      return { u: understood, found, stock, warehouses };
    });
    const rows: ListedProduct[] = found.rows.map((r) => {
      const id = Number(r.id);
      let sum = 0;
      for (const v of stock.get(id)?.values() ?? []) sum += Number(v);
      return { ...r, id, stock: String(sum) };
    });
    const href = (o: number) => `/cabinet/search?q=${encodeURIComponent(q)}${o ? `&offset=${o}` : ''}`;
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title={`Поиск: ${q}`} active="search">
        <h1>Поиск: «{q}»</h1>
        {u.corrected && <p class="corrected">Показаны результаты для «<b>{u.corrected}</b>»</p>}
        {u.ignored.length > 0 && <p class="hint">Не нашлось товаров со словами: {u.ignored.map((w) => `«${w}»`).join(', ')} — они не учтены.</p>}
        <p class="found">Найдено {found.total} {plural(found.total, 'товар', 'товара', 'товаров')}</p>
        {rows.length === 0
          ? <p class="empty">Ничего не нашлось. Проверьте написание или поищите по артикулу; разделы — в <a href="/cabinet/catalog">каталоге</a>.</p>
          : ctx.prefs.view === 'table'
            ? <ProductTable ctx={ctx} rows={rows} warehouses={warehouses} stock={stock} />
            : <Tiles ctx={ctx} rows={rows} />}
        <div class="pager">
          {offset > 0 && <a href={href(Math.max(0, offset - PAGE))}>← Назад</a>}
          {offset + rows.length < found.total && <a class="button" href={href(offset + PAGE)}>Ещё {PAGE} →</a>}
        </div>
      </Layout>
    ));
  });

  app.get('/search/suggest', async (request, reply) => {
    const ctx = request.cabinet;
    const q = one((request.query as Record<string, unknown>).q);
    // One letter matches half the catalog: nothing to suggest yet.
    if (q.length < 2 || !/[0-9a-zа-яё]/i.test(q)) return sendFragment(reply, <></>);
    await ensureOffers(db, ctx.scope.cityId);
    const { u, s, codes } = await tunedRead(db, async (tx) => {
      const u = await understand(tx, q, { prefix: true });
      const typing = u.terms[u.terms.length - 1];
      const words = typing?.prefix ? await completions(tx, typing.text, 10) : [];
      const codes = await codeMatches(tx, ctx.scope, u, 6);
      const s = await suggest(tx, ctx.scope, u, { completions: words, products: 6, cap: SUGGEST_SAMPLE, limit: 4, tops });
      return { u, s, codes };
    }, { oneSnapshot: true });
    const seen = new Set(codes.map((c) => c.sku));
    const products = [...codes, ...s.products.filter((p) => !seen.has(p.sku))].slice(0, 6);
    const typing = u.terms[u.terms.length - 1];
    const before = (typing?.prefix ? u.terms.slice(0, -1) : u.terms).map((t) => t.text);
    if (!products.length && !s.words.length && !s.groups.length && !s.values.length) {
      return sendFragment(reply, <div class="suggest-box"><p class="muted suggest-none">Ничего не нашлось по «{q}»</p></div>);
    }
    return sendFragment(reply, (
      <div class="suggest-box" role="listbox" aria-label="Подсказки">
        {u.corrected && <p class="suggest-corrected">Показаны результаты для «{u.corrected}»</p>}
        {(s.words.length > 0 || s.values.length > 0 || s.groups.length > 0) && (
          <ul class="suggest-terms">
            {s.words.map((w) => {
              const text = [...before, w.text].join(' ');
              return <li><a href={`/cabinet/search?q=${encodeURIComponent(text)}`}>{text} <small>{w.count}</small></a></li>;
            })}
            {s.values.map((v) => <li><a href={`/cabinet/catalog?prop=${encodeURIComponent(`${v.property}:${v.value}`)}`}>{v.label} <small>бренд · {v.count}</small></a></li>)}
            {s.groups.map((g) => <li><a href={`/cabinet/catalog?group=${encodeURIComponent(g.code)}`}>{g.name} <small>раздел · {g.count}</small></a></li>)}
          </ul>
        )}
        <ul class="suggest-products">
          {products.map((p) => (
            <li>
              <a href={`/cabinet/product/${encodeURIComponent(p.sku)}`} class="suggest-product">
                {p.image_url ? <img class="pic" src={p.image_url} alt="" /> : <span class="pic pic-none" aria-hidden="true">{p.name.slice(0, 1)}</span>}
                <span class="suggest-name">{p.name}<small>{p.article ?? p.sku}</small></span>
                <span class="suggest-price">{p.price !== null ? <>{money(p.price, p.currency)}<small> / {unitName(p.unit)}</small></> : 'цена по запросу'}</span>
              </a>
            </li>
          ))}
        </ul>
        <a class="suggest-all" href={`/cabinet/search?q=${encodeURIComponent(q)}`}>Все результаты по «{q}» →</a>
      </div>
    ));
  });
}
