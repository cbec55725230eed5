// `magistral lineage PRODUCT [--price-type T | --warehouse W]`: where a value came from (issue 15) — the
// live value and every change with its run, flow, file and line or element path; without a price type or
// warehouse, every live price and stock quantity of the product.
import type { Command } from 'commander';
import { createCliContext } from '../context.ts';
import { isMagistralError, MagistralError } from '../../errors/index.ts';
import {
  LINEAGE_MAX_LIMIT, lineageHistory, lineageOverview, type LineageEntry, type LineageHistory, type LineageOverview, type LineageRun, type LineageValue,
} from '../../pipeline/lineage.ts';

const when = (d: Date | null): string => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');
const runText = (r: LineageRun | null): string => (r ? `run ${r.id}${r.flow ? ` (${r.flow})` : ''}${r.loadPath === 'direct' ? ' direct load' : ''}` : 'run not recorded');
const money = (v: LineageValue): string => [v.value, v.currency, v.unit ? `per ${v.unit}${v.factor && v.factor !== '1.000000' ? ` ×${v.factor}` : ''}` : ''].filter(Boolean).join(' ');

function position(e: LineageEntry): string {
  if (!e.file) return 'position not recorded';
  return `${e.file}${e.line !== null ? `:${e.line}` : ''}${e.path ? ` ${e.path}` : ''}`;
}

const OP = { insert: 'first', update: 'changed', delete: 'removed' } as const;

export function formatHistory(l: LineageHistory, args: string): string {
  const key = l.key.kind === 'price' ? `price type ${l.key.priceType.code} (${l.key.priceType.name})` : `warehouse ${l.key.warehouse.code} (${l.key.warehouse.name})`;
  const out = [`product ${l.product.code} (${l.product.name}), ${key}`];
  out.push(l.current ? `  current  ${money(l.current)} — ${runText(l.current.run)}, written ${when(l.current.updatedAt)}` : '  current  none (no live value)');
  if (!l.entries.length && !l.origin) out.push('  no change recorded');
  for (const e of l.entries) {
    const change = e.op === 'update' ? `${e.oldValue} → ${e.newValue}` : e.op === 'insert' ? `${e.newValue}` : `${e.oldValue} →`;
    out.push(`  ${when(e.mergedAt)}  ${OP[e.op].padEnd(7)} ${change}  ${runText(e.run)}  ${position(e)}  received ${when(e.receivedAt)}`);
  }
  if (l.origin) out.push(`  origin   ${l.origin.value ?? '-'}${l.origin.run ? ` — ${runText(l.origin.run)}` : ''}: ${l.origin.note}`);
  if (l.nextBefore) out.push(`  older: magistral lineage ${args} --before ${l.nextBefore}`);
  return out.join('\n');
}

export function formatOverview(o: LineageOverview): string {
  const out = [`product ${o.product.code} (${o.product.name})`];
  const line = (code: string, v: LineageValue) => `    ${code.padEnd(20)} ${money(v).padEnd(28)} ${runText(v.run)}, written ${when(v.updatedAt)}`;
  out.push(o.prices.length ? '  prices' : '  prices: none');
  for (const p of o.prices) out.push(line(p.priceType.code, p));
  out.push(o.stock.length ? '  stock' : '  stock: none');
  for (const s of o.stock) out.push(line(s.warehouse.code, s));
  if (o.prices.length || o.stock.length) out.push(`  history of one: magistral lineage ${o.product.code} --price-type T | --warehouse W`);
  return out.join('\n');
}

function limitArgument(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n < 1 || n > LINEAGE_MAX_LIMIT) {
    process.exitCode = 2;
    throw new MagistralError('MAG_ERR_BAD_REQUEST', `--limit ${v}: give a whole number from 1 to ${LINEAGE_MAX_LIMIT}`);
  }
  return n;
}

interface Opts { priceType?: string; warehouse?: string; limit?: number; before?: string; json?: boolean }

export function register(program: Command): void {
  program.command('lineage').description('where a price or stock quantity came from: every change with run, flow, file and line or element path')
    .argument('<product>', 'product code or any external id of it')
    .option('--price-type <code>', 'the price of this price type (code or external id)')
    .option('--warehouse <code>', 'the stock of this warehouse (code or external id)')
    .option('--limit <n>', `changes per page (1..${LINEAGE_MAX_LIMIT}, default 50)`, limitArgument)
    .option('--before <cursor>', 'the next (older) page: the cursor the previous page printed')
    .option('--json', 'print the result as JSON')
    .action(async (product: string, opts: Opts) => {
      const ctx = createCliContext();
      try {
        const db = ctx.db().db;
        if (opts.priceType === undefined && opts.warehouse === undefined) {
          if (opts.before) throw new MagistralError('MAG_ERR_BAD_REQUEST', '--before pages a history: give --price-type or --warehouse with it');
          const o = await lineageOverview(db, product);
          console.log(opts.json ? JSON.stringify(o) : formatOverview(o));
          return;
        }
        const l = await lineageHistory(db, { product, ...opts });
        const args = [product, opts.priceType !== undefined ? `--price-type ${opts.priceType}` : `--warehouse ${opts.warehouse}`, opts.limit ? `--limit ${opts.limit}` : '']
          .filter(Boolean).join(' ');
        console.log(opts.json ? JSON.stringify(l) : formatHistory(l, args));
      } catch (e) {
        // A code nobody knows or a bad argument is a usage error: one line (main prints it), exit 2.
        if (isMagistralError(e) && (e.code === 'MAG_ERR_NOT_FOUND' || e.code === 'MAG_ERR_BAD_REQUEST')) process.exitCode = 2;
        throw e;
      } finally {
        await ctx.close();
      }
    });
}
