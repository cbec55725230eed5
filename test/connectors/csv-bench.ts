// Benchmark of the file.csv connector (run: npx tsx test/connectors/csv-bench.ts [rows]): parses a
// generated sku;price_type;price;currency file and prints rows per second for parsing alone.
import { createReadStream, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { csvConnector } from '../../connectors/file/csv.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(path.join(tmpdir(), 'csv-bench-'));
const file = path.join(dir, 'prices.csv');
const lines = ['sku;price_type;price;currency'];
for (let i = 0; i < rows; i++) lines.push(`SKU-${i};retail;${i % 5000},${i % 100};RUB`);
writeFileSync(file, lines.join('\n') + '\n');

try {
  for (let run = 1; run <= 3; run++) {
    const t = process.hrtime.bigint();
    let n = 0;
    for await (const batch of csvConnector.parse(createReadStream(file, { highWaterMark: 256 * 1024 }), { fileName: 'prices.csv', options: {} })) n += batch.length;
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(`run ${run}: ${n} rows in ${s.toFixed(3)} s = ${Math.round(n / s).toLocaleString('en')} rows/s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
