import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
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
});
