// The catalog's pieces of page: the group tree with counts, the filters with narrowing counts, the
// product listing as tiles or as a dense table (quantity input on every row, stock per warehouse of
// the city), the paging links, and the "add to cart" controls that post to /cabinet/cart/add.
import type { VNode } from 'preact';
import type { CabinetContext } from '../../cabinet/context.ts';
import type { WarehouseRef } from '../../cabinet/catalog.ts';
import type { GroupRow } from '../../api/portal/catalog-query.ts';
import { money, plural, qty, unitName } from '../render.tsx';

/** A product row as listings show it (catalog pages and search results alike). */
export interface ListedProduct {
  id: number;
  sku: string;
  name: string;
  article: string | null;
  unit: string | null;
  image_url: string | null;
  price: string | null;
  currency: string | null;
  promotion?: string | null;
  /** Total stock in the city's warehouses. */
  stock: string;
}

/** Links inside the catalog swap the catalog block only (and keep the address bar in step). */
export function navAttrs(url: string): Record<string, string> {
  return { href: url, 'hx-get': url, 'hx-target': '#catalog', 'hx-select': '#catalog', 'hx-swap': 'outerHTML', 'hx-push-url': 'true' };
}

/** The cart controls post here; the answer is the context bar's cart total (H3's route). */
const CART_ATTRS = { 'hx-post': '/cabinet/cart/add', 'hx-target': '#cart-total', 'hx-swap': 'outerHTML', 'hx-select': '#cart-total' } as const;

export function GroupTree({ tree, active, hrefOf }: { tree: GroupRow[]; active: string | undefined; hrefOf: (code: string | undefined) => string }): VNode {
  const total = tree.filter((g) => g.level === 0).reduce((a, g) => a + g.count, 0);
  return (
    <nav class="group-tree" aria-label="Разделы каталога">
      <a {...navAttrs(hrefOf(undefined))} class={active === undefined ? 'active' : undefined}>Весь каталог <small>{total}</small></a>
      {tree.map((g) => (
        <a {...navAttrs(hrefOf(g.code))} class={g.code === active ? 'active' : undefined} style={`padding-left: ${0.6 + g.level * 0.9}rem`}>
          {g.name} <small>{g.count}</small>
        </a>
      ))}
    </nav>
  );
}

export interface FacetView {
  properties: Array<{ code: string; name: string; type: string; values: Array<{ value: string; label: string; count: number; selected: boolean }> }>;
  price: { min: string | null; max: string | null };
  inStock: number;
}

export function Filters({ facets, group, sort, priceMin, priceMax, inStock, total }: {
  facets: FacetView; group: string | undefined; sort: string; priceMin: string; priceMax: string; inStock: boolean; total: number;
}): VNode {
  return (
    <form class="filters" method="get" action="/cabinet/catalog" hx-get="/cabinet/catalog" hx-trigger="change, submit"
      hx-target="#catalog" hx-select="#catalog" hx-swap="outerHTML" hx-push-url="true">
      {group && <input type="hidden" name="group" value={group} />}
      <input type="hidden" name="sort" value={sort} />
      <fieldset>
        <legend>Цена, ₽</legend>
        <div class="price-range">
          <input type="text" inputMode="decimal" name="priceMin" value={priceMin} aria-label="Цена от" placeholder={facets.price.min ? `от ${qty(facets.price.min)}` : 'от'} />
          <input type="text" inputMode="decimal" name="priceMax" value={priceMax} aria-label="Цена до" placeholder={facets.price.max ? `до ${qty(facets.price.max)}` : 'до'} />
        </div>
      </fieldset>
      <label class="check">
        <input type="checkbox" name="inStock" value="1" checked={inStock} /> В наличии <small>{facets.inStock}</small>
      </label>
      {facets.properties.map((p) => (
        <fieldset data-property={p.code}>
          <legend>{p.name}</legend>
          {p.values.map((v) => (
            <label class={`check${v.count === 0 && !v.selected ? ' empty' : ''}`}>
              <input type="checkbox" name="prop" value={`${p.code}:${v.value}`} checked={v.selected} disabled={v.count === 0 && !v.selected} />
              {' '}{v.label} <small class="count">{v.count}</small>
            </label>
          ))}
        </fieldset>
      ))}
      <div class="filter-actions">
        <button type="submit" class="primary">Показать {total} {plural(total, 'товар', 'товара', 'товаров')}</button>
        <a {...navAttrs(`/cabinet/catalog${group ? `?group=${encodeURIComponent(group)}` : ''}`)}>Сбросить</a>
      </div>
    </form>
  );
}

export const SORT_OPTIONS: Array<{ value: string; label: string }> = [
  { value: '-popularity', label: 'по популярности' },
  { value: 'price', label: 'сначала дешевле' },
  { value: '-price', label: 'сначала дороже' },
  { value: 'name', label: 'по названию' },
  { value: '-promotion', label: 'сначала акции' },
];

/** Sort choice and the tiles/table switch (remembered through POST /cabinet/context). */
export function Toolbar({ ctx, sort, sortHref, found }: { ctx: CabinetContext; sort: string; sortHref: (sort: string) => string; found: string }): VNode {
  return (
    <div class="catalog-toolbar">
      <span class="found">{found}</span>
      <span class="sorts" role="group" aria-label="Сортировка">
        Сортировка:{' '}
        {SORT_OPTIONS.map((o) => (o.value === sort
          ? <b aria-current="true">{o.label}</b>
          : <a {...navAttrs(sortHref(o.value))} data-sort={o.value}>{o.label}</a>))}
      </span>
      <form class="view-switch" method="post" action="/cabinet/context" hx-post="/cabinet/context" hx-swap="none">
        <input type="hidden" name="_csrf" value={ctx.session.csrf} />
        <button type="submit" name="view" value="tiles" class={ctx.prefs.view === 'tiles' ? 'on' : undefined} aria-pressed={ctx.prefs.view === 'tiles'}>Плитка</button>
        <button type="submit" name="view" value="table" class={ctx.prefs.view === 'table' ? 'on' : undefined} aria-pressed={ctx.prefs.view === 'table'}>Таблица</button>
      </form>
    </div>
  );
}

function Picture({ p }: { p: ListedProduct }): VNode {
  if (p.image_url) return <img class="pic" src={p.image_url} alt="" loading="lazy" />;
  return <span class="pic pic-none" aria-hidden="true">{p.name.slice(0, 1)}</span>;
}

function StockLine({ p }: { p: ListedProduct }): VNode {
  return Number(p.stock) > 0
    ? <span class="stock in">в наличии {qty(p.stock)} {unitName(p.unit)}</span>
    : <span class="stock out">нет в наличии</span>;
}

/** The quantity and "В корзину" of one product; anonymous visitors and those who cannot order get why not. */
function AddOne({ ctx, p, initial }: { ctx: CabinetContext; p: ListedProduct; initial: string }): VNode {
  if (!ctx.contact) return <a class="login-to-order" href="/cabinet/login">Войдите, чтобы заказать</a>;
  if (!ctx.canOrder || p.price === null) return <span class="muted">—</span>;
  return (
    <span class="add-one">
      <input type="hidden" name="sku" value={p.sku} />
      <input type="number" name="quantity" min="0" step="any" value={initial} aria-label={`Количество: ${p.name}`} />
      <button type="button" class="primary" {...CART_ATTRS} hx-include="closest .add-one">В корзину</button>
    </span>
  );
}

export function Tiles({ ctx, rows }: { ctx: CabinetContext; rows: ListedProduct[] }): VNode {
  return (
    <ul class="tiles">
      {rows.map((p) => (
        <li class="tile" data-sku={p.sku}>
          <a href={`/cabinet/product/${encodeURIComponent(p.sku)}`} class="tile-pic"><Picture p={p} /></a>
          {p.promotion && <span class="badge">{p.promotion}</span>}
          <a href={`/cabinet/product/${encodeURIComponent(p.sku)}`} class="tile-name">{p.name}</a>
          <small class="muted">{p.article ?? p.sku}</small>
          <span class="price">{p.price !== null ? <>{money(p.price, p.currency)}<small> / {unitName(p.unit)}</small></> : 'цена по запросу'}</span>
          <StockLine p={p} />
          <AddOne ctx={ctx} p={p} initial="1" />
        </li>
      ))}
    </ul>
  );
}

/**
 * Sends only the rows whose quantity was typed (pairs stay aligned: htmx rebuilds the body from the
 * form data per name, in order); none typed: nothing is sent and the page says why.
 */
const ONLY_FILLED_ROWS = `const f = event.detail.formData, s = f.getAll('sku'), q = f.getAll('quantity');
f.delete('sku'); f.delete('quantity');
s.forEach((x, i) => { if (String(q[i] ?? '').trim() !== '') { f.append('sku', x); f.append('quantity', q[i]); } });
if (!f.getAll('sku').length) { event.preventDefault(); const m = document.getElementById('flash');
  if (m) { m.className = 'flash flash-error'; m.textContent = 'Укажите количество хотя бы в одной строке таблицы.'; } }`;

/**
 * The table for professionals: every row has its quantity; a row's button adds that row, the button
 * under the table adds every row with a quantity typed.
 */
export function ProductTable({ ctx, rows, warehouses, stock }: {
  ctx: CabinetContext; rows: ListedProduct[]; warehouses: WarehouseRef[]; stock: Map<number, Map<number, string>>;
}): VNode {
  const ordering = ctx.contact !== null && ctx.canOrder;
  return (
    <div id="catalog-table-wrap">
      <table class="products" id="catalog-table">
        <thead>
          <tr>
            <th>Артикул</th><th>Наименование</th><th>Ед.</th><th class="num">Цена</th>
            {warehouses.map((w) => <th class="num" title={w.name}>{w.name.replace(/^.*?,\s*/, '')}</th>)}
            {ordering && <th class="num">Количество</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((p) => (
            <tr data-sku={p.sku}>
              <td class="nowrap">{p.article ?? p.sku}</td>
              <td>
                <a href={`/cabinet/product/${encodeURIComponent(p.sku)}`}>{p.name}</a>
                {p.promotion && <span class="badge small">{p.promotion}</span>}
              </td>
              <td>{unitName(p.unit)}</td>
              <td class="num price">{money(p.price, p.currency)}</td>
              {warehouses.map((w) => {
                const q = stock.get(p.id)?.get(w.id);
                return <td class={`num${q ? '' : ' muted'}`}>{q ? qty(q) : '0'}</td>;
              })}
              {ordering && (
                <td class="num">
                  {p.price !== null && (
                    <span class="add-one">
                      <input type="hidden" name="sku" value={p.sku} />
                      <input type="number" name="quantity" min="0" step="any" value="" placeholder="0" aria-label={`Количество: ${p.name}`} />
                      <button type="button" {...CART_ATTRS} hx-include="closest .add-one" title="Добавить эту строку">В корзину</button>
                    </span>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {ordering && rows.length > 0 && (
        <div class="bulk-add">
          <button type="button" class="primary" {...CART_ATTRS} hx-include="#catalog-table" {...{ 'hx-on:htmx:config-request': ONLY_FILLED_ROWS }}>Добавить в корзину все строки с количеством</button>
        </div>
      )}
      {!ctx.contact && <p class="hint"><a href="/cabinet/login">Войдите</a>, чтобы видеть свои цены и заказывать.</p>}
    </div>
  );
}
