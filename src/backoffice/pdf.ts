// The generated documents' PDF start (invoices, reconciliation acts): pdfkit loaded on first use (it and
// fontkit add ~11 MB of RSS to a process that imports them), DejaVu Sans registered as 'body' and 'bold'
// (Cyrillic; the price lists use the same font), and the whole file collected into one Buffer.
import { createRequire } from 'node:module';

/** DejaVu Sans from the dejavu-fonts-ttf package (resolved here: no exceljs pulled in with price-list.ts). */
export function fontPath(bold = false): string {
  return createRequire(import.meta.url).resolve(`dejavu-fonts-ttf/ttf/DejaVuSans${bold ? '-Bold' : ''}.ttf`);
}

export async function startPdf(info: { Title: string; Author?: string }): Promise<{ doc: PDFKit.PDFDocument; done: Promise<Buffer> }> {
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({ size: 'A4', margin: 40, info: { ...info, Creator: 'Magistral' } });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('body', fontPath());
  doc.registerFont('bold', fontPath(true));
  return { doc, done };
}
