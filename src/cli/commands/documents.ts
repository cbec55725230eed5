// `magistral documents import FILE.zip [--source NAME]`: a batch of closing documents (PDFs +
// manifest.csv: заказ; вид; номер; дата; сумма; файл) attached to their orders; prints what each line
// became. Exits non-zero when the archive is refused or a line is rejected.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { MagistralError } from '../../errors/index.ts';
import { BatchRefused, importDocumentBatch } from '../../backoffice/document-batches.ts';

export function register(program: Command, _host: CliHost): void {
  const documents = program.command('documents').description('closing documents received as files');
  documents.command('import <file>').description('attach the PDFs of a zip to their orders as its manifest.csv says')
    .option('--source <name>', 'where the batch came from (recorded on the documents)', 'cli')
    .action(async (file: string, opts: { source: string }) => {
      const ctx = createCliContext();
      try {
        const content = await readFile(file);
        let r;
        try {
          r = await importDocumentBatch(ctx.db().db, ctx.config.MAGISTRAL_DATA_DIR, { source: opts.source, fileName: path.basename(file), content });
        } catch (e) {
          if (e instanceof BatchRefused) throw new MagistralError('MAG_ERR_BAD_REQUEST', `${path.basename(file)}: ${e.message}`);
          throw e;
        }
        console.log(`batch ${r.id}: ${r.accepted} accepted, ${r.unchanged} unchanged, ${r.rejected} rejected`);
        for (const row of r.rows) if (row.outcome === 'rejected') console.log(`  line ${row.line}: ${row.reason}`);
        for (const w of r.warnings) console.log(`  ${w}`);
        if (r.rejected) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
    });
}
