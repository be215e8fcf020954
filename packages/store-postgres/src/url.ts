import { BernsteinError } from '@bernstein/store';

/**
 * Which store a command uses: the `.sdd/` files, or a shared PostgreSQL database. Picked from
 * `--store <url>`, else `BERNSTEIN_STORE_URL`, else `store.url` in `.sdd/config.yaml`; empty or
 * `file:` means the files. `${NAME}` anywhere in the URL is replaced by the environment variable
 * NAME, so a password never has to sit in a file. A password is never part of any message.
 */
export type StoreLocation =
  | { kind: 'file'; source: StoreUrlSource | 'default' }
  | {
      kind: 'postgres';
      source: StoreUrlSource;
      /** The connection string with the password in it: hand it to the driver, never print it. */
      connectionString: string;
      /** The same URL with the password replaced by `***`: the only form that goes into messages. */
      display: string;
    };

export type StoreUrlSource = '--store' | 'BERNSTEIN_STORE_URL' | 'store.url' | 'store URL';

export const STORE_URL_ENV = 'BERNSTEIN_STORE_URL';

export interface StoreSelectionInput {
  /** `--store <url>` (undefined when not given). */
  flag?: string | undefined;
  /** `store.url` from `.sdd/config.yaml` (undefined or '' when not set). */
  configUrl?: string | undefined;
  /** The environment (BERNSTEIN_STORE_URL and `${NAME}` references are read from it). */
  env?: NodeJS.ProcessEnv;
}

/** --store, then BERNSTEIN_STORE_URL, then store.url. An empty value counts as not given. */
export function selectStore(input: StoreSelectionInput): StoreLocation {
  const env = input.env ?? process.env;
  const candidates: Array<[StoreUrlSource, string | undefined]> = [
    ['--store', input.flag],
    ['BERNSTEIN_STORE_URL', env[STORE_URL_ENV]],
    ['store.url', input.configUrl],
  ];
  for (const [source, raw] of candidates) {
    if (raw === undefined || raw.trim() === '') continue;
    return parseStoreUrl(raw, source, env);
  }
  return { kind: 'file', source: 'default' };
}

const ENV_REFERENCE = /\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Replace each `${NAME}` by the environment variable NAME; an unset or malformed name is an error naming it. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv, source: StoreUrlSource): string {
  return text.replace(ENV_REFERENCE, (_, name: string) => {
    if (!ENV_NAME.test(name)) {
      throw new BernsteinError('CONFIG_INVALID', `${source}: \${${name}} is not an environment variable reference (expected \${NAME} with letters, digits and _)`, { source });
    }
    const value = env[name];
    if (value === undefined) {
      throw new BernsteinError('CONFIG_INVALID', `${source} references \${${name}}, but the environment variable ${name} is not set`, { source, variable: name });
    }
    // A value spliced into the user-info or a query parameter must stay one URL component.
    return value;
  });
}

/** Parse one store URL. Messages carry only the redacted form. */
export function parseStoreUrl(raw: string, source: StoreUrlSource, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  const trimmed = raw.trim();
  if (trimmed === 'file:' || trimmed === 'file://') return { kind: 'file', source };
  const substituted = substituteEnv(trimmed, env, source);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(substituted)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    throw new BernsteinError(
      'CONFIG_INVALID',
      `${source}: "file:" takes no path (the files are always <project>/.sdd/; use --dir to pick the project); got ${redactUrl(trimmed)}`,
      { source },
    );
  }
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new BernsteinError(
      'CONFIG_INVALID',
      `${source}: unsupported store URL ${redactUrl(trimmed)}: expected postgres://user@host:port/database (or postgresql://), or empty / "file:" for the .sdd/ files`,
      { source },
    );
  }
  let url: URL;
  try {
    url = new URL(substituted);
  } catch {
    throw new BernsteinError('CONFIG_INVALID', `${source}: malformed store URL ${redactUrl(trimmed)} (a password with @, :, / or # must be percent-encoded)`, { source });
  }
  // postgres:///db (empty host) means the local socket: allowed, libpq-style.
  if (url.pathname.length > 1 && decodeURIComponentSafe(url.pathname.slice(1)).includes('/')) {
    throw new BernsteinError('CONFIG_INVALID', `${source}: store URL ${redactUrl(trimmed)} names more than one database in its path`, { source });
  }
  return { kind: 'postgres', source, connectionString: substituted, display: redactUrl(substituted) };
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The URL with any password replaced by `***` (user-info and `password=` query parameters).
 * Works on malformed URLs too, since those are the ones that end up in error messages.
 */
export function redactUrl(text: string): string {
  let out = text;
  const start = out.indexOf('://');
  if (start !== -1) {
    // The user-info ends at the last "@": a malformed URL may carry an unencoded "@" or "/" in
    // its password, and a host or database name never holds an "@".
    const at = out.lastIndexOf('@');
    if (at > start) {
      const userInfo = out.slice(start + 3, at);
      const colon = userInfo.indexOf(':');
      if (colon !== -1) out = `${out.slice(0, start + 3)}${userInfo.slice(0, colon)}:***${out.slice(at)}`;
    }
  }
  return out.replace(/([?&](?:password|sslpassword)=)[^&#\s]*/gi, '$1***');
}

/**
 * Remove every secret of `location` from a message (a driver error may quote the connection
 * string or the password it was given).
 */
export function redactSecrets(text: string, location: Extract<StoreLocation, { kind: 'postgres' }>): string {
  let out = text.split(location.connectionString).join(location.display);
  for (const secret of passwordsOf(location.connectionString)) {
    if (secret.length === 0) continue;
    out = out.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join('***');
  }
  return redactUrl(out);
}

function passwordsOf(connectionString: string): string[] {
  const found: string[] = [];
  try {
    const url = new URL(connectionString);
    if (url.password) found.push(url.password, decodeURIComponentSafe(url.password));
    for (const key of ['password', 'sslpassword']) {
      const value = url.searchParams.get(key);
      if (value) found.push(value);
    }
  } catch {
    // parseStoreUrl only hands out URLs that parse.
  }
  return [...new Set(found)];
}
