// Documents of an order through the portal API: the same service and the same rule as the cabinet's
// pages (a contact sees the documents of the orders it sees; another client's order or document is not
// there: 404). Files are streamed from the store through the document's row, never by a path.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { MagistralError } from '../../errors/index.ts';
import { orderDocumentFile, orderDocuments } from '../../backoffice/documents.ts';
import { contentDisposition, openStoredFile } from '../../backoffice/files.ts';
import { requireClient } from './auth.ts';
import { errorResponses, onBehalfHeaders, security } from './schemas.ts';

const nullableString = { type: ['string', 'null'] } as const;

export async function documentsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get<{ Params: { number: string } }>('/orders/:number/documents', {
    config: { scope: 'orders:read' },
    schema: {
      tags: ['orders'],
      summary: 'Documents of an order: the invoice for payment, closing documents (УПД, waybill, invoice-facture, act), payments and shipments',
      security,
      headers: onBehalfHeaders,
      params: { type: 'object', required: ['number'], properties: { number: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: {
        200: {
          type: 'object', required: ['documents'],
          properties: {
            documents: {
              type: 'array',
              items: {
                type: 'object', required: ['id', 'kind', 'kindName', 'number', 'date', 'amount', 'fileName', 'file'],
                properties: {
                  id: { type: 'integer' }, kind: { type: 'string' }, kindName: { type: 'string', description: 'Russian name of the kind' },
                  number: nullableString, date: { ...nullableString, description: 'YYYY-MM-DD' }, amount: { ...nullableString, description: 'exact, 2 decimals' },
                  fileName: nullableString, file: { ...nullableString, description: 'path of the PDF (GET with the same key and headers); null: known as data only' },
                },
              },
            },
          },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const ctx = request.portal;
    const docs = await orderDocuments(deps.db, { clientId: requireClient(ctx), contactId: ctx.contactId }, request.params.number);
    if (!docs) throw new MagistralError('MAG_ERR_NOT_FOUND', `no order ${request.params.number}`);
    return {
      documents: docs.map((d) => ({ id: d.id, kind: d.kind, kindName: d.kindName, number: d.number, date: d.date, amount: d.amount, fileName: d.fileName, file: d.hasFile ? `/api/v1/documents/${d.id}/file` : null })),
    };
  });

  app.get<{ Params: { id: string } }>('/documents/:id/file', {
    config: { scope: 'orders:read' },
    schema: {
      tags: ['orders'], summary: 'The PDF of an order document', security, headers: onBehalfHeaders,
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } } },
    },
  }, async (request, reply) => {
    const ctx = request.portal;
    const f = await orderDocumentFile(deps.db, { clientId: requireClient(ctx), contactId: ctx.contactId }, Number(request.params.id));
    const opened = f ? await openStoredFile(deps.db, deps.config.MAGISTRAL_DATA_DIR, f.sha256) : undefined;
    if (!f || !opened) throw new MagistralError('MAG_ERR_NOT_FOUND', `no document ${request.params.id}`);
    return reply.header('content-type', f.contentType).header('content-length', String(opened.file.sizeBytes))
      .header('content-disposition', contentDisposition(f.fileName)).header('x-content-type-options', 'nosniff').header('cache-control', 'private, no-store')
      .send(opened.stream);
  });
}
