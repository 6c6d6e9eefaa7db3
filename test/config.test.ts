import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = parseConfig({}, '/srv');
    expect(c).toMatchObject({ port: 4071, dataPath: '/srv/data', databaseUrl: null, rootDomain: 'localhost', driver: 'process', portRange: { start: 10000, end: 11000 }, publicUrl: 'http://localhost:4071' });
    expect(c.mqtt).toMatchObject({ broker: 'embedded', port: 1883 });
  });

  it('lists every bad variable in one error', () => {
    try {
      parseConfig({ PORT: 'abc', DRIVER: 'vm', DATABASE_URL: 'mysql://x', PORT_RANGE_START: '2000', PORT_RANGE_END: '1500', SESSION_SECRET: 'short', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      for (const key of ['PORT ', 'DRIVER', 'DATABASE_URL', 'PORT_RANGE_END', 'SESSION_SECRET', 'LOG_LEVEL']) expect(msg).toContain(key);
      expect((err as ConfigError).problems).toHaveLength(6);
    }
  });
});
