// The cabinet's catalog: /cabinet/catalog (group tree with per-city counts, filters with narrowing
// counts, sort, keyset pages, tiles or a dense table as the visitor chose) and /cabinet/product/:sku.
// Every read is the portal's own (catalog-query.ts, src/cabinet/catalog.ts) under the session's
// scope: the client's prices computed in SQL, "on sale" decided by the chosen city.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { MagistralError } from '../../errors/index.ts';
import { ensureOffers } from '../../portal/offers.ts';
import { groupTree, productPage, tunedRead, type GroupRow, type ProductQuery } from '../../api/portal/catalog-query.ts';
import { decodeCursor, encodeCursor, parsePropFilters, parseSort, shapeFacets } from '../../api/portal/catalog-routes.ts';
import { cityWarehouses, productDetail, stockByWarehouse } from '../../cabinet/catalog.ts';
import { money, plural, qty, sendPage, unitName } from '../render.tsx';
import { CsrfField, Layout } from './layout.tsx';
import { Filters, GroupTree, navAttrs, ProductTable, SORT_OPTIONS, Tiles, Toolbar } from './catalog-views.tsx';

/** Rows per page: a screen of tiles; the table is for professionals scrolling a whole section. */
const PAGE = { tiles: 24, table: 100 } as const;

/** A price bound as typed by a Russian buyer ("1 500,50"): a decimal string, or an error naming the field. */
function priceBound(raw: unknown, label: string, errors: string[]): string | undefined {
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  const v = raw.replace(/[\s\u00a0]/g, '').replace(',', '.');
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(v)) {
    errors.push(`${label}: «${raw.trim()}» — не число. Укажите цену в рублях, например 1500 или 1500,50; фильтр не применён.`);
    return undefined;
  }
  return v;
}

const one = (v: unknown): string | undefined => (Array.isArray(v) ? (typeof v[0] === 'string' ? v[0] : undefined) : typeof v === 'string' ? v : undefined);

/** The catalog address with some parameters changed (paging restarts unless given). */
function catalogHref(qs: Record<string, unknown>, change: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(qs)) {
    if (k === 'after' || k in change) continue;
    for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'string' && x !== '') p.append(k, x);
  }
  for (const [k, v] of Object.entries(change)) if (v !== undefined && v !== '') p.set(k, v);
  const s = p.toString();
  return `/cabinet/catalog${s ? `?${s}` : ''}`;
}

function breadcrumbs(tree: GroupRow[], code: string | undefined): GroupRow[] {
  const out: GroupRow[] = [];
  let g = tree.find((x) => x.code === code);
  while (g) {
    out.unshift(g);
    const parent: string | null = g.parent;
    g = parent === null ? undefined : tree.find((x) => x.code === parent);
  }
  return out;
}

/**
 * The group tree of each city, kept with the version of the city's catalog offers it was counted
 * from (catalog_offers_state, rebuilt by ensureOffers whenever the catalog changes): counting the
 * city's offers by group took 9 ms of every catalog page on the bench:api store (50,000 products).
 */
class TreeCache {
  private readonly byCity = new Map<number, { version: string; tree: GroupRow[] }>();

  async get(tx: Parameters<typeof groupTree>[0], scope: Parameters<typeof groupTree>[1]): Promise<GroupRow[]> {
    if (scope.cityId === null) return [];
    const r = await sql<{ version: string }>`SELECT version FROM catalog_offers_state WHERE city_id = ${scope.cityId}`.execute(tx);
    const version = r.rows[0]?.version;
    const kept = this.byCity.get(scope.cityId);
    if (version !== undefined && kept?.version === version) return kept.tree;
    const tree = (await groupTree(tx, scope)) ?? [];
    if (version !== undefined) this.byCity.set(scope.cityId, { version, tree });
    return tree;
  }
}

export async function catalogRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  const trees = new TreeCache();

  app.get('/catalog', async (request: FastifyRequest, reply) => {
    const ctx = request.cabinet;
    const qs = request.query as Record<string, unknown>;
    const view = ctx.prefs.view;
    const errors: string[] = [];
    const group = one(qs.group) || undefined;
    const sortText = SORT_OPTIONS.some((o) => o.value === one(qs.sort)) ? one(qs.sort)! : '-popularity';
    const sort = parseSort(sortText);
    let props;
    try {
      props = parsePropFilters(qs);
    } catch {
      throw new CabinetError(400, 'Фильтр в адресе страницы записан неверно (нужно «свойство:значение»). Откройте раздел каталога заново.');
    }
    let after;
    const afterText = one(qs.after);
    if (afterText) {
      try {
        after = decodeCursor(afterText, sort);
      } catch (e) {
        if (!(e instanceof MagistralError)) throw e;
        throw new CabinetError(400, 'Ссылка на страницу каталога устарела (сменилась сортировка). Откройте раздел заново.');
      }
    }
    const priceMin = priceBound(one(qs.priceMin), 'Цена от', errors);
    const priceMax = priceBound(one(qs.priceMax), 'Цена до', errors);
    const inStock = one(qs.inStock) === '1';
    const q: ProductQuery = { group, props, priceMin, priceMax, inStock, sort, limit: PAGE[view], after, facets: true, facetLimit: 30 };

    await ensureOffers(db, ctx.scope.cityId);
    const { tree, page, warehouses, stock } = await tunedRead(db, async (tx) => {
      const [tree, page, warehouses] = [await trees.get(tx, ctx.scope), await productPage(tx, ctx.scope, q), view === 'table' ? await cityWarehouses(tx, ctx.scope.cityId) : []];
      const stock = view === 'table' ? await stockByWarehouse(tx, page.rows.slice(0, q.limit).map((r) => r.id), warehouses) : new Map<number, Map<number, string>>();
      return { tree, page, warehouses, stock };
    });
    if (page.unknown.some((u) => u.startsWith('group'))) throw new CabinetError(404, 'Такого раздела каталога нет. Выберите раздел в списке слева.');
    if (page.unknown.length) errors.push('Фильтр по неизвестному свойству не применён.');

    const more = page.rows.length > q.limit;
    const rows = page.rows.slice(0, q.limit);
    const last = rows[rows.length - 1];
    const next = more && last ? catalogHref(qs, { after: encodeCursor(sort, last.sort_key, last.id) }) : null;
    const crumbs = breadcrumbs(tree, group);
    const title = crumbs[crumbs.length - 1]?.name ?? 'Каталог';
    const facets = shapeFacets(page, q);
    // Numbers (current, power) read best in their own order: 6, 10, 16 А, not by how many products have each.
    for (const p of facets.properties) if (p.type === 'number') p.values.sort((a, b) => Number(a.value) - Number(b.value));
    const listed = rows.map((r) => ({ ...r, promotion: r.promotion }));
    const found = `${page.total} ${plural(page.total, 'товар', 'товара', 'товаров')}`;

    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title={title} active="catalog">
        <div id="catalog" class="catalog">
          <aside class="catalog-side">
            <GroupTree tree={tree} active={group} hrefOf={(code) => catalogHref({ sort: qs.sort }, { group: code })} />
            <Filters facets={facets} group={group} sort={sortText} priceMin={one(qs.priceMin) ?? ''} priceMax={one(qs.priceMax) ?? ''} inStock={inStock} total={page.total} />
          </aside>
          <section class="catalog-main">
            <nav class="crumbs" aria-label="Путь">
              <a {...navAttrs('/cabinet/catalog')}>Каталог</a>
              {crumbs.map((g) => <> / <a {...navAttrs(catalogHref({ sort: qs.sort }, { group: g.code }))}>{g.name}</a></>)}
            </nav>
            <h1>{title}</h1>
            {errors.length > 0 && <div class="flash flash-error" role="alert">{errors.join(' ')}</div>}
            <Toolbar ctx={ctx} sort={sortText} sortHref={(s) => catalogHref(qs, { sort: s })} found={found} />
            {rows.length === 0
              ? <p class="empty">Ничего не нашлось. Уберите часть фильтров или выберите другой раздел.</p>
              : view === 'table'
                ? <ProductTable ctx={ctx} rows={listed} warehouses={warehouses} stock={stock} />
                : <Tiles ctx={ctx} rows={listed} />}
            <div class="pager">
              {after && <a {...navAttrs(catalogHref(qs, {}))}>← В начало</a>}
              {next && <a class="button" {...navAttrs(next)}>Следующие {q.limit} →</a>}
            </div>
          </section>
        </div>
      </Layout>
    ));
  });

  app.get('/product/:sku', async (request, reply) => {
    const ctx = request.cabinet;
    const { sku } = request.params as { sku: string };
    const p = await tunedRead(db, (tx) => productDetail(tx, ctx.scope, sku));
    if (!p) throw new CabinetError(404, `Товар «${sku}» не найден или не продаётся в городе ${ctx.city?.name ?? ''}.`);
    const unit = unitName(p.unit);
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title={p.name} active="catalog">
        <nav class="crumbs" aria-label="Путь">
          <a href="/cabinet/catalog">Каталог</a>
          {p.path.map((g) => <> / <a href={`/cabinet/catalog?group=${encodeURIComponent(g.code)}`}>{g.name}</a></>)}
        </nav>
        <div class="product">
          <div class="product-pic">
            {p.imageUrl ? <img src={p.imageUrl} alt={p.name} /> : <span class="pic pic-none big" aria-hidden="true">{p.name.slice(0, 1)}</span>}
          </div>
          <div class="product-main">
            <h1>{p.name}</h1>
            {p.promotion && <span class="badge">{p.promotion}</span>}
            <dl class="requisites">
              <dt>Артикул</dt><dd>{p.article ?? '—'}</dd>
              <dt>Код</dt><dd>{p.sku}</dd>
              {p.barcode && <><dt>Штрихкод</dt><dd>{p.barcode}</dd></>}
            </dl>
            <p class="product-price">
              {p.price !== null ? <><b>{money(p.price, p.currency)}</b> за {unit}</> : 'Цена по запросу'}
              {p.basePrice && <small class="muted"> · базовая цена {money(p.basePrice, p.currency)}</small>}
            </p>
            <p class="hint">{ctx.pricing.source === 'agreement' ? 'Цена по вашему договору' : `Базовая цена, ${ctx.city?.name ?? ''}`}
              {ctx.pricing.discountPercent !== '0' ? `, скидка ${ctx.pricing.discountPercent.replace('.', ',')} %` : ''}.</p>
            {p.tiers.length > 0 && (
              <table class="tiers" aria-label="Цена от количества">
                <thead><tr><th>Количество</th><th class="num">Цена за {unit}</th></tr></thead>
                <tbody>
                  {p.tiers.map((t) => <tr><td>от {qty(t.minQuantity)} {unit}</td><td class="num">{money(t.price, p.currency)}</td></tr>)}
                </tbody>
              </table>
            )}
            {ctx.contact && ctx.canOrder && p.price !== null ? (
              <form class="add-one product-add" method="post" action="/cabinet/cart/add" hx-post="/cabinet/cart/add" hx-target="#cart-total" hx-swap="outerHTML" hx-select="#cart-total">
                <CsrfField ctx={ctx} />
                <input type="hidden" name="sku" value={p.sku} />
                <label>Количество, {unit} <input type="number" name="quantity" min="0" step="any" value="1" /></label>
                <button type="submit" class="primary">В корзину</button>
              </form>
            ) : !ctx.contact ? <p><a href={`/cabinet/login?next=${encodeURIComponent(`/cabinet/product/${p.sku}`)}`}>Войдите</a>, чтобы заказать по своей цене.</p> : null}
          </div>
        </div>
        <div class="cards product-cards">
          <section class="card">
            <h2>Остатки, {ctx.city?.name}</h2>
            <table>
              <tbody>
                {p.stock.map((s) => <tr><td>{s.name}</td><td class="num">{qty(s.quantity)} {unit}</td></tr>)}
                {p.stock.length === 0 && <tr><td colSpan={2} class="muted">В этом городе нет складов</td></tr>}
                {Number(p.stockElsewhere) > 0 && <tr><td class="muted">На складах других городов</td><td class="num muted">{qty(p.stockElsewhere)} {unit}</td></tr>}
              </tbody>
            </table>
          </section>
          <section class="card">
            <h2>Единицы измерения</h2>
            <table>
              <tbody>
                <tr><td>{unit}</td><td class="muted">базовая</td></tr>
                {p.units.map((u) => <tr><td>{u.unit}</td><td>= {qty(u.factor)} {unit}</td></tr>)}
              </tbody>
            </table>
          </section>
          {p.properties.length > 0 && (
            <section class="card">
              <h2>Характеристики</h2>
              <dl class="requisites">{p.properties.map((x) => <><dt>{x.name}</dt><dd>{x.value}</dd></>)}</dl>
            </section>
          )}
        </div>
      </Layout>
    ));
  });
}
