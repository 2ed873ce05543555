/**
 * The event bus as a readiness check: a service that has lost its NATS connection cannot publish
 * or consume, so it is not ready until nats.js has reconnected (which it keeps trying forever).
 */
import type { NatsConnection } from 'nats';
import type { ReadinessCheck } from '../runtime/readiness.js';

/**
 * A readiness check named `nats` that fails from the moment the connection drops (`connection
 * to 127.0.0.1:4223 lost, reconnecting`) until nats.js reports it reconnected, and for good once
 * the connection is closed. Reads state kept from the connection's status events: no round trip.
 */
export function natsCheck(bus: { readonly nc: NatsConnection }, name = 'nats'): ReadinessCheck {
  const nc = bus.nc;
  let lost: string | undefined;
  void (async () => {
    // Ends by itself when the connection closes.
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') lost = `connection to ${String(status.data)} lost, reconnecting`;
      else if (status.type === 'reconnect') lost = undefined;
    }
  })();
  return {
    name,
    check: () => (nc.isClosed() ? 'connection closed' : lost),
  };
}
