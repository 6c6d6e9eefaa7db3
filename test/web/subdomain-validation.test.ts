import { describe, expect, it } from 'vitest';
import { checkLabel } from '../../web/src/lib/subdomain.validation.js';

describe('subdomain validation in the dashboard', () => {
  it('accepts DNS labels and reports the name the server will store', () => {
    for (const ok of ['a', 'alpha', 'my-app-2', 'x'.repeat(63)]) expect(checkLabel(ok)).toEqual({ label: ok, problem: null });
    expect(checkLabel('  MyApp ')).toEqual({ label: 'myapp', problem: null });
  });

  it('refuses what the server refuses, with the server’s wording', () => {
    const invalid = ['Has_Underscore', '9starts-with-digit', 'trailing-', '-leading', 'dots.in.name', 'spa ce', 'x'.repeat(64), 'ünïcode'];
    for (const bad of invalid) {
      const { problem } = checkLabel(bad);
      expect(problem, bad).toMatch(/^Subdomain must be 1-63 characters of a-z, 0-9 and '-', start with a letter and not end with '-'$/);
    }
  });

  it('refuses reserved names and names the field it checks', () => {
    expect(checkLabel('www').problem).toBe('Subdomain "www" is reserved');
    expect(checkLabel('Admin').problem).toBe('Subdomain "admin" is reserved');
    expect(checkLabel('mqtt', 'Alias').problem).toBe('Alias "mqtt" is reserved');
  });

  it('asks for a value when empty', () => {
    expect(checkLabel('   ').problem).toBe('Subdomain is required');
    expect(checkLabel('', 'Alias').problem).toBe('Alias is required');
  });
});
