// Documents for operators (under /admin/api, admin token): a batch of closing documents as a zip (PDFs
// + manifest.csv) answered with what each manifest line became; the recent batches; the seller's
// requisites printed on invoices and the invoices that wait (and why). What `magistral documents …`
// and `magistral settings …` do.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ServerDeps } from './deps.ts';
import { MagistralError } from '../errors/index.ts';
import { BatchRefused, importDocumentBatch } from '../backoffice/document-batches.ts';
import { readSeller, SELLER_SETTINGS, setPortalSetting } from '../backoffice/seller.ts';

const BATCH_BODY_LIMIT = 200 * 1024 * 1024;

export async function documentsAdminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  app.addContentTypeParser(['application/zip', 'application/octet-stream', 'application/x-zip-compressed'], { parseAs: 'buffer', bodyLimit: BATCH_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.post<{ Querystring: { source?: string; fileName?: string } }>('/batches', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { source: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,60}$' }, fileName: { type: 'string', maxLength: 255 } } } },
  }, async (request, reply) => {
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new MagistralError('MAG_ERR_BAD_REQUEST', 'send the zip as the body (Content-Type: application/zip)');
    try {
      const r = await importDocumentBatch(db, deps.config.MAGISTRAL_DATA_DIR, { source: request.query.source ?? 'admin-api', fileName: request.query.fileName ?? 'batch.zip', content: body });
      return reply.code(200).send(r);
    } catch (e) {
      if (e instanceof BatchRefused) throw new MagistralError('MAG_ERR_BAD_REQUEST', `archive refused: ${e.message}`);
      throw e;
    }
  });

  app.get('/batches', async () => ({
    batches: (await sql<Record<string, unknown>>`SELECT id, source, file_name AS "fileName", received_at AS "receivedAt", accepted, rejected, error, rows
      FROM document_batches ORDER BY id DESC LIMIT 50`.execute(db)).rows,
  }));

  app.get('/seller', async () => {
    const s = await readSeller(db);
    const invoicesWaiting = (await sql<{ order: string; attempts: number; lastError: string | null }>`
      SELECT o.number AS order, j.attempts, j.last_error AS "lastError" FROM document_jobs j JOIN orders o ON o.id = j.order_id
      WHERE j.done_at IS NULL ORDER BY j.id LIMIT 100`.execute(db)).rows;
    return { complete: s.ok, missing: s.ok ? [] : s.missing, seller: s.ok ? s.seller : null, keys: Object.keys(SELLER_SETTINGS), invoicesWaiting };
  });

  app.put<{ Body: Record<string, string> }>('/seller', {
    schema: { body: { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.keys(SELLER_SETTINGS).map((k) => [k.replace('seller.', ''), { type: 'string', maxLength: 500 }])) } },
  }, async (request) => {
    for (const [k, v] of Object.entries(request.body)) {
      try {
        await setPortalSetting(db, `seller.${k}`, v);
      } catch (e) {
        throw new MagistralError('MAG_ERR_BAD_REQUEST', (e as Error).message);
      }
    }
    const s = await readSeller(db);
    return { complete: s.ok, missing: s.ok ? [] : s.missing };
  });
}
