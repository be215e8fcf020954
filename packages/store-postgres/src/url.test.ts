import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBernsteinError } from '@bernstein/store';
import { parseStoreUrl, redactSecrets, redactUrl, selectStore } from './url.ts';

describe('store selection', () => {
  it('--store wins over BERNSTEIN_STORE_URL, which wins over store.url; empty means the files', () => {
    const env = { BERNSTEIN_STORE_URL: 'postgres://env@h/db' };
    expect(selectStore({ flag: 'postgres://flag@h/db', configUrl: 'postgres://cfg@h/db', env })).toMatchObject({ kind: 'postgres', source: '--store' });
    expect(selectStore({ configUrl: 'postgres://cfg@h/db', env })).toMatchObject({ kind: 'postgres', source: 'BERNSTEIN_STORE_URL' });
    expect(selectStore({ configUrl: 'postgresql://cfg@h/db', env: {} })).toMatchObject({ kind: 'postgres', source: 'store.url' });
    expect(selectStore({ configUrl: '', env: {} })).toEqual({ kind: 'file', source: 'default' });
    expect(selectStore({ flag: 'file:', configUrl: 'postgres://cfg@h/db', env: {} })).toEqual({ kind: 'file', source: '--store' });
  });

  it('replaces ${NAME} by the environment variable and names an unset one without printing anything secret', () => {
    const location = selectStore({ configUrl: 'postgres://app:${PGPASS}@db.internal:5433/fleet', env: { PGPASS: 'hunter2' } });
    expect(location).toMatchObject({ kind: 'postgres', connectionString: 'postgres://app:hunter2@db.internal:5433/fleet', display: 'postgres://app:***@db.internal:5433/fleet' });
    let error: unknown;
    try {
      selectStore({ configUrl: 'postgres://app:${PGPASS}@h/db', env: {} });
    } catch (e) {
      error = e;
    }
    expect(isBernsteinError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toBe('store.url references ${PGPASS}, but the environment variable PGPASS is not set');
  });

  it('refuses other schemes and malformed URLs with the password redacted', () => {
    expect(() => parseStoreUrl('mysql://u:topsecret@h/db', '--store')).toThrow(/unsupported store URL mysql:\/\/u:\*\*\*@h\/db/);
    const malformed = () => parseStoreUrl('postgres://u:pa ss@wo:rd@h:99999/db', '--store');
    expect(malformed).toThrow(/malformed store URL/);
    expect(malformed).not.toThrow(/pa ss|wo:rd/);
  });

  it('never leaves a password in a redacted URL or message (property)', () => {
    const password = fc.string({ minLength: 1, maxLength: 30 }).filter((p) => !/\s/.test(p) && p !== '*' && !'postgres://app@db.example:5432/fleet'.includes(p));
    fc.assert(
      fc.property(password, (secret) => {
        const url = `postgres://app:${encodeURIComponent(secret)}@db.example:5432/fleet`;
        const location = parseStoreUrl(url, '--store');
        if (location.kind !== 'postgres') throw new Error('expected postgres');
        expect(location.display).toBe('postgres://app:***@db.example:5432/fleet');
        const message = redactSecrets(`failed: ${url} (password ${secret}, encoded ${encodeURIComponent(secret)})`, location);
        expect(message.includes(secret)).toBe(false);
        expect(redactUrl(`postgres://app:${secret}@h/db`).includes(`:${secret}@`)).toBe(false);
      }),
      { numRuns: 300 },
    );
    expect(redactUrl('postgres://h/db?sslmode=require&password=abc')).toBe('postgres://h/db?sslmode=require&password=***');
  });
});
