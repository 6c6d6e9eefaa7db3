import { describe, expect, it } from 'vitest';
import { isValidTenant, tenantFor } from '../../src/mqtt/tenant.js';

describe('tenantFor', () => {
  it('mounts a project under ff/<id>/', () => {
    expect(tenantFor('p-1')).toBe('ff/p-1/');
    expect(tenantFor('9b2c2f7e-1d6a-4a39-9a57-3f6f0d1c9e11')).toBe('ff/9b2c2f7e-1d6a-4a39-9a57-3f6f0d1c9e11/');
  });

  it.each(['', 'a/b', 'a+', '#', 'x#y', 'nul\0id', '$SYS', '$p'])('refuses the project id %j', (id) => {
    expect(() => tenantFor(id)).toThrow(/mountpoint/);
  });
});

describe('isValidTenant', () => {
  it('accepts what tenantFor produces', () => {
    expect(isValidTenant(tenantFor('p1'))).toBe(true);
    expect(isValidTenant('ff/a$b/')).toBe(true);
  });

  it.each(['', 'ff/', 'ff//', 'ff/p', 'ff/p/x/', 'ff/a/b/', 'ff/+/', 'ff/#/', 'ff/$x/', 'ff/\0/', 'gg/p/', '/ff/p/', 'ff/p//'])(
    'rejects %j',
    (tenant) => {
      expect(isValidTenant(tenant)).toBe(false);
    },
  );
});
