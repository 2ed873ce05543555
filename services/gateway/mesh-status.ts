/**
 * GetMeshStatus: each mesh service's grpc.health.v1 answer and round trip, and from its metrics
 * port (gRPC port + 1000) its version (`nepse_build_info`) and the lag of its durable consumers
 * (`nepse_events_consumer_pending`, `_ack_pending`); every check bounded by
 * GATEWAY_STATUS_TIMEOUT_MS and all of them run at once.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  ComponentKind,
  ServingState,
  type ComponentStatusSchema,
  type GetMeshStatusResponseSchema,
} from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { METRICS_PORT_OFFSET } from '../../lib/config/index.js';
import { createGrpcClient } from '../../lib/grpc/index.js';
import { buildInfo } from '../../lib/telemetry/metrics.js';
import { parseExposition } from '../../lib/telemetry/index.js';
import { UPSTREAMS, type Upstream } from './config.js';
import { healthService } from './health-reflection.js';

type Component = MessageInitShape<typeof ComponentStatusSchema>;
type HealthClient = { check(request: { service: string }, options: { timeoutMs: number }): Promise<{ status: number }> };

/** The metrics URL of a service at `host:port`. */
export function metricsUrlOf(address: string): string {
  const at = address.lastIndexOf(':');
  return `http://${address.slice(0, at)}:${Number(address.slice(at + 1)) + METRICS_PORT_OFFSET}/metrics`;
}

/** Version and consumer lag from a service's metrics, or undefined when they cannot be read in time. */
async function scrape(address: string, timeoutMs: number): Promise<Pick<Component, 'version' | 'consumers'> | undefined> {
  try {
    const response = await fetch(metricsUrlOf(address), { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    const { samples } = parseExposition(await response.text());
    const info = samples.find((s) => s.name === 'nepse_build_info');
    const lag = new Map<string, { stream: string; durable: string; pending: bigint; ackPending: bigint }>();
    for (const s of samples) {
      if (s.name !== 'nepse_events_consumer_pending' && s.name !== 'nepse_events_consumer_ack_pending') continue;
      const key = `${s.labels.stream}/${s.labels.durable}`;
      const entry = lag.get(key) ?? { stream: s.labels.stream, durable: s.labels.durable, pending: 0n, ackPending: 0n };
      if (s.name === 'nepse_events_consumer_pending') entry.pending = BigInt(Math.round(s.value));
      else entry.ackPending = BigInt(Math.round(s.value));
      lag.set(key, entry);
    }
    return {
      version: info ? `${info.labels.version} (${info.labels.revision})` : '',
      consumers: [...lag.values()].sort((a, b) => a.durable.localeCompare(b.durable)),
    };
  } catch {
    return undefined;
  }
}

/** Creates the status reader; its health clients live as long as the gateway. */
export function createMeshStatus(addresses: Readonly<Record<Upstream, string>>, timeoutMs: number, gatewayAddress: () => string) {
  const health = Object.fromEntries(
    UPSTREAMS.map((name) => [name, createGrpcClient(healthService(), addresses[name]) as unknown as HealthClient]),
  ) as unknown as Record<Upstream, HealthClient & { close(): void }>;
  const check = async (name: Upstream): Promise<Component> => {
    const address = addresses[name];
    const started = performance.now();
    const [answer, metrics] = await Promise.all([
      health[name].check({ service: '' }, { timeoutMs }).then(
        (r) => ({
          state: r.status === 1 ? ServingState.SERVING : ServingState.NOT_SERVING,
          detail: r.status === 1 ? '' : 'reports not serving',
        }),
        (error: Error) => ({ state: ServingState.UNREACHABLE, detail: error.message }),
      ),
      scrape(address, timeoutMs),
    ]);
    return { name, kind: ComponentKind.SERVICE, address, latencyMs: performance.now() - started, ...answer, ...metrics };
  };
  return {
    async read(): Promise<MessageInitShape<typeof GetMeshStatusResponseSchema>> {
      const info = buildInfo();
      const self: Component = {
        name: 'gateway',
        kind: ComponentKind.SERVICE,
        address: gatewayAddress(),
        state: ServingState.SERVING,
        latencyMs: 0,
        version: `${info.version} (${info.revision})`,
      };
      const components = [self, ...(await Promise.all(UPSTREAMS.map(check)))].sort((a, b) => String(a.name).localeCompare(String(b.name)));
      return { components, healthy: components.every((c) => c.state === ServingState.SERVING), checkedAt: timestampNow() };
    },
    close() {
      for (const client of Object.values(health)) client.close();
    },
  };
}
