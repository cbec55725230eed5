// The REST client of an events or deals flow: H1's client (../client.ts) made from the flow's options,
// with the webhook URL read from the environment variable the flow names (never logged).
import { MagistralError } from '../../../../src/port/index.ts';
import { createBitrix24Client, type Bitrix24Client } from '../client.ts';
import type { ConnectionOptions } from './options.ts';

export interface ClientContext {
  env: Readonly<Record<string, string | undefined>>;
  log: { warn(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
  signal?: AbortSignal;
}

/** Throws MAG_ERR_CONFIG naming the variable when the flow's webhook URL is not set. */
export function clientOf(o: ConnectionOptions, ctx: ClientContext, label: string, retries?: number): Bitrix24Client {
  const url = o.webhookUrlEnv ? ctx.env[o.webhookUrlEnv] : undefined;
  if (!url) {
    throw new MagistralError('MAG_ERR_CONFIG', `${label}: environment variable ${o.webhookUrlEnv ?? '(webhookUrlEnv of the flow)'} is not set (the Bitrix24 incoming webhook URL)`);
  }
  return createBitrix24Client({
    webhookUrl: url, label, log: ctx.log, signal: ctx.signal,
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    ...(retries !== undefined ? { retries } : {}),
  });
}
