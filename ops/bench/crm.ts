// Bitrix24 pull benchmark (`npm run bench:crm -- --companies N [--contacts 3] [--requisites 1]
// [--rate 2] [--burst 50] [--concurrency 2]`): the in-process Bitrix24-like portal of the tests
// (test/connectors/lib/bitrix24-server.ts) holds N companies, each with `contacts` linked contacts and
// `requisites` requisites with a bank detail, and refuses requests past its leaky bucket (2 requests/s,
// burst 50: Bitrix24's standard plans; --rate scales it to run quickly). The five pulls of
// ops/flows/bitrix24-counterparties.yaml (managers, companies, requisites, contacts, contact links)
// run one after another through the connector, their payloads counted and dropped (the store's load
// path is bench:ingest's). Prints companies/s, requests/s and bucketUtilisation = requests the portal
// served ÷ requests its bucket allowed in that time (burst + rate × seconds); the last line is JSON.
import { bitrix24RestConnector, clearBuckets } from '../../connectors/crm/bitrix24/index.ts';
import { Bitrix24Server } from '../../test/connectors/lib/bitrix24-server.ts';
import type { Logger } from '../../src/port/index.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const N = arg('companies', 100_000);
const CONTACTS = arg('contacts', 3);
const REQUISITES = arg('requisites', 1);
const RATE = arg('rate', 2);
const BURST = arg('burst', 50);
const CONCURRENCY = arg('concurrency', 2);

const server = new Bitrix24Server({ rate: RATE, burst: BURST });
server.keepLog = false;
await server.start();
let t = performance.now();
server.seed(N, { contacts: CONTACTS, requisites: REQUISITES, managers: Math.max(1, Math.ceil(N / 1000)) });
console.log(`portal: ${N} companies, ${N * CONTACTS} contacts, ${N * REQUISITES} requisites with bank details, bucket ${RATE} req/s burst ${BURST} (seeded in ${((performance.now() - t) / 1000).toFixed(1)} s)`);

// Limit answers are rare and worth seeing: warnings go to stderr with the time since the start.
const log = { debug() {}, info() {}, warn(...a: unknown[]) { console.error(`${((performance.now() - started) / 1000).toFixed(2)} s`, ...a); } } as unknown as Pick<Logger, 'debug' | 'info' | 'warn'>;
const env = { B24_URL: server.webhookUrl };
clearBuckets();
server.resetBucket();
const started = performance.now();
let entities = 0;
let bytes = 0;
for (const entity of ['managers', 'companies', 'requisites', 'contacts', 'contactLinks']) {
  t = performance.now();
  const before = server.stats.served;
  const handle = bitrix24RestConnector.pull!({
    flow: `bench-${entity}`, options: { entity, webhookUrlEnv: 'B24_URL', rate: RATE, burst: BURST, concurrency: CONCURRENCY }, cursor: undefined, env, log,
  });
  let r;
  for (;;) {
    const n = await handle.body.next();
    if (n.done) {
      r = n.value;
      break;
    }
    bytes += n.value.length;
  }
  entities += r.records;
  const s = (performance.now() - t) / 1000;
  console.log(`${entity.padEnd(13)} ${String(r.records).padStart(8)} records  ${String(server.stats.served - before).padStart(5)} requests  ${s.toFixed(1).padStart(7)} s`);
}
const seconds = (performance.now() - started) / 1000;
const served = server.stats.served;
// Bank details are read with their requisites: count them as entities too.
entities += N * REQUISITES;
const allowed = BURST + RATE * seconds;
const out = {
  companiesPerSec: Number((N / seconds).toFixed(1)),
  requestsPerSec: Number((served / seconds).toFixed(3)),
  bucketUtilisation: Number((served / allowed).toFixed(3)),
  companies: N, seconds: Number(seconds.toFixed(1)), requests: served, limited: server.stats.limited,
  entitiesPerRequest: Number((entities / served).toFixed(1)), payloadMB: Number((bytes / 1e6).toFixed(1)),
};
console.log(`${out.companiesPerSec} companies/s, ${out.requestsPerSec} requests/s (bucket ${RATE}/s, burst ${BURST}), ${out.entitiesPerRequest} entities a request, ${out.limited} refused by the portal`);
console.log(JSON.stringify(out));
await server.stop();
