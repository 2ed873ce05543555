/**
 * The gateway's admission of every call, as a Connect interceptor: credentials (an API key or a
 * JWT, as `authorization: Bearer …` or `x-api-key`) → identity → the role the method needs →
 * the caller's rate limit and stream cap. Health and reflection stay open. Refusals are
 * UNAUTHENTICATED, PERMISSION_DENIED naming the role needed, or RESOURCE_EXHAUSTED with RetryInfo.
 */
import { Code, type Interceptor, type StreamResponse } from '@connectrpc/connect';
import { AuthMethod } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { ApiKeyEntry, KeyStore } from './api-keys.js';
import { exhausted, refusal } from './errors.js';
import { IDENTITY, type Identity } from './identity.js';
import type { JwtVerdict } from './jwt.js';
import type { Limiter } from './limits.js';
import { allows, METHOD_ROLES, OPEN_SERVICES, roleName, type GrantedRole } from './roles.js';

/** What {@link authInterceptor} checks credentials against. */
export interface AuthDeps {
  keys: KeyStore;
  /** Undefined when no JWT secret or JWKS is configured. */
  jwt?: (token: string) => Promise<JwtVerdict>;
  limiter: Limiter;
}

/** Request headers as Fetch, as node:http parses them, or as a function reading one. */
type RequestHeaders = Headers | Readonly<Record<string, string | string[] | undefined>> | ((name: string) => string | undefined);

function headerOf(headers: RequestHeaders, name: string): string | undefined {
  if (typeof headers === 'function') return headers(name);
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The credentials a request carries, if any. */
export function credentialsOf(headers: RequestHeaders): string | undefined {
  const authorization = headerOf(headers, 'authorization');
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : authorization.trim();
  }
  return headerOf(headers, 'x-api-key')?.trim() || undefined;
}

const unauthenticated = (message: string) =>
  refusal(Code.Unauthenticated, 'UNAUTHENTICATED', `${message}; send an API key or a JWT as "authorization: Bearer <credentials>"`);

/** One identity per key entry: the limiter and the upstream metadata cache by it. */
const keyIdentities = new WeakMap<ApiKeyEntry, Identity>();

/** The identity of a key entry: one per entry, so that the limiter and the upstream metadata can cache by it. */
function keyIdentity(entry: ApiKeyEntry): Identity {
  let identity = keyIdentities.get(entry);
  if (!identity) {
    identity = {
      principal: entry.principal,
      keyId: entry.id,
      role: entry.role,
      method: AuthMethod.API_KEY,
      limits: entry.limits,
      limitKey: `key:${entry.id}`,
    };
    keyIdentities.set(entry, identity);
  }
  return identity;
}

/** Establishes who presents `credentials`, or throws UNAUTHENTICATED saying why. */
export async function authenticate(credentials: string | undefined, deps: AuthDeps): Promise<Identity> {
  if (!credentials) throw unauthenticated('no credentials');
  if (credentials.split('.').length === 3) {
    if (!deps.jwt) throw unauthenticated('JWTs are not accepted by this gateway');
    const verdict = await deps.jwt(credentials);
    if ('refused' in verdict) throw unauthenticated(verdict.refused);
    return verdict.identity;
  }
  const entry = await deps.keys.verify(credentials);
  if (entry === 'revoked') throw unauthenticated('the API key has been revoked');
  if (typeof entry === 'string') throw unauthenticated('the API key is not valid');
  return keyIdentity(entry);
}

/** The role `identity` needs for `path` and a token of its rate limit; throws the refusal. */
function authorize(path: string, needed: GrantedRole, identity: Identity, deps: AuthDeps): Identity {
  if (!allows(identity.role, needed)) {
    const method = path.slice(path.lastIndexOf('/') + 1);
    throw refusal(
      Code.PermissionDenied,
      'ROLE_REQUIRED',
      `${method} needs the ${roleName(needed)} role; ${identity.principal} has ${roleName(identity.role)}`,
      {
        required_role: roleName(needed),
        role: roleName(identity.role),
      },
    );
  }
  const admission = deps.limiter.take(identity);
  if (!admission.ok) {
    throw exhausted(
      'RATE_LIMITED',
      `rate limit of ${admission.limits.ratePerSecond}/s (burst ${admission.limits.burst}) exceeded for ${identity.principal}; retry in ${Math.ceil(admission.retryAfterMs)} ms`,
      admission.retryAfterMs,
    );
  }
  return identity;
}

/**
 * Admits one call of `path` (`<service type name>/<method>`, an exposed one): the caller's
 * identity, the role the method needs and a token of the caller's rate limit. Stream caps are the
 * interceptor's, around the stream's life. A key proven before is admitted without a promise (the
 * common case, thousands of times a second); anything else (a new key, a JWT, a keys file due for
 * a look) resolves later. Refusals are thrown, or rejected when found later.
 */
export function admit(path: string, credentials: string | undefined, deps: AuthDeps): Identity | Promise<Identity> {
  const needed = METHOD_ROLES[path];
  if (needed === undefined) throw refusal(Code.Unimplemented, 'NOT_EXPOSED', `${path} is not exposed by the gateway`);
  const entry = credentials ? deps.keys.provenNow(credentials) : undefined;
  if (entry) return authorize(path, needed, keyIdentity(entry), deps);
  return authenticate(credentials, deps).then((identity) => authorize(path, needed, identity, deps));
}

/** Re-yields a stream's messages and calls `done` once when it ends, fails or is abandoned. */
async function* untilDone<T>(messages: AsyncIterable<T>, done: () => void): AsyncGenerator<T> {
  try {
    yield* messages;
  } finally {
    done();
  }
}

/** The admission interceptor; see the file comment. */
export function authInterceptor(deps: AuthDeps): Interceptor {
  return (next) => async (req) => {
    const service = req.service.typeName;
    if (OPEN_SERVICES.has(service)) return next(req);
    const identity = await admit(`${service}/${req.method.name}`, credentialsOf(req.header), deps);
    req.contextValues.set(IDENTITY, identity);
    if (!req.stream) return next(req);
    const close = deps.limiter.openStream(identity);
    if (!close) {
      deps.limiter.refuse(identity);
      const { maxStreams } = deps.limiter.usage(identity);
      throw exhausted('TOO_MANY_STREAMS', `${identity.principal} has ${maxStreams} streams open, the most allowed; close one first`, 1_000);
    }
    req.signal.addEventListener('abort', close, { once: true });
    try {
      const res = (await next(req)) as StreamResponse;
      return { ...res, message: untilDone(res.message, close) };
    } catch (error) {
      close();
      throw error;
    }
  };
}
