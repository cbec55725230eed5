// Worker CPU of a 1C first load's read, without a database (`tsx ops/bench/onec-read-cpu.ts --prices N`):
// the offers file of bench:onec read by the CommerceML reader with its prices taken from their bytes into
// COPY lines (record-take.ts, as a direct load takes them; ids numbered in memory), its stock as records,
// the COPY bytes thrown away. The file is read as the extract reads it (openPayload). CPU time (process.cpuUsage) rather than wall time: other benchmarks share
// the 2 cores. Prints µs of CPU per price for each repetition and, last, a JSON line.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { commercemlConnector, readCommerceML } from '../../connectors/onec/commerceml/index.ts';
import { openPayload } from '../../src/pipeline/inbox.ts';
import { compileMapping, loadMapping } from '../../src/mapping/index.ts';
import { recordTaker, takeFields } from '../../src/pipeline/extract/record-take.ts';
import { TARGETS, type FactSpec } from '../../src/pipeline/targets.ts';
import { REPO } from './lib.ts';
import { generateOffers } from './onec-file.ts';

const args = process.argv.slice(2);
const num = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(String(args[i + 1]).replace(/_/g, '')) : def;
};
const PRICES = num('--prices', 1_000_000);
const REPS = num('--reps', 3);
// --no-reuse: every chunk read into a new Buffer (what the extract does for a parser that keeps chunks).

async function once(file: string): Promise<{ cpuUs: number; wallMs: number; bytes: number; taken: number; records: number }> {
  const spec = TARGETS.prices as FactSpec;
  const m = await loadMapping('onec/prices.yaml');
  const fn = await compileMapping(m, { system: 'onec' });
  const fields = takeFields(m);
  if (!fields) throw new Error('the prices mapping is not one to take from bytes');
  const ids = new Map<string, number>();
  const id = (code: string): number => {
    let n = ids.get(code);
    if (n === undefined) ids.set(code, (n = ids.size + 1));
    return n;
  };
  let taken = 0;
  const taker = recordTaker(m.name, fields, {
    direct: spec.direct.map((d) => ({ field: d.field, absent: d.default ?? '\\N' })),
    partField: spec.keys[0].field, itemField: spec.keys[1].field, partId: id, itemId: id,
    map: (data) => {
      const r = fn(data);
      return r.ok ? r.value : undefined;
    },
    tail: Buffer.from('\t1\t1\n'),
    taken: (n) => { taken += n; },
    open: () => true,
  });
  let bytes = 0;
  let records = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const it = readCommerceML(openPayload(file, commercemlConnector.copiesInput === true && !args.includes('--no-reuse')), { fileName: path.basename(file), kinds: new Set(['prices', 'stock']), recordTake: taker });
  for await (const batch of it) {
    records += batch.length;
    await taker.flush(async (chunk) => { bytes += chunk.length; });
  }
  await taker.flush(async (chunk) => { bytes += chunk.length; });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpuUs: c.user + c.system, wallMs, bytes, taken, records };
}

async function main(): Promise<void> {
  const dir = path.join(REPO, 'ops/bench/data');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `onec-read-cpu-${PRICES}-${process.pid}.xml`);
  const gen = await generateOffers(file, PRICES);
  try {
    const out: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const x = await once(file);
      if (x.taken !== PRICES) throw new Error(`took ${x.taken} prices, expected ${PRICES}`);
      if (x.records !== gen.stock) throw new Error(`read ${x.records} records, expected ${gen.stock} stock entries`);
      const us = x.cpuUs / PRICES;
      out.push(us);
      console.log(`rep ${r + 1}: ${us.toFixed(3)} µs CPU/price, wall ${(x.wallMs / 1000).toFixed(2)} s (${(gen.bytes / 1e3 / x.wallMs).toFixed(0)} MB/s), ${(x.bytes / 1e6).toFixed(0)} MB of COPY text`);
    }
    const sorted = [...out].sort((a, b) => a - b);
    const r3 = (v: number) => Math.round(v * 1000) / 1000;
    console.log(JSON.stringify({ prices: PRICES, fileMB: Math.round(gen.bytes / 1e5) / 10, cpuUsPerPrice: out.map(r3), minCpuUsPerPrice: r3(sorted[0]!), medianCpuUsPerPrice: r3(sorted[Math.floor(sorted.length / 2)]!) }));
  } finally {
    rmSync(file, { force: true });
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exitCode = 1;
});
