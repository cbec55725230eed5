// Documents for operators: /admin/api/documents/seller shows what the invoices lack and sets the
// seller's requisites (a bad value is refused naming the key); /admin/api/documents/batches takes a zip
// of closing documents and answers what each manifest line became; a refused archive is a 400 with the
// reason; no token → 401.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { portalFixture, type PortalFixture } from './portal-fixture.ts';

let fx: PortalFixture;
beforeAll(async () => {
  fx = await portalFixture('docsadmin');
}, 120_000);
afterAll(async () => fx?.close());

async function zip(entries: Array<[string, string]>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [n, c] of entries) z.addBuffer(Buffer.from(c), n);
  z.end();
  const parts: Buffer[] = [];
  for await (const c of z.outputStream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('/admin/api/documents', () => {
  it('seller requisites: what is missing, a bad value refused, then complete', async () => {
    const before = (await fx.app.inject({ method: 'GET', url: '/admin/api/documents/seller', headers: fx.admin })).json();
    expect(before.complete).toBe(false);
    expect(before.missing).toContain('ИНН продавца');
    const bad = await fx.app.inject({ method: 'PUT', url: '/admin/api/documents/seller', headers: fx.admin, payload: { inn: '12345' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/seller\.inn: '12345' is not valid \(10 или 12 цифр\)/);
    const ok = await fx.app.inject({
      method: 'PUT', url: '/admin/api/documents/seller', headers: fx.admin,
      payload: { name: 'ООО «Продавец»', inn: '7701000013', address: 'Москва', bank: 'Банк', bik: '044525225', account: '40702810400000012345', corrAccount: '30101810400000000225' },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toEqual({ complete: true, missing: [] });
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/documents/seller', headers: fx.admin })).json().seller).toMatchObject({ inn: '7701000013', vatPercent: '22' });
  });

  it('a batch: rows answered with their outcome; a refused archive is a 400 with the reason; no token → 401', async () => {
    const body = await zip([['manifest.csv', 'order;kind;number;date;amount;file\nNO-SUCH;upd;1;2026-12-01;1;a.pdf']]);
    const r = await fx.app.inject({ method: 'POST', url: '/admin/api/documents/batches?source=edo&fileName=a.zip', headers: { ...fx.admin, 'content-type': 'application/zip' }, payload: body });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ accepted: 0, rejected: 1, rows: [{ line: 2, outcome: 'rejected', reason: 'файла «a.pdf» нет в архиве' }] });
    const refused = await fx.app.inject({ method: 'POST', url: '/admin/api/documents/batches', headers: { ...fx.admin, 'content-type': 'application/zip' }, payload: Buffer.from('plain text') });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().message).toBe('archive refused: файл не является zip-архивом или повреждён');
    expect((await fx.app.inject({ method: 'POST', url: '/admin/api/documents/batches', headers: { 'content-type': 'application/zip' }, payload: body })).statusCode).toBe(401);
    const list = (await fx.app.inject({ method: 'GET', url: '/admin/api/documents/batches', headers: fx.admin })).json().batches;
    expect(list.map((b: { fileName: string }) => b.fileName)).toEqual(['batch.zip', 'a.zip']);
  });
});
