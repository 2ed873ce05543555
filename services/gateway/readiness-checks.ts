/**
 * What the gateway needs to do its job, as readiness checks (lib/runtime/readiness.ts): its keys
 * in force, and a mesh to forward to. One service being down is not a reason to take the gateway
 * out of rotation (its other routes still answer, and that service's callers get UNAVAILABLE);
 * every service unreachable is.
 */
import type { ReadinessCheck } from '../../lib/runtime/index.js';
import type { KeyStore } from './api-keys.js';
import type { UpstreamSessions } from './upstream-sessions.js';

/**
 * The keys file loads: while a changed file cannot be used, a key revoked in it is still
 * accepted, so the gateway asks not to be sent calls until the file is fixed.
 */
export function keysCheck(keys: KeyStore): ReadinessCheck {
  return {
    name: 'keys',
    async check() {
      await keys.list();
      const problem = keys.problem();
      return problem === undefined ? undefined : `keys file cannot be used: ${problem}`;
    },
  };
}

/**
 * At least one upstream is not failing. One not used yet counts as usable: the gateway connects
 * on the first call (and an upstream found unreachable is tried again as this asks).
 */
export function upstreamsCheck(channels: Readonly<Record<string, UpstreamSessions>>): ReadinessCheck {
  return {
    name: 'upstreams',
    check() {
      const entries = Object.entries(channels);
      const failing = entries.filter(([, upstream]) => upstream.failing());
      return entries.length > 0 && failing.length === entries.length
        ? `no service reachable (${failing.map(([name]) => name).join(', ')})`
        : undefined;
    },
  };
}
