// The sap.rfc connector's view of an SAP system: one small interface (call a function module, close),
// implemented over node-rfc. node-rfc is a native addon built against the SAP NW RFC SDK, which SAP
// licenses separately: it is not a dependency of Magistral and is loaded only when an RFC flow pulls,
// so installations without the SDK run every other flow and connector unchanged.
import { PullError } from '../../../src/port/index.ts';
import type { SapRfcOptions } from './options.ts';

/** What the connector needs of an RFC connection. Results are what node-rfc returns: plain objects. */
export interface RfcClient {
  call(fn: string, params: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Opens a connection with the flow's connection parameters (credentials already read from the environment). */
export type RfcClientFactory = (params: Record<string, string>) => Promise<RfcClient>;

export const NODE_RFC_INSTALL = 'install the SAP NW RFC SDK 7.50 (from SAP for Me, "SAP NW RFC SDK"; unpack it, set SAPNWRFC_HOME to it '
  + 'and add $SAPNWRFC_HOME/lib to LD_LIBRARY_PATH, or PATH on Windows), then `npm i node-rfc` in the Magistral directory';

interface NodeRfcClient {
  open(): Promise<unknown>;
  call(fn: string, params: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<unknown>;
}

/** The default factory: node-rfc, imported on first use. A missing package or SDK becomes a PullError saying what to install. */
export const nodeRfcFactory: RfcClientFactory = async (params) => {
  let mod: { Client: new (p: Record<string, string>) => NodeRfcClient };
  // A variable specifier: neither TypeScript nor a bundler resolves the optional package at build time.
  const specifier = 'node-rfc';
  try {
    const m = (await import(specifier)) as { Client?: unknown; default?: { Client?: unknown } };
    mod = { Client: (m.Client ?? m.default?.Client) as new (p: Record<string, string>) => NodeRfcClient };
    if (typeof mod.Client !== 'function') throw new Error('the package has no Client class');
  } catch (e) {
    const why = (e as { code?: string; message?: string }).code === 'ERR_MODULE_NOT_FOUND' ? 'the package node-rfc is not installed' : (e as Error).message.split('\n')[0];
    throw new PullError('MAG_ERR_PULL_FAILED', `sap.rfc: node-rfc cannot be loaded (${why}); ${NODE_RFC_INSTALL}`);
  }
  const c = new mod.Client(params);
  try {
    await c.open();
  } catch (e) {
    throw rfcError(e, 'logon');
  }
  return {
    async call(fn, p) {
      try {
        return await c.call(fn, p);
      } catch (e) {
        throw rfcError(e, fn);
      }
    },
    async close() {
      await c.close().catch(() => undefined);
    },
  };
};

/** node-rfc's errors (`{ name: 'ABAPError' | 'RfcLibError', key, message }`) as PullErrors; a refused logon as an auth error. */
export function rfcError(e: unknown, what: string): PullError {
  if (e instanceof PullError) return e;
  const x = (e ?? {}) as { name?: string; key?: string; code?: number | string; message?: string; abapMsgV1?: string };
  const key = x.key ? `${x.key}` : x.name ?? 'error';
  const text = (x.message ?? String(e)).trim().slice(0, 500);
  const auth = x.key === 'RFC_LOGON_FAILURE';
  return new PullError(auth ? 'MAG_ERR_PULL_AUTH' : 'MAG_ERR_PULL_FAILED', `sap.rfc ${what}: ${key}: ${text}`);
}

/** Connection parameters of node-rfc from the options and the environment (never logged). */
export function connectionParams(o: SapRfcOptions, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const p: Record<string, string> = {};
  if (o.dest) p.dest = o.dest;
  if (o.ashost) p.ashost = o.ashost;
  if (o.sysnr) p.sysnr = o.sysnr;
  if (o.client) p.client = o.client;
  if (o.saprouter) p.saprouter = o.saprouter;
  p.lang = o.lang;
  if (o.userEnv && o.passwordEnv) {
    const user = env[o.userEnv];
    const password = env[o.passwordEnv];
    const missing = [user === undefined ? o.userEnv : '', password === undefined ? o.passwordEnv : ''].filter(Boolean);
    if (missing.length) throw new PullError('MAG_ERR_PULL_AUTH', `sap.rfc: environment variable${missing.length > 1 ? 's' : ''} ${missing.join(' and ')} not set (userEnv/passwordEnv of the flow)`);
    p.user = user!;
    p.passwd = password!;
  }
  return p;
}
