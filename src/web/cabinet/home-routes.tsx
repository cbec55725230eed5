// The cabinet's start page: for a signed-in contact a greeting, the legal entity it acts for with its
// requisites, and the ways to order; an anonymous visitor goes straight to the catalog.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { sendPage } from '../render.tsx';
import { Layout } from './layout.tsx';

export async function homeRoutes(app: FastifyInstance, _deps: ServerDeps): Promise<void> {
  app.get('/', async (request, reply) => {
    const ctx = request.cabinet;
    if (!ctx.contact) return reply.redirect('/cabinet/catalog', 303);
    const q = request.query as { welcome?: string; registered?: string; sent?: string };
    const flash = q.registered ? { kind: 'ok' as const, text: 'Регистрация принята. Менеджер проверит компанию; до этого вам видны базовые цены.' }
      : q.welcome ? { kind: 'ok' as const, text: 'Пароль сохранён. Добро пожаловать в кабинет!' }
        : q.sent ? { kind: 'ok' as const, text: 'Сообщение отправлено менеджеру.' } : null;
    const le = ctx.legalEntity;
    const firstName = ctx.contact.name.split(/\s+/)[0];
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Главная" active="home" flash={flash}>
        <h1>Здравствуйте, {firstName}!</h1>
        <div class="cards">
          {le && (
            <section class="card">
              <h2>{le.name}</h2>
              <dl class="requisites">
                {le.inn && <><dt>ИНН</dt><dd>{le.inn}</dd></>}
                {le.kpp && <><dt>КПП</dt><dd>{le.kpp}</dd></>}
                {le.address && <><dt>Адрес</dt><dd>{le.address}</dd></>}
                <dt>Ваша роль</dt><dd>{le.role === 'head' ? 'руководитель (видит все заказы юрлица)' : 'сотрудник (видит свои заказы)'}</dd>
                <dt>Цены</dt><dd>{ctx.pricing.source === 'agreement' ? 'по договору' : `базовые, ${ctx.city?.name ?? ''}`}{ctx.pricing.discountPercent !== '0' ? `, скидка ${ctx.pricing.discountPercent.replace('.', ',')} %` : ''}</dd>
              </dl>
              {ctx.legalEntities.length > 1 && <p class="hint">Другое юрлицо выбирается в строке вверху страницы.</p>}
            </section>
          )}
          <section class="card">
            <h2>Как заказать</h2>
            <ul class="actions">
              <li><a href="/cabinet/catalog">Каталог</a> — плиткой или таблицей с количеством в каждой строке</li>
              <li><a href="/cabinet/quick-order">Быстрый заказ из файла</a> — CSV или XLSX: артикул и количество</li>
              <li><a href="/cabinet/price-lists">Прайс-лист</a> — скачайте XLSX, впишите количества и загрузите обратно</li>
              <li><a href="/cabinet/cart">Сохранённые корзины</a> — повторяющиеся заказы в один клик</li>
            </ul>
          </section>
        </div>
      </Layout>
    ));
  });
}
