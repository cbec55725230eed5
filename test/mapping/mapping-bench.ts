// Benchmark of a compiled mapping (run: npx tsx test/mapping/mapping-bench.ts): maps rows with the
// example prices mapping, canonical check included, and prints nanoseconds per row and per field.
import { compileMapping, loadMapping } from '../../src/mapping/index.ts';

const m = await loadMapping('file/prices.yaml');
const fn = await compileMapping(m);
const N = 2_000_000;
const rows = Array.from({ length: 10_000 }, (_, i) => ({ sku: `SKU-${i}`, price_type: 'retail', price: i % 3 ? `${i},50` : `${i}.25`, currency: i % 2 ? 'rub' : 'USD' }));
for (let run = 1; run <= 3; run++) {
  let ok = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) if (fn(rows[i % rows.length]!).ok) ok++;
  const ns = Number(process.hrtime.bigint() - t) / N;
  console.log(`run ${run}: ${ns.toFixed(0)} ns/row, ${(ns / 4).toFixed(0)} ns/field (4 fields, canonical check included), ${ok} valid`);
}
