import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { BernsteinError } from '@bernstein/store';

/** read < route (route and record; implies read) < admin (transitions; implies both). */
export type Scope = 'read' | 'route' | 'admin';
const RANK: Record<Scope, number> = { read: 1, route: 2, admin: 3 };

export const TOKEN_ENV = { read: 'BERNSTEIN_TOKEN_READ', route: 'BERNSTEIN_TOKEN_ROUTE', admin: 'BERNSTEIN_TOKEN_ADMIN' } as const;

export interface TokenSet {
  /** SHA-256 of each token with its scope; the tokens themselves are not kept. */
  readonly entries: ReadonlyArray<{ digest: Buffer; scope: Scope }>;
  readonly counts: Record<Scope, number>;
}

/** Tokens from BERNSTEIN_TOKEN_READ / _ROUTE / _ADMIN, each a comma-separated list. */
export function tokensFromEnv(env: NodeJS.ProcessEnv = process.env): TokenSet {
  const entries: Array<{ digest: Buffer; scope: Scope }> = [];
  const counts: Record<Scope, number> = { read: 0, route: 0, admin: 0 };
  for (const scope of ['read', 'route', 'admin'] as const) {
    for (const raw of (env[TOKEN_ENV[scope]] ?? '').split(',')) {
      const token = raw.trim();
      if (token === '') continue;
      if (token.length < 16) throw new BernsteinError('CONFIG_INVALID', `${TOKEN_ENV[scope]}: a token must be at least 16 characters (one of them is ${token.length})`);
      if (!/^[\x21-\x7e]+$/.test(token)) throw new BernsteinError('CONFIG_INVALID', `${TOKEN_ENV[scope]}: a token is printable ASCII without spaces`);
      entries.push({ digest: digest(token), scope });
      counts[scope] += 1;
    }
  }
  return { entries, counts };
}

export function hasTokens(tokens: TokenSet): boolean {
  return tokens.entries.length > 0;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The scope a request's Authorization header grants: null for no or an unknown token. Compared in
 * constant time: digests of equal length, and every configured token is compared every time.
 */
export function scopeOf(tokens: TokenSet, authorization: string | undefined): Scope | null {
  if (!hasTokens(tokens)) return 'admin';
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return null;
  const presented = digest(match[1]!);
  let granted: Scope | null = null;
  for (const entry of tokens.entries) {
    if (timingSafeEqual(entry.digest, presented) && (granted === null || RANK[entry.scope] > RANK[granted])) granted = entry.scope;
  }
  return granted;
}

export function allows(granted: Scope, needed: Scope): boolean {
  return RANK[granted] >= RANK[needed];
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  if (family === 4) return bare.startsWith('127.');
  if (family === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}
