/**
 * JSON Web Tokens signed with an HS256 secret or by a key of a JWKS file (verified with `jose`):
 * the subject is the principal, a claim (default `role`) the role.
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AuthMethod } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { Identity } from './identity.js';
import { parseRole } from './roles.js';

/** Options of {@link createJwtVerifier}. */
export interface JwtOptions {
  /** HS256 secret. */
  secret?: string;
  /** JWKS file of public keys (RS256, ES256, EdDSA, …). */
  jwksFile?: string;
  issuer?: string;
  audience?: string;
  /** Claim naming the role. */
  roleClaim: string;
}

/** A token's identity, or why it is refused (a sentence for the caller). */
export type JwtVerdict = { identity: Identity } | { refused: string };

/** Verifies tokens; undefined when no secret or JWKS is configured (tokens are then refused). */
export function createJwtVerifier(options: JwtOptions): ((token: string) => Promise<JwtVerdict>) | undefined {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = options.jwksFile
    ? createLocalJWKSet(JSON.parse(readFileSync(options.jwksFile, 'utf8')))
    : undefined;
  if (!secret && !jwks) return undefined;
  return async (token) => {
    try {
      const verifyOptions = { issuer: options.issuer, audience: options.audience };
      // An HS256 token is checked against the secret, anything else against the JWKS.
      const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as { alg?: string };
      const { payload } =
        header.alg === 'HS256' && secret
          ? await jwtVerify(token, secret, { ...verifyOptions, algorithms: ['HS256'] })
          : jwks
            ? await jwtVerify(token, jwks, verifyOptions)
            : await jwtVerify(token, secret!, { ...verifyOptions, algorithms: ['HS256'] });
      const role = parseRole(payload[options.roleClaim]);
      if (!payload.sub) return { refused: 'the token has no subject (sub)' };
      if (role === undefined) return { refused: `the token's ${options.roleClaim} claim is not viewer, operator or admin` };
      return {
        identity: {
          principal: payload.sub,
          keyId: typeof payload.jti === 'string' ? payload.jti.slice(0, 64) : payload.sub,
          role,
          method: AuthMethod.JWT,
          expiresAtMs: payload.exp === undefined ? undefined : payload.exp * 1000,
          limitKey: `jwt:${payload.sub}`,
        },
      };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { refused: 'the token has expired' };
      if (error instanceof errors.JWTClaimValidationFailed) return { refused: `the token's ${error.claim} claim is not accepted` };
      return { refused: 'the token is not valid' };
    }
  };
}
