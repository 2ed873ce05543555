/** The gateway's clients of the mesh services, over the internal gRPC mesh (lib/grpc). */
import type { DescService } from '@bufbuild/protobuf';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { createGrpcClient, type ServiceClient } from '../../lib/grpc/index.js';
import { grpcClientObserver } from '../../lib/telemetry/index.js';
import { UPSTREAMS, upstreamAddress, type GatewayConfig, type Upstream } from './config.js';
import { upstreamSessions, type UpstreamSessions } from './upstream-sessions.js';

/** The service each upstream serves. */
export const UPSTREAM_SERVICES = {
  ingestion: IngestionService,
  feature: FeatureService,
  training: TrainingService,
  registry: RegistryService,
  prediction: PredictionService,
  monitoring: MonitoringService,
} as const satisfies Record<Upstream, DescService>;

/** One client per upstream, plus its address. */
export type Upstreams = { readonly [K in Upstream]: ServiceClient<(typeof UPSTREAM_SERVICES)[K]> } & {
  readonly addresses: Readonly<Record<Upstream, string>>;
  /** HTTP/2 connections per upstream for calls forwarded as bytes (grpc-passthrough.ts). */
  readonly raw: Readonly<Record<Upstream, UpstreamSessions>>;
  close(): void;
};

/** Creates the clients (channels connect lazily, on first call). */
export function createUpstreams(config: GatewayConfig): Upstreams {
  const observer = grpcClientObserver();
  const addresses = Object.fromEntries(UPSTREAMS.map((name) => [name, upstreamAddress(config, name)])) as Record<Upstream, string>;
  const clients = Object.fromEntries(
    UPSTREAMS.map((name) => [
      name,
      createGrpcClient(UPSTREAM_SERVICES[name], addresses[name], { defaultTimeoutMs: config.GATEWAY_DEFAULT_TIMEOUT_MS, observer }),
    ]),
  ) as unknown as Record<Upstream, { close(): void }>;
  const raw = Object.fromEntries(UPSTREAMS.map((name) => [name, upstreamSessions(addresses[name])])) as Record<Upstream, UpstreamSessions>;
  return {
    ...(clients as unknown as Omit<Upstreams, 'addresses' | 'raw' | 'close'>),
    addresses,
    raw,
    close: () => {
      for (const client of Object.values(clients)) client.close();
      for (const client of Object.values(raw)) client.close();
    },
  };
}
