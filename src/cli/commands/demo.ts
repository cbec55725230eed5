// `magistral demo`: loads the demo data set through the real flows (ops/flows) and the real
// pipeline — the same path an ERP export takes — so a newcomer sees a working store.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { ensureDatabase, migrate } from '../../db/index.ts';
import { createRuntime } from '../../pipeline/runtime.ts';
import { applyFlows, parseFlowFile } from '../../pipeline/flows.ts';
import { receivePayload } from '../../pipeline/receive.ts';
import { getRun, type RunView } from '../../pipeline/runs.ts';
import { MagistralError } from '../../errors/index.ts';
import { blockerOf } from '../../pipeline/lifecycle/index.ts';
import { isTerminal } from '../../pipeline/lifecycle/states.ts';
import type { Runtime } from '../../pipeline/runtime.ts';
import { REPO_DIR } from '../../schemas/index.ts';
import { createReadStream } from 'node:fs';
import { formatSummary } from './runs.ts';
import { createApiKey, KNOWN_SCOPES, revokeApiKey } from '../../portal/keys.ts';
import { DEFAULT_CITY_SETTING } from '../../api/portal/auth.ts';
import { setPassword } from '../../cabinet/accounts.ts';
import { DEMO_SELLER } from '../../backoffice/seller.ts';
import { setManagerPassword } from '../../backoffice/managers.ts';
import { DEMO_CABINET_CONTACTS, DEMO_CABINET_PASSWORD, DEMO_CONSOLE_PASSWORD, DEMO_CONSOLE_USER, DEMO_MANAGER_PASSWORD, DEMO_MANAGERS } from '../demo-secrets.ts';
import { addConsoleUser } from '../../console/users.ts';

const DEMO_KEY = 'demo';

/**
 * Demo payloads and the flow each goes through, in order (catalog before prices and stock); test
 * fixtures load the same list.
 */
export const DEMO_FILES: Array<{ flow: string; file: string }> = ['managers', 'cities', 'price-types', 'warehouses', 'groups',
  'products', 'properties', 'property-values', 'product-properties', 'synonyms', 'prices', 'stock',
  'clients', 'legal-entities', 'contacts', 'contact-legal-entities', 'agreements', 'receivables', 'settlement-entries']
  .map((name) => ({ flow: `${name}-csv`, file: `ops/demo/${name}.csv` }));

/** The earliest held run of a flow, if any. */
async function heldRunOf(db: Runtime['db'], flow: string): Promise<{ id: number; reason: string | null } | undefined> {
  const r = await db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id').select(['runs.id', 'runs.held_reason'])
    .where('flows.name', '=', flow).where('runs.state', '=', 'held').orderBy('runs.id').limit(1).executeTakeFirst();
  return r ? { id: Number(r.id), reason: r.held_reason } : undefined;
}

/**
 * Waits for a demo run to finish or be held — or finds it waiting for a held run (of its flow, or a run
 * it depends on, followed along the chain of what blocks what), which only a person can move.
 */
async function waitForDemoRun(rt: Runtime, runId: number): Promise<RunView | { blockedBy: RunView }> {
  const deadline = Date.now() + 300_000;
  for (let i = 0; ; i++) {
    const run = await getRun(rt.db, runId);
    if (isTerminal(run.state) || run.state === 'held') return run;
    if (i % 10 === 9) {
      let at: number | null = runId;
      for (let hop = 0; at !== null && hop < 20; hop++) {
        const stage: 'extract' | 'merge' = hop === 0 && (run.state === 'staged' || run.state === 'merging') ? 'merge' : 'extract';
        const next: number | null = await blockerOf(rt.pool, at, { stage, ordered: true, dependencies: true });
        if (next === null || next === at) break;
        const b = await getRun(rt.db, next);
        if (b.state === 'held') return { blockedBy: b };
        at = next;
      }
    }
    if (Date.now() > deadline) {
      throw new MagistralError('MAG_ERR_RUN_STATE', `run ${runId} of flow ${run.flow} is still ${run.state} after 300 s and waits for no held run: see magistral runs show ${runId}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function register(program: Command, host: CliHost): void {
  program.command('demo').description('register the example flows and load the demo data set through them')
    .action(async () => {
      const ctx = createCliContext();
      await ensureDatabase(ctx.config.DATABASE_URL);
      await migrate(ctx.db().db, host.registry.migrationSets());
      const rt = createRuntime(ctx.config, ctx.log, host.registry, { applicationName: 'magistral-demo', poolSize: 4 });
      const workers = await host.startWorkers(rt, { name: `magistral-demo-${process.pid}` });
      try {
        const flowDir = path.join(REPO_DIR, 'ops/flows');
        const flows = [];
        // Pulled examples (onec-odata-*, sap-odata-*, sap-rfc-*) and the act requests (onec-http-*) need a real 1C base or SAP system, and the
        // Bitrix24 examples a real portal (they pull on a schedule and send orders as deals): the demo leaves them out.
        for (const f of (await readdir(flowDir)).filter((n) => n.endsWith('.yaml') && !/^(onec-odata|onec-http|sap-odata|sap-rfc|bitrix24)-/.test(n)).sort()) {
          flows.push(...(await parseFlowFile(await readFile(path.join(flowDir, f), 'utf8'), `ops/flows/${f}`, host.registry)));
        }
        for (const r of await applyFlows(rt.db, flows)) console.log(`flow ${r.name} ${r.action}`);
        for (const d of DEMO_FILES) {
          // On a used database a run of the flow may be held (an operator's changes through the demo's flow
          // tripped its guard): a new run would only wait behind it (issue 17: 5 silent minutes). Say so in
          // one line with what to do, and load the rest.
          const held = await heldRunOf(rt.db, d.flow);
          if (held) {
            console.log(`demo: ${d.file} not loaded again: run ${held.id} of flow ${d.flow} is held${held.reason ? ` (${held.reason})` : ''}; `
              + `approve it (magistral runs approve ${held.id}) or reject it (magistral runs reject ${held.id}), then start again`);
            continue;
          }
          const full = path.join(REPO_DIR, d.file);
          const { runId } = await receivePayload(rt, { flow: d.flow, files: [{ fileName: path.basename(full), body: createReadStream(full) }] });
          const waited = await waitForDemoRun(rt, runId);
          if ('blockedBy' in waited) {
            const b = waited.blockedBy;
            console.log(`demo: run ${runId} of flow ${d.flow} waits for held run ${b.id} of flow ${b.flow}${b.heldReason ? ` (${b.heldReason})` : ''}; `
              + `approve it (magistral runs approve ${b.id}) or reject it (magistral runs reject ${b.id}) and run ${runId} goes on`);
            continue;
          }
          const run = waited;
          console.log(formatSummary(run));
          if (run.state === 'held') {
            // The demo's own data would change too much of what is there now (an operator changed it): the
            // guard's call is a person's, and the server starts meanwhile.
            console.log(`demo: run ${run.id} of flow ${d.flow} is held: approve it to load the demo's ${d.file} over the current data `
              + `(magistral runs approve ${run.id}) or reject it to keep them (magistral runs reject ${run.id})`);
          } else if (run.state !== 'done') {
            process.exitCode = 1;
          }
        }
        // Requests without a client or a city (a shop's anonymous visitor) are priced and stocked for the
        // default city: the demo's is Moscow, unless an operator has chosen another.
        await rt.db.insertInto('portal_settings').values({ key: DEFAULT_CITY_SETTING, value: 'msk' })
          .onConflict((oc) => oc.column('key').doNothing()).execute();
        // The seller printed on invoices of confirmed orders: demo requisites, unless an operator set real ones.
        await rt.db.insertInto('portal_settings').values(Object.entries(DEMO_SELLER).map(([key, value]) => ({ key, value })))
          .onConflict((oc) => oc.column('key').doNothing()).execute();
        // A fresh portal key at each demo (the previous demo key is revoked): keys are stored hashed,
        // so this is the only moment the key can be shown.
        const db = rt.db;
        const old = await db.selectFrom('api_keys').select('id').where('name', '=', DEMO_KEY).where('revoked_at', 'is', null).execute();
        for (const k of old) await revokeApiKey(db, Number(k.id));
        const key = await createApiKey(db, { name: DEMO_KEY, scopes: [...KNOWN_SCOPES] });
        console.log(`portal API key (demo, all scopes): ${key.key}`);
        console.log(`  try: curl -H 'Authorization: Bearer ${key.key}' -H 'X-Client-Id: C1' http://127.0.0.1:${ctx.config.PORT}/api/v1/prices/SKU-00001`);
        console.log(`  and: curl -G -H 'Authorization: Bearer ${key.key}' --data-urlencode q=розетк http://127.0.0.1:${ctx.config.PORT}/api/v1/search/suggest`);
        // Cabinet logins for three demo contacts (a head of two legal entities, a subordinate, another
        // client), one demo password: a newcomer signs in at once; real contacts are invited by e-mail.
        const password = process.env.MAGISTRAL_DEMO_CABINET_PASSWORD || DEMO_CABINET_PASSWORD;
        const logins = [];
        for (const code of DEMO_CABINET_CONTACTS) {
          const c = await db.selectFrom('contacts').select(['email']).where('code', '=', code).executeTakeFirst();
          if (!c?.email) continue;
          await setPassword(db, code, password);
          logins.push(c.email);
        }
        console.log(`cabinet: http://127.0.0.1:${ctx.config.PORT}/cabinet  sign in as ${logins.join(' | ')}  password ${password}`);
        // The managers' workplace: the demo's two managers, one demo password.
        const mPassword = process.env.MAGISTRAL_DEMO_MANAGER_PASSWORD || DEMO_MANAGER_PASSWORD;
        const mLogins = [];
        for (const code of DEMO_MANAGERS) {
          const m = await db.selectFrom('managers').select(['email']).where('code', '=', code).executeTakeFirst();
          if (!m?.email) continue;
          await setManagerPassword(db, code, mPassword);
          mLogins.push(m.email);
        }
        console.log(`manager: http://127.0.0.1:${ctx.config.PORT}/manager  sign in as ${mLogins.join(' | ')}  password ${mPassword}`);
        // The operations console: one demo user with every right (admin); real users: magistral users add.
        const cPassword = process.env.MAGISTRAL_DEMO_CONSOLE_PASSWORD || DEMO_CONSOLE_PASSWORD;
        await addConsoleUser(db, { name: DEMO_CONSOLE_USER, role: 'admin', password: cPassword, replace: true });
        console.log(`console: http://127.0.0.1:${ctx.config.PORT}/console  sign in as ${DEMO_CONSOLE_USER} (admin)  password ${cPassword}`);
      } finally {
        await workers.close();
        await rt.close();
        await ctx.close();
      }
    });
}
