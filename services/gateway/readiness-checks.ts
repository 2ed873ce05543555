/**
 * What the gateway needs to do its job, as readiness checks (lib/runtime/readiness.ts): its keys
 * in force, and a mesh to forward to. One service being down is not a reason to take the gateway
 * out of rotation (its other routes still answer, and that service's callers get UNAVAILABLE);
 * every service unreachable is.
 */
import type { ReadinessCheck } from '../../lib/runtime/index.js';
import { grpc, type GrpcJs } from '../../lib/grpc/index.js';
import type { KeyStore } from './api-keys.js';

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
 * At least one upstream channel is not failing. A channel not used yet (idle) counts as usable:
 * grpc-js connects on the first call.
 */
export function upstreamsCheck(channels: Readonly<Record<string, GrpcJs.Client>>): ReadinessCheck {
  return {
    name: 'upstreams',
    check() {
      const entries = Object.entries(channels);
      const failing = entries.filter(
        ([, client]) => client.getChannel().getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE,
      );
      return entries.length > 0 && failing.length === entries.length
        ? `no service reachable (${failing.map(([name]) => name).join(', ')})`
        : undefined;
    },
  };
}
