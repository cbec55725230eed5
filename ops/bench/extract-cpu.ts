// Worker CPU of a direct first load, without a database (`tsx ops/bench/extract-cpu.ts --rows N`): the
// price CSV of bench:ingest read by the one read loop of the extract (readPass: file.csv parser →
// file/prices.yaml mapping → the direct sink's COPY line format → one Buffer per batch), the COPY bytes
// thrown away. CPU time (process.cpuUsage) rather than wall time: other benchmarks share the 2 cores.
// Prints µs of CPU per row for each repetition and, last, a JSON line.
import { mkdirSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { csvConnector } from '../../connectors/file/csv.ts';
import { compileMapping, loadMapping } from '../../src/mapping/index.ts';
import { directLineFormat } from '../../src/pipeline/extract/direct-sink.ts';
import { readPass } from '../../src/pipeline/extract/engine.ts';
import type { RunMappings } from '../../src/pipeline/extract/mappings.ts';
import type { RejectWriter } from '../../src/pipeline/extract/rejects.ts';
import { Resolver } from '../../src/pipeline/extract/resolver.ts';
import type { PassRun, Sink } from '../../src/pipeline/extract/sink.ts';
import { TARGETS, type FactSpec } from '../../src/pipeline/targets.ts';
import { REPO } from './lib.ts';

const args = process.argv.slice(2);
const num = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(String(args[i + 1]).replace(/_/g, '')) : def;
};
const ROWS = num('--rows', 1_000_000);
const REPS = num('--reps', 3);

/** The file bench:ingest writes: price type ⌊i/products⌋, product i mod products, up to 50,000 products. */
function generate(file: string, rows: number): void {
  const priceTypes = Math.ceil(rows / 50_000);
  const products = Math.ceil(rows / priceTypes);
  const fd = openSync(file, 'w');
  let b = 'sku;price_type;price;currency\n';
  for (let i = 0; i < rows; i++) {
    const t = Math.floor(i / products);
    const p = i - t * products;
    const cents = 100 + ((p * 2_654_435_761 + t * 40_503 + ((p * 31 + t) % 977) * 7_919) % 9_999_900);
    const r = cents % 100;
    b += `SKU-${String(p + 1).padStart(7, '0')};PT-${String(t + 1).padStart(5, '0')};${(cents - r) / 100}.${r < 10 ? '0' : ''}${r};RUB\n`;
    if (b.length > 1 << 20) {
      writeSync(fd, b);
      b = '';
    }
  }
  writeSync(fd, b);
  closeSync(fd);
}

async function once(file: string, spec: FactSpec, mappings: RunMappings): Promise<{ cpuUs: number; wallMs: number; bytes: number; staged: number }> {
  let next = 1;
  const ids = (r: Resolver) => { (r as unknown as { ids: number[] }).ids = Array.from({ length: 1_000_000 }, () => next++); return r; };
  const part = ids(new Resolver(spec.keys[0], null as never, '', true));
  const item = ids(new Resolver(spec.keys[1], null as never, '', true));
  let bytes = 0;
  const rejects = { add() {}, count: 0 } as unknown as RejectWriter;
  const sink: Sink = {
    run: {} as PassRun, mappings, rejects, read: 0, staged: 0, n: 0, buf: [],
    format: directLineFormat(spec, part, item, '\t1\t1\n', () => ''),
    async prepare() {},
    async write(chunk) { bytes += chunk.length; },
    async finish() { return 'merged'; },
    discard() {},
  };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await readPass({ files: [{ file_name: 'prices.csv', path: file }], connector: csvConnector, options: { delimiter: 'auto', encoding: 'auto' }, sinks: [sink], shared: false });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpuUs: c.user + c.system, wallMs, bytes, staged: sink.staged };
}

async function main(): Promise<void> {
  const dir = path.join(REPO, 'ops/bench/data');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `extract-cpu-${ROWS}-${process.pid}.csv`);
  generate(file, ROWS);
  try {
    const spec = TARGETS.prices as FactSpec;
    const m = await loadMapping('file/prices.yaml');
    const fn = await compileMapping(m, { system: 'local' });
    const mappings: RunMappings = { pick: () => ({ fn }), kinds: new Set([m.name]), fields: new Set(Object.keys(m.fields)), signature: undefined };
    const out: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const x = await once(file, spec, mappings);
      if (x.staged !== ROWS) throw new Error(`formatted ${x.staged} rows, expected ${ROWS}`);
      const us = x.cpuUs / ROWS;
      out.push(us);
      console.log(`rep ${r + 1}: ${us.toFixed(3)} µs CPU/row, wall ${(x.wallMs / 1000).toFixed(2)} s, ${(x.bytes / 1e6).toFixed(0)} MB of COPY text`);
    }
    const sorted = [...out].sort((a, b) => a - b);
    const r3 = (v: number) => Math.round(v * 1000) / 1000;
    console.log(JSON.stringify({ rows: ROWS, cpuUsPerRow: out.map(r3), minCpuUsPerRow: r3(sorted[0]!), medianCpuUsPerRow: r3(sorted[Math.floor(sorted.length / 2)]!) }));
  } finally {
    rmSync(file, { force: true });
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exitCode = 1;
});
