import { describe, expect, it } from 'vitest';
import { defaultQueuePrefix, loadConfig } from '../src/config/index.ts';
import { MagistralError } from '../src/errors/index.ts';

describe('configuration', () => {
  it('fills defaults from the schema', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.DATABASE_URL).toBe('postgres://127.0.0.1:5432/magistral');
    expect(c.MAGISTRAL_DATA_DIR).toBe('./.data');
  });

  it('coerces numbers from strings', () => {
    expect(loadConfig({ PORT: '8080' }).PORT).toBe(8080);
  });

  it('refuses a wrong value naming the variable and the rule', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MagistralError);
    const e = err as MagistralError;
    expect(e.code).toBe('MAG_ERR_CONFIG');
    expect(e.message).toContain('PORT="eighty"');
    expect(e.message).toContain('(rule: type)');
    expect(e.message).toContain('LOG_LEVEL="loud"');
    expect(e.message).toContain('(rule: enum)');
    expect(e.message).toContain('REDIS_URL');
    expect(e.problems.map((p) => p.path).sort()).toEqual(['LOG_LEVEL', 'PORT', 'REDIS_URL']);
  });

  it('refuses an admin token that is too short', () => {
    expect(() => loadConfig({ MAGISTRAL_ADMIN_TOKEN: 'short' })).toThrow(/MAGISTRAL_ADMIN_TOKEN.*minLength/);
  });

  describe('queue prefix', () => {
    it('keeps an explicit MAGISTRAL_QUEUE_PREFIX', () => {
      expect(loadConfig({ MAGISTRAL_QUEUE_PREFIX: 'shop-a', DATABASE_URL: 'postgres://h:5432/a' }).MAGISTRAL_QUEUE_PREFIX).toBe('shop-a');
    });

    it('derives it from the database when unset: readable, stable, different per database, within the schema', () => {
      const a = loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/shop_a' }).MAGISTRAL_QUEUE_PREFIX;
      const b = loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/shop_b' }).MAGISTRAL_QUEUE_PREFIX;
      const otherHost = loadConfig({ DATABASE_URL: 'postgres://10.0.0.7:5432/shop_a' }).MAGISTRAL_QUEUE_PREFIX;
      expect(a).toMatch(/^magistral:shop_a:[0-9a-f]{8}$/);
      expect(b).toMatch(/^magistral:shop_b:[0-9a-f]{8}$/);
      expect(new Set([a, b, otherHost]).size).toBe(3);
      // The user and password do not name another database; the default port is the explicit one.
      expect(loadConfig({ DATABASE_URL: 'postgres://app:secret@127.0.0.1/shop_a' }).MAGISTRAL_QUEUE_PREFIX).toBe(a);
      expect(loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/shop_a', MAGISTRAL_QUEUE_PREFIX: '' }).MAGISTRAL_QUEUE_PREFIX).toBe(a);
      expect(loadConfig({}).MAGISTRAL_QUEUE_PREFIX).toBe(defaultQueuePrefix('postgres://127.0.0.1:5432/magistral'));
    });

    it('stays within the pattern for long or odd database names', () => {
      const p = defaultQueuePrefix(`postgres://127.0.0.1:5432/${encodeURIComponent('магазин ' + 'x'.repeat(80))}`);
      expect(p).toMatch(/^[A-Za-z0-9_:.-]{1,64}$/);
      expect(() => loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/' + 'y'.repeat(100) })).not.toThrow();
    });
  });
});
