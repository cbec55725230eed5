// The SAP IDoc endpoint end to end, in this process: an IDoc-XML message of N COND_A05 IDocs POSTed by
// curl (a separate process, as SAP would be) to /exchange/sap/idoc/<endpoint> of a real server on a fresh
// test database, until the 200 (stored, fsync'd, runs made; no workers, so nothing is extracted). Reports
// wall time and this process's CPU time per message (on a shared machine the CPU figure is the steadier
// one), beside the floor of writing and fsyncing the same bytes. Needs PostgreSQL and Redis as the tests do.
//
// Usage: tsx ops/bench/sap-endpoint.ts [--idocs N] [--runs N]
import { execFile } from 'node:child_process';
import { closeSync, fsyncSync, openSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { buildServer } from '../../src/api/index.ts';
import { applyFlows, checkFlow } from '../../src/pipeline/flows.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import type { Flow } from '../../src/schemas/index.ts';
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import { idocEndpointOptionsProperties, sapModule } from '../../connectors/sap/index.ts';
import { createTestPipeline } from '../../test/helpers/pipeline.ts';
import { condAMessage } from './sap-idoc-message.ts';

const { values } = parseArgs({ options: { idocs: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.idocs);
const RUNS = Number(values.runs);

// The flows need a `sap.idoc` connector: the module's own once it has one, else a stand-in with the
// endpoint's options (never parsing: no worker runs here).
const reader = sapModule.connectors?.find((c) => c.kind === 'sap.idoc');
const registry = new Registry([
  ...CONNECTOR_MODULES.filter((m) => m.name !== 'sap'),
  { ...sapModule, connectors: reader ? sapModule.connectors : [{ kind: 'sap.idoc', optionsSchema: { type: 'object', properties: idocEndpointOptionsProperties }, async *parse() {} }] },
]);
process.env.BENCH_SAP_USER = 'bench';
process.env.BENCH_SAP_PASSWORD = 'bench';
const tp = await createTestPipeline('sapbench', { registry, workers: false });
try {
  const checked = await checkFlow({
    apiVersion: 'magistral/v1', kind: 'Flow', name: 'bench-prices', mapping: 'file/prices.yaml', target: 'prices', mode: 'delta',
    source: { connector: 'sap.idoc', system: 'sap', options: { endpoint: 'erp', messageTypes: ['COND_A'], userEnv: 'BENCH_SAP_USER', passwordEnv: 'BENCH_SAP_PASSWORD' } },
  } as Flow, registry);
  if (!checked.flow) throw new Error(JSON.stringify(checked.problems));
  await applyFlows(tp.rt.db, [checked.flow]);
  const app = await buildServer({ ...tp.rt, mode: 'full' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/exchange/sap/idoc/erp`;

  const floorFile = path.join(tp.dataDir, 'floor.xml');
  const sample = condAMessage(N, 0);
  let t = performance.now();
  writeFileSync(floorFile, sample);
  const fd = openSync(floorFile, 'r+');
  fsyncSync(fd);
  closeSync(fd);
  const floorMs = performance.now() - t;
  rmSync(floorFile);

  const wall: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    // Other DOCNUMs each time: a resend would be answered from the first receipt.
    const file = path.join(tp.dataDir, `m${k}.xml`);
    writeFileSync(file, condAMessage(N, (k + 1) * N));
    t = performance.now();
    const c0 = process.cpuUsage();
    const r = await promisify(execFile)('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'bench:bench', '-H', 'content-type: application/xml', '--data-binary', `@${file}`, url]);
    if (r.stdout !== '200') throw new Error(`answer ${r.stdout}`);
    wall.push(performance.now() - t);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    rmSync(file);
  }
  await app.close();
  const mb = sample.length / 1048576;
  const bestCpu = Math.min(...cpu);
  console.log(JSON.stringify({
    idocs: N, messageMb: Number(mb.toFixed(1)), wallMs: wall.map(Math.round), serverCpuMs: cpu.map(Math.round),
    mbPerCpuSec: Number((mb / (bestCpu / 1000)).toFixed(1)), idocsPerCpuSec: Math.round(N / (bestCpu / 1000)), diskFloorMs: Math.round(floorMs),
  }));
} finally {
  await tp.close();
}
