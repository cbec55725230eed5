// The REST client of an events or deals flow: the pull's client for the same connection options
// (bitrix24ClientFor), so every flow of a portal is paced by the portal's one shared bucket and an
// OAuth application's rotated refresh token is kept in the one store.
import type { Bitrix24Client } from '../client.ts';
import { bitrix24ClientFor, type Bitrix24ClientContext } from '../pull.ts';
import { connectionOf } from './options.ts';

export function clientOf(raw: Record<string, unknown>, ctx: Bitrix24ClientContext, defaults: { retries?: number } = {}): Bitrix24Client {
  return bitrix24ClientFor(connectionOf(raw, defaults), ctx).client;
}
