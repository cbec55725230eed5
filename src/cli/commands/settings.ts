// `magistral settings set KEY VALUE | list | check-seller`: portal settings the ERP does not send,
// such as the seller's requisites printed on invoices (`seller.name`, `seller.inn` … see
// src/backoffice/seller.ts). An empty VALUE removes a setting.
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { MagistralError } from '../../errors/index.ts';
import { listPortalSettings, readSeller, SELLER_SETTINGS, setPortalSetting } from '../../backoffice/seller.ts';

export function register(program: Command, _host: CliHost): void {
  const settings = program.command('settings').description(`portal settings (seller requisites for invoices: ${Object.keys(SELLER_SETTINGS).join(', ')})`);

  settings.command('set <key> <value>').description('set a setting (an empty value removes it)')
    .action(async (key: string, value: string) => {
      const ctx = createCliContext();
      try {
        try {
          await setPortalSetting(ctx.db().db, key, value);
        } catch (e) {
          throw new MagistralError('MAG_ERR_BAD_REQUEST', (e as Error).message);
        }
        console.log(value.trim() ? `${key} = ${value.trim()}` : `${key} removed`);
      } finally {
        await ctx.close();
      }
    });

  settings.command('list').description('every setting')
    .action(async () => {
      const ctx = createCliContext();
      try {
        for (const s of await listPortalSettings(ctx.db().db)) console.log(`${s.key} = ${s.value}`);
        const seller = await readSeller(ctx.db().db);
        console.log(seller.ok ? 'seller requisites: complete (invoices are made)' : `seller requisites incomplete, invoices wait: ${seller.missing.join(', ')}`);
      } finally {
        await ctx.close();
      }
    });
}
