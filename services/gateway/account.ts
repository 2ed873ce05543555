/** WhoAmI and ListApiKeys: the caller's identity, role, limits and usage; the keys in force. */
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { HandlerContext } from '@connectrpc/connect';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Role, Scope, type ListApiKeysResponseSchema, type WhoAmIResponseSchema } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { KeyStore } from './api-keys.js';
import { identityOf } from './identity.js';
import type { Limiter } from './limits.js';
import type { GrantedRole } from './roles.js';

/** The older scopes a role amounts to, for clients that still read them. */
const SCOPES: Record<GrantedRole, Scope[]> = {
  [Role.VIEWER]: [Scope.READ, Scope.PREDICT],
  [Role.OPERATOR]: [Scope.READ, Scope.PREDICT, Scope.WRITE],
  [Role.ADMIN]: [Scope.READ, Scope.PREDICT, Scope.WRITE, Scope.ADMIN],
};

/** WhoAmI. */
export function whoAmI(limiter: Limiter, ctx: HandlerContext): MessageInitShape<typeof WhoAmIResponseSchema> {
  const identity = identityOf(ctx);
  const usage = limiter.usage(identity);
  return {
    principal: identity.principal,
    keyId: identity.keyId,
    scopes: SCOPES[identity.role],
    role: identity.role,
    authMethod: identity.method,
    expiresAt: identity.expiresAtMs === undefined ? undefined : timestampFromMs(identity.expiresAtMs),
    rateLimit: {
      limitPerMinute: Math.round(usage.ratePerSecond * 60),
      remaining: Math.floor(usage.tokens),
      resetsAt: timestampFromMs(Math.ceil(usage.fullAtMs)),
      refillPerSecond: usage.ratePerSecond,
      burst: usage.burst,
      requestsTotal: BigInt(usage.requests),
      refusedTotal: BigInt(usage.refused),
    },
    streams: { open: usage.openStreams, maxOpen: usage.maxStreams },
  };
}

/** ListApiKeys: ids, principals, roles, revocation and source; never a hash. */
export async function listApiKeys(keys: KeyStore): Promise<MessageInitShape<typeof ListApiKeysResponseSchema>> {
  const entries = await keys.list();
  return { keys: entries.map((k) => ({ keyId: k.id, principal: k.principal, role: k.role, revoked: k.revoked, source: k.source })) };
}
