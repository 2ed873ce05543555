/**
 * What must never reach a log line: credentials. Two layers, because secrets arrive two ways:
 * under well-known keys (an `authorization` header, a `password` field), which pino's `redact`
 * censors by path, and inside free text (a connection URL in a config dump or an error message),
 * which only a scan of the strings themselves can catch.
 */

/** Field names whose value is a secret, censored wherever pino's paths reach (three levels). */
export const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'apiKey',
  'api_key',
  'authorization',
  'cookie',
  'x-api-key',
  'x-auth-token',
  'CLICKHOUSE_PASSWORD',
  'PGPASSWORD',
  'sslpassword',
] as const;

/** Field names holding connection URLs: their credentials are masked, the rest is kept for debugging. */
export const URL_KEYS = ['url', 'databaseUrl', 'natsUrl', 'servers', 'DATABASE_URL', 'NATS_URL', 'CLICKHOUSE_URL'] as const;

const CENSORED = '[redacted]';
const urlKeys = new Set<string>(URL_KEYS);

/** A pino redact path for `key` at the top level, one and two levels down. */
function pathsOf(key: string): string[] {
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const join = (prefix: string) => (segment.startsWith('[') ? `${prefix}${segment}` : `${prefix}.${segment}`);
  return [segment, join('*'), join('*.*')];
}

/** The paths handed to pino's `redact`. */
export const REDACT_PATHS: readonly string[] = [...SECRET_KEYS, ...URL_KEYS].flatMap(pathsOf);

/**
 * pino's censor: secrets become `[redacted]`; URLs keep scheme, user and host with the password
 * masked, so a log still says which server was meant.
 */
export function censor(value: unknown, path: readonly unknown[]): unknown {
  const key = path[path.length - 1];
  if (typeof key === 'string' && urlKeys.has(key)) {
    if (typeof value === 'string') return maskCredentials(value);
    if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? maskCredentials(v) : CENSORED));
    return CENSORED;
  }
  return CENSORED;
}

// scheme://userinfo@ — greedy up to the last `@` before the path, so an unescaped `@` inside a
// password is masked too.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*(?:@[^\s/?#@]*)*)@/gi;
const QUERY_SECRET = /([?&](?:password|passwd|pwd|token|access_token|api[_-]?key|secret|sslpassword)=)[^&\s#]*/gi;
// key=value outside a URL: libpq conninfo (`host=db password='se cret'`) and environment
// assignments (`PGPASSWORD=x`). The key is any word ending in a secret's name (sslpassword,
// CLICKHOUSE_PASSWORD); a quoted value may hold spaces and backslash escapes, an unquoted one runs
// to the next space, as libpq reads it. A `?` or `&` before the key is the query form above.
const KEYWORD_SECRET =
  /(?<![\w?&])(\w*(?:password|passwd|pwd|secret|token|api[_-]?key)\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|\S+)/gi;

/**
 * Masks credentials in any text: `postgres://user:pass@host` → `postgres://user:***@host`,
 * `nats://token@host` → `nats://***@host`, `?password=x` → `?password=***`,
 * `host=db password='se cret'` → `host=db password=***`, `PGPASSWORD=x` → `PGPASSWORD=***`.
 */
export function maskCredentials(text: string): string {
  if (!text.includes('://') && !text.includes('=')) return text;
  return text
    .replace(URL_USERINFO, (_, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      // Without a colon the whole userinfo may be a token (NATS token auth): mask all of it.
      return colon < 0 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
    })
    .replace(QUERY_SECRET, '$1***')
    .replace(KEYWORD_SECRET, '$1***');
}

/** How deep {@link maskStrings} looks into a log object; log fields are shallow, cycles are possible. */
const MAX_DEPTH = 6;

/**
 * A copy of `value` with credentials masked in every string of plain objects and arrays (the
 * original is never changed: callers keep their config objects). Other objects (Errors, Dates,
 * Buffers) pass as they are; errors are masked by their serializer.
 */
export function maskStrings<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return maskCredentials(value) as T;
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const masked = maskStrings(item, depth + 1);
      if (masked !== item) (copy ??= [...value])[i] = masked;
    });
    return (copy ?? value) as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const masked = maskStrings(item, depth + 1);
    if (masked !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = masked;
  }
  return (copy ?? value) as T;
}
