// The Prometheus rules and the Grafana dashboard in ops/ against what /metrics really exports (promtool is
// not on the machine): every metric an expression names is a family of the registry, every label an
// annotation shows is one the expression keeps, and the alerts issue 15 asks for are there.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { apiFixture, type ApiFixture } from '../api/api-fixture.ts';

interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }

let fx: ApiFixture;
/** Metric families of the exposition: name → type. */
let families: Map<string, string>;
let rules: Rule[];
let dashboardExprs: string[];

/** The series a PromQL expression reads, as metric families (a histogram's _bucket/_sum/_count are its family). */
function metricsOf(expr: string): string[] {
  const names = expr.replace(/"[^"]*"/g, '').match(/\b(magistral_[a-z0-9_]+|up)\b(?=\s*[{[)\s]|$)/g) ?? [];
  return [...new Set(names)].map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return families.get(base) === 'histogram' ? base : n;
  });
}

beforeAll(async () => {
  fx = await apiFixture('alertrules');
  const text = (await fx.app.inject({ method: 'GET', url: '/metrics' })).body;
  families = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const doc = parse(await readFile(path.join(REPO_DIR, 'ops/prometheus/rules.yml'), 'utf8')) as { groups: { rules: Rule[] }[] };
  rules = doc.groups.flatMap((g) => g.rules);
  const dashboard = JSON.parse(await readFile(path.join(REPO_DIR, 'ops/grafana/dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
});
afterAll(async () => { await fx?.close(); });

describe('alert rules and dashboard', () => {
  it('name only metrics that /metrics exports', () => {
    const exported = new Set([...families.keys(), 'up']);
    const exprs = [...rules.map((r) => r.expr), ...dashboardExprs];
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      const names = metricsOf(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${n} in ${expr}`).toBe(true);
    }
  });

  it('show in annotations only labels their expression keeps', () => {
    for (const r of rules) {
      expect(r.labels?.severity, r.alert).toMatch(/^(warning|critical)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      const shown = [...Object.values(r.annotations ?? {}).join(' ').matchAll(/\$labels\.([a-z_]+)/g)].map((m) => m[1]!);
      const kept = new Set([...r.expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())));
      // `up{job=…}` keeps all its labels.
      if (r.expr.includes('up{')) continue;
      for (const l of shown) expect(kept.has(l), `${r.alert} shows ${l} but its expression keeps ${[...kept].join(', ')}`).toBe(true);
    }
  });

  it('alert on a held run past an hour by run, a flow silent past its interval, and freshness p95 over 5 s', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const held = byName.get('MagistralRunHeldTooLong')!;
    expect(held.expr).toMatch(/by \(flow, run\) \(magistral_run_held_age_seconds\) > 3600/);
    expect(held.annotations!.summary).toContain('{{ $labels.run }}');
    expect(byName.get('MagistralFlowSilent')!.expr).toMatch(/time\(\) - max by \(flow\) \(magistral_flow_last_success_timestamp_seconds\)\s*> max by \(flow\) \(magistral_flow_expected_interval_seconds\)/);
    expect(byName.get('MagistralFreshnessSlow')!.expr).toMatch(/histogram_quantile\(0\.95, sum by \(le, flow\) \(rate\(magistral_freshness_seconds_bucket\[15m\]\)\)\) > 5/);
    expect(families.get('magistral_freshness_seconds')).toBe('histogram');
  });
});
