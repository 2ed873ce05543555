/**
 * Rate limits and stream caps, per key (or token subject) with the role's allowance: a token
 * bucket of `burst` requests refilled at `ratePerSecond`, and at most `maxStreams` streams open at
 * once. The defaults below are the one place they are set; GATEWAY_RATE_LIMITS overrides them by
 * role, a key's entry by key.
 */
import { z } from 'zod';
import { Role } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { Identity, RoleLimits } from './identity.js';
import { roleName, type GrantedRole } from './roles.js';

/** Default allowance of each role. */
export const DEFAULT_LIMITS: Readonly<Record<GrantedRole, RoleLimits>> = {
  [Role.VIEWER]: { ratePerSecond: 50, burst: 100, maxStreams: 8 },
  [Role.OPERATOR]: { ratePerSecond: 200, burst: 400, maxStreams: 16 },
  [Role.ADMIN]: { ratePerSecond: 500, burst: 1_000, maxStreams: 32 },
};

const overrideSchema = z.record(
  z.enum(['viewer', 'operator', 'admin']),
  z.object({ ratePerSecond: z.number().positive(), burst: z.number().int().positive(), maxStreams: z.number().int().positive() }).partial(),
);

/** The role limits with GATEWAY_RATE_LIMITS (JSON by role name) applied; throws naming the bad key. */
export function roleLimits(json: string | undefined): Record<GrantedRole, RoleLimits> {
  const limits = { ...DEFAULT_LIMITS } as Record<GrantedRole, RoleLimits>;
  if (!json) return limits;
  const parsed = overrideSchema.safeParse(JSON.parse(json));
  if (!parsed.success)
    throw new Error(`GATEWAY_RATE_LIMITS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  for (const role of Object.keys(limits).map(Number) as GrantedRole[]) {
    limits[role] = { ...limits[role], ...parsed.data[roleName(role) as 'viewer'] };
  }
  return limits;
}

/** One caller's state. */
interface Account {
  tokens: number;
  refilledAt: number;
  openStreams: number;
  requests: number;
  refused: number;
}

/** What WhoAmI shows of a caller's allowance and usage. */
export interface Usage extends RoleLimits {
  /** Tokens in the bucket now (requests that may be made at once). */
  tokens: number;
  /** When the bucket is full again, in epoch ms. */
  fullAtMs: number;
  openStreams: number;
  requests: number;
  refused: number;
}

/** Outcome of {@link Limiter.take}: allowed, or refused with the wait before a token is back (ms). */
export type Admission = { ok: true } | { ok: false; retryAfterMs: number; limits: RoleLimits };

/** The gateway's rate limiter. */
export interface Limiter {
  /** Takes one request's token. */
  take(identity: Identity): Admission;
  /** Opens a stream if under the cap; returns the function that closes it (idempotent), or undefined when at the cap. */
  openStream(identity: Identity): (() => void) | undefined;
  /** Counts a refusal that happened elsewhere (the stream cap). */
  refuse(identity: Identity): void;
  usage(identity: Identity): Usage;
}

/** Accounts not used for this long are forgotten, in ms (a full bucket is the same as none). */
const IDLE_MS = 10 * 60_000;

/** Creates the limiter; `now` is injectable for tests of the arithmetic. */
export function createLimiter(limits: Record<GrantedRole, RoleLimits>, now: () => number = Date.now): Limiter {
  const accounts = new Map<string, Account>();
  // Identities are made once per key (authenticate.ts), so their merged limits are too.
  const merged = new WeakMap<Identity, RoleLimits>();
  const limitsOf = (identity: Identity): RoleLimits => {
    let l = merged.get(identity);
    if (!l) {
      l = { ...limits[identity.role], ...definedOnly(identity.limits) };
      merged.set(identity, l);
    }
    return l;
  };
  const accountOf = (identity: Identity, l: RoleLimits): Account => {
    let account = accounts.get(identity.limitKey);
    const t = now();
    if (!account) {
      account = { tokens: l.burst, refilledAt: t, openStreams: 0, requests: 0, refused: 0 };
      accounts.set(identity.limitKey, account);
      if (accounts.size % 1024 === 0) sweep(t);
    } else {
      account.tokens = Math.min(l.burst, account.tokens + ((t - account.refilledAt) / 1000) * l.ratePerSecond);
      account.refilledAt = t;
    }
    return account;
  };
  const sweep = (t: number) => {
    for (const [key, a] of accounts) if (a.openStreams === 0 && t - a.refilledAt > IDLE_MS) accounts.delete(key);
  };
  return {
    take(identity) {
      const l = limitsOf(identity);
      const account = accountOf(identity, l);
      account.requests++;
      if (account.tokens >= 1) {
        account.tokens -= 1;
        return { ok: true };
      }
      account.refused++;
      return { ok: false, retryAfterMs: ((1 - account.tokens) / l.ratePerSecond) * 1000, limits: l };
    },
    openStream(identity) {
      const l = limitsOf(identity);
      const account = accountOf(identity, l);
      if (account.openStreams >= l.maxStreams) return undefined;
      account.openStreams++;
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        account.openStreams--;
      };
    },
    refuse(identity) {
      accountOf(identity, limitsOf(identity)).refused++;
    },
    usage(identity) {
      const l = limitsOf(identity);
      const account = accountOf(identity, l);
      return {
        ...l,
        tokens: account.tokens,
        fullAtMs: now() + ((l.burst - account.tokens) / l.ratePerSecond) * 1000,
        openStreams: account.openStreams,
        requests: account.requests,
        refused: account.refused,
      };
    },
  };
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
