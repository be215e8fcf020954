import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allows, isLoopback, scopeOf, tokensFromEnv } from './auth.js';

const tokenArb = fc.stringMatching(/^[A-Za-z0-9_.~+/=-]{16,64}$/);

describe('bearer tokens and scopes', () => {
  it('grants the highest scope a presented token has, null to any other string', () => {
    fc.assert(
      fc.property(fc.uniqueArray(tokenArb, { minLength: 3, maxLength: 6 }), tokenArb, (tokens, stranger) => {
        const [read, route, admin, ...more] = tokens as [string, string, string, ...string[]];
        const set = tokensFromEnv({ BERNSTEIN_TOKEN_READ: [read, ...more].join(','), BERNSTEIN_TOKEN_ROUTE: ` ${route} `, BERNSTEIN_TOKEN_ADMIN: admin });
        expect(scopeOf(set, `Bearer ${read}`)).toBe('read');
        expect(scopeOf(set, `bearer ${route}`)).toBe('route');
        expect(scopeOf(set, `Bearer ${admin}`)).toBe('admin');
        for (const extra of more) expect(scopeOf(set, `Bearer ${extra}`)).toBe('read');
        if (!tokens.includes(stranger)) expect(scopeOf(set, `Bearer ${stranger}`)).toBeNull();
        expect(scopeOf(set, read)).toBeNull();
        expect(scopeOf(set, undefined)).toBeNull();
      }),
    );
  });

  it('scopes are ordered read < route < admin', () => {
    expect(allows('admin', 'route') && allows('admin', 'read') && allows('route', 'read')).toBe(true);
    expect(allows('read', 'route') || allows('route', 'admin') || allows('read', 'admin')).toBe(false);
  });

  it('without tokens everyone is admin; short or spaced tokens are refused at start', () => {
    expect(scopeOf(tokensFromEnv({}), undefined)).toBe('admin');
    expect(() => tokensFromEnv({ BERNSTEIN_TOKEN_ADMIN: 'short' })).toThrow(/at least 16 characters/);
    expect(() => tokensFromEnv({ BERNSTEIN_TOKEN_READ: 'has a space inside it' })).toThrow(/printable ASCII/);
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });
});
