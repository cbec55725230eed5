// Documents in a real browser: the manager publishes a contract (an .exe named .pdf is refused), the
// client's head downloads it from the documents section and uploads the signed scan (an executable
// renamed to .pdf is refused with the reason; a PNG is taken), the manager is notified by e-mail over
// real SMTP and downloads the scan; a subordinate and another client see none of it (forged ids → 404);
// an order the manager confirms gets its invoice, listed on the order page with a download.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cabinetFixture, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { startSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { parseEml } from '../helpers/mail.ts';
import { DEMO_SELLER, setPortalSetting } from '../../src/backoffice/seller.ts';
import { placeOrder } from '../../src/orders/index.ts';

let fx: CabinetFixture;
let smtp: TestSmtp;
let browser: Browser;
const ids: Record<string, number> = {};

/** A small real PDF (pdfkit), like a contract a manager uploads. */
async function contractPdf(title: string): Promise<Buffer> {
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({ size: 'A4' });
  const parts: Buffer[] = [];
  doc.on('data', (c: Buffer) => parts.push(c));
  const done = new Promise<Buffer>((r) => doc.on('end', () => r(Buffer.concat(parts))));
  doc.fontSize(14).text(title);
  doc.end();
  return done;
}
/** What Windows runs: the MZ header of a PE file. */
const EXE = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00\x04\x00', 'latin1'), Buffer.alloc(200, 0x41)]);
const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
const text = async (page: Page, sel: string) => (await page.locator(sel).first().innerText()).replace(/\s+/g, ' ').trim();

async function signedIn(user?: { email: string; password: string }): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' });
  const page = await ctx.newPage();
  await fx.signIn(page, user);
  return { ctx, page };
}

beforeAll(async () => {
  smtp = await startSmtp();
  fx = await cabinetFixture('docs-web', { env: { SMTP_URL: smtp.url } });
  const db = fx.tp.rt.db;
  for (const [k, v] of Object.entries(DEMO_SELLER)) await setPortalSetting(db, k, v);
  for (const [k, code] of [['c1', 'C1'], ['c2', 'C2']] as const) ids[k] = Number((await db.selectFrom('clients').select('id').where('code', '=', code).executeTakeFirstOrThrow()).id);
  ids.p1 = Number((await db.selectFrom('contacts').select('id').where('code', '=', 'P1').executeTakeFirstOrThrow()).id);
  ids.le1 = Number((await db.selectFrom('legal_entities').select('id').where('code', '=', 'LE1').executeTakeFirstOrThrow()).id);
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await fx?.close();
  await smtp?.close();
});

describe('contracts and scans', () => {
  let contractId = 0;
  let pdf: Buffer;

  it('the manager publishes a contract for an own client; an executable named .pdf is refused', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' });
    const page = await ctx.newPage();
    await fx.signInManager(page);
    await page.goto(`${fx.baseUrl}/manager/clients/${ids.c1}/documents`);
    expect(await text(page, 'h1')).toBe('Документы клиента «ГК Энергомонтаж»');

    await page.getByLabel('Название').fill('Договор поставки № 15/2026');
    await page.getByLabel('Файл PDF').setInputFiles({ name: 'dogovor.pdf', mimeType: 'application/pdf', buffer: EXE });
    await page.getByRole('button', { name: 'Опубликовать' }).click();
    expect(await text(page, '#flash')).toMatch(/Документ «dogovor\.pdf» не принят: по содержимому это исполняемая программа Windows \(EXE\/DLL\), а нужен файл PDF/);
    expect(await page.getByLabel('Название').inputValue()).toBe('Договор поставки № 15/2026');
    await shot(page, 'manager-publish-refused', 'backoffice');
    expect(await fx.tp.rt.db.selectFrom('client_documents').select('id').execute()).toEqual([]);

    pdf = await contractPdf('Dogovor postavki 15/2026');
    await page.getByLabel('Номер').fill('15/2026');
    await page.getByLabel('Юрлицо').selectOption({ label: 'ООО «Энергомонтаж», ИНН 7704010015' });
    await page.getByLabel('Файл PDF').setInputFiles({ name: 'Договор поставки 15-2026.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.getByRole('button', { name: 'Опубликовать' }).click();
    await page.waitForURL(/published=1/);
    expect(await text(page, '#flash')).toContain('Документ опубликован');
    expect(await text(page, 'table.contracts')).toMatch(/Договор поставки № 15\/2026 Договор № 15\/2026 ООО «Энергомонтаж» .* ждёт скан нет/);
    await shot(page, 'manager-client-documents', 'backoffice');
    const row = await fx.tp.rt.db.selectFrom('client_documents').selectAll().executeTakeFirstOrThrow();
    contractId = Number(row.id);
    expect(row).toMatchObject({ client_id: ids.c1, legal_entity_id: ids.le1, status: 'published', sha256: sha(pdf), file_name: 'Договор поставки 15-2026.pdf' });
    // The client's heads hear of it.
    const mail = await fx.tp.rt.db.selectFrom('email_outbox').select(['to_address', 'subject']).where('kind', '=', 'document-new').execute();
    expect(mail).toEqual([{ to_address: DEMO_USERS.head.email, subject: 'Новый документ: Договор поставки № 15/2026' }]);

    // Another manager cannot publish for this client (403, audited), nor download its contract (404).
    const m2 = await browser.newContext();
    const p2 = await m2.newPage();
    await fx.signInManager(p2, { email: 'o.kuznetsov@magistral.example', password: 'Пароль-manager-2' });
    const r = await p2.goto(`${fx.baseUrl}/manager/clients/${ids.c1}/documents`);
    expect(r?.status()).toBe(403);
    expect((await m2.request.get(`${fx.baseUrl}/manager/documents/contracts/${contractId}/file`)).status()).toBe(404);
    const denied = await fx.tp.rt.db.selectFrom('audit_log').select('action').where('outcome', '=', 'denied').where('client_id', '=', ids.c1!).execute();
    expect(denied.map((d) => d.action)).toContain('documents.view');
    await m2.close();
    await ctx.close();
  });

  it('the head downloads it and uploads the signed scan; an executable renamed to .pdf is refused; the manager is notified and downloads the scan', async () => {
    const { ctx, page } = await signedIn(DEMO_USERS.head);
    await page.goto(`${fx.baseUrl}/cabinet/documents`);
    expect(await text(page, `tr[data-doc="client-${contractId}"]`)).toMatch(/Договор поставки № 15\/2026 Договор № 15\/2026 .* Ждёт подписанный скан Скачать/);
    await shot(page, 'cabinet-documents', 'backoffice');
    const dl = await ctx.request.get(`${fx.baseUrl}/cabinet/documents/contracts/${contractId}/file`);
    expect(dl.status()).toBe(200);
    expect(dl.headers()['content-type']).toBe('application/pdf');
    expect(dl.headers()['x-content-type-options']).toBe('nosniff');
    expect(dl.headers()['content-disposition']).toMatch(/^attachment; filename=".*\.pdf"; filename\*=UTF-8''/);
    expect(sha(await dl.body())).toBe(sha(pdf));

    await page.getByRole('link', { name: 'Договор поставки № 15/2026' }).click();
    await page.getByLabel('Файл скана').setInputFiles({ name: 'scan.pdf', mimeType: 'application/pdf', buffer: EXE });
    await page.getByRole('button', { name: 'Загрузить скан' }).click();
    expect(await text(page, '#flash')).toMatch(/Скан «scan\.pdf» не принят: по содержимому это исполняемая программа Windows \(EXE\/DLL\), а нужен файл PDF, JPEG или PNG \(расширение в имени файла не меняет его содержимое\)/);
    await shot(page, 'cabinet-scan-refused', 'backoffice');
    expect(await fx.tp.rt.db.selectFrom('client_document_scans').select('id').execute()).toEqual([]);

    const png = await page.screenshot({ clip: { x: 0, y: 0, width: 300, height: 200 } });
    await page.getByLabel('Файл скана').setInputFiles({ name: 'подписанный договор.png', mimeType: 'image/png', buffer: png });
    await page.getByRole('button', { name: 'Загрузить скан' }).click();
    await page.waitForURL(/uploaded=1/);
    expect(await text(page, '#flash')).toBe('Скан загружен. Менеджер получил уведомление.');
    expect(await text(page, 'dl.requisites')).toContain('Скан загружен');
    expect(await text(page, 'ul.scans')).toMatch(/подписанный договор\.png/);
    await shot(page, 'cabinet-scan-uploaded', 'backoffice');
    const scan = await fx.tp.rt.db.selectFrom('client_document_scans').selectAll().executeTakeFirstOrThrow();
    expect(scan).toMatchObject({ content_type: 'image/png', sha256: sha(png), uploaded_by: ids.p1 });

    // The manager's e-mail, delivered over SMTP.
    const got = await (async () => {
      for (let i = 0; i < 100; i++) {
        const m = smtp.received.find((x) => x.to.includes('i.petrova@magistral.example') && /Скан подписанного документа/.test(parseEml(x.raw).subject));
        if (m) return m;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('no contract-scan e-mail');
    })();
    expect(parseEml(got.raw).subject).toBe('Скан подписанного документа: Договор поставки № 15/2026 — ГК Энергомонтаж');
    expect(parseEml(got.raw).body).toContain('подписанный договор.png');
    const audit = await fx.tp.rt.db.selectFrom('audit_log').select(['actor_kind', 'action']).where('action', '=', 'contract.scan.upload').execute();
    expect(audit).toEqual([{ actor_kind: 'contact', action: 'contract.scan.upload' }]);

    const mctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const mp = await mctx.newPage();
    await fx.signInManager(mp);
    await mp.goto(`${fx.baseUrl}/manager/documents`);
    expect(await text(mp, 'table.grid')).toMatch(/ГК Энергомонтаж Договор поставки № 15\/2026 Договор .* скан загружен/);
    await shot(mp, 'manager-documents', 'backoffice');
    const ms = await mctx.request.get(`${fx.baseUrl}/manager/documents/scans/${scan.id}/file`);
    expect(ms.status()).toBe(200);
    expect(ms.headers()['content-type']).toBe('image/png');
    expect(sha(await ms.body())).toBe(sha(png));
    await mctx.close();
    await ctx.close();
  });

  it('a subordinate and another client see none of it: forged ids are 404', async () => {
    const db = fx.tp.rt.db;
    const scanId = Number((await db.selectFrom('client_document_scans').select('id').executeTakeFirstOrThrow()).id);
    for (const user of [DEMO_USERS.subordinate, DEMO_USERS.other]) {
      const { ctx, page } = await signedIn(user);
      await page.goto(`${fx.baseUrl}/cabinet/documents`);
      expect(await page.locator(`tr[data-doc="client-${contractId}"]`).count()).toBe(0);
      for (const url of [`/cabinet/documents/contracts/${contractId}`, `/cabinet/documents/contracts/${contractId}/file`, `/cabinet/documents/scans/${scanId}/file`,
        '/cabinet/documents/order/999999/file', '/cabinet/documents/order/abc/file', '/cabinet/documents/contracts/0/file']) {
        const r = await ctx.request.get(`${fx.baseUrl}${url}`);
        expect(r.status(), `${user.code} ${url}`).toBe(404);
      }
      if (user === DEMO_USERS.subordinate) expect(await text(page, 'main')).toContain('Договоры видит руководитель');
      await ctx.close();
    }
  });
});

describe('the invoice in the cabinet', () => {
  it('an order the manager confirms on the page gets its invoice, listed on the order page and downloadable only by those who see the order', async () => {
    const db = fx.tp.rt.db;
    const placed = await placeOrder(db, { clientId: ids.c1!, contactId: ids.p1!, cityId: null, legalEntity: 'LE1', lines: [{ sku: 'SKU-00001', quantity: '2' }, { sku: 'SKU-00003', quantity: '3' }] });
    const number = placed.order.number;
    const mctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const mp = await mctx.newPage();
    await fx.signInManager(mp);
    await mp.goto(`${fx.baseUrl}/manager/clients/${ids.c1}/documents`);
    await mp.locator(`tr[data-order="${number}"]`).getByRole('button', { name: 'Подтвердить' }).click();
    await mp.waitForURL(/confirmed=/);
    expect(await text(mp, '#flash')).toBe(`Заказ ${number} подтверждён: счёт на оплату формируется и уйдёт клиенту письмом.`);
    let state = '';
    for (let i = 0; i < 60 && !state.includes('PDF'); i++) {
      await new Promise((r) => setTimeout(r, 250));
      await mp.reload();
      state = await text(mp, `tr[data-order="${number}"] .invoice-state`);
    }
    expect(state).toBe(`Счёт ${number} (PDF)`);
    await shot(mp, 'manager-order-confirmed', 'backoffice');
    await mctx.close();

    const { ctx, page } = await signedIn(DEMO_USERS.head);
    await page.goto(`${fx.baseUrl}/cabinet/orders/${encodeURIComponent(number)}`);
    const docs = await text(page, 'ul.documents');
    expect(docs).toMatch(new RegExp(`Счёт на оплату № ${number} от \\d\\d\\.\\d\\d\\.\\d{4}, ${placed.order.total.replace('.', ',').replace(/\B(?=(\d{3})+(?!\d))/g, '.')}`.replace(/\./g, '.')));
    await shot(page, 'cabinet-order-invoice', 'backoffice');
    const href = await page.locator('ul.documents a').first().getAttribute('href');
    const r = await ctx.request.get(`${fx.baseUrl}${href}`);
    expect(r.status()).toBe(200);
    expect(r.headers()['content-disposition']).toContain(encodeURIComponent(`Счёт на оплату ${number}.pdf`));
    expect(r.headers()['x-content-type-options']).toBe('nosniff');
    const doc = await db.selectFrom('order_documents').select(['sha256', 'id']).where('kind', '=', 'invoice').where(sql<boolean>`number = ${number}`).executeTakeFirstOrThrow();
    expect(sha(await r.body())).toBe(doc.sha256);
    await ctx.close();
    // The subordinate does not see the head's order, nor its invoice; another client neither.
    for (const user of [DEMO_USERS.subordinate, DEMO_USERS.other]) {
      const o = await signedIn(user);
      expect((await o.ctx.request.get(`${fx.baseUrl}/cabinet/documents/order/${doc.id}/file`)).status()).toBe(404);
      await o.ctx.close();
    }
  });
});
