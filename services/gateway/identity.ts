import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import { AuthMethod } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { GrantedRole } from './roles.js';

/** Who is calling, as established from its credentials. */
export interface Identity {
  /** Owner of the key or the JWT's subject, e.g. `ops-team`. */
  readonly principal: string;
  /** Public key id, or the JWT's `jti`/subject; never a secret. */
  readonly keyId: string;
  readonly role: GrantedRole;
  readonly method: AuthMethod;
  /** Expiry of the credentials in epoch ms (a JWT's exp). */
  readonly expiresAtMs?: number;
  /** Per-key overrides of the role's limits. */
  readonly limits?: Partial<RoleLimits>;
  /** What rate limits and stream caps are counted against: one bucket per key or token subject. */
  readonly limitKey: string;
}

/** The allowance of one role (or one key overriding it). */
export interface RoleLimits {
  /** Token bucket refill, requests per second. */
  ratePerSecond: number;
  /** Token bucket size: the most requests at once. */
  burst: number;
  /** Streams open at the same time at most. */
  maxStreams: number;
}

/** The caller's identity inside a handler (set by the auth interceptor). */
export const IDENTITY = createContextKey<Identity | undefined>(undefined, { description: 'caller identity' });

/** The identity of the call being handled; throws if the auth interceptor did not run (a wiring fault). */
export function identityOf(context: HandlerContext): Identity {
  const identity = context.values.get(IDENTITY);
  if (!identity) throw new Error(`no identity for ${context.method.name}: the auth interceptor is not installed`);
  return identity;
}

/** `principal` as recorded by the registry for a change made through the gateway, e.g. `ops-team (operator key ops1)`. */
export function actorOf(identity: Identity, roleLabel: string): string {
  const via = identity.method === AuthMethod.JWT ? 'jwt' : 'key';
  return `${identity.principal} (${roleLabel} ${via} ${identity.keyId})`.slice(0, 200);
}
