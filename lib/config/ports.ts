/** Default gRPC ports of the mesh (docs/architecture.md); each metrics/health HTTP port is this + 1000. */
export const DEFAULT_PORTS = {
  gateway: 8080,
  ingestion: 50051,
  feature: 50052,
  training: 50053,
  registry: 50054,
  prediction: 50055,
  monitoring: 50056,
} as const;

export type ServiceName = keyof typeof DEFAULT_PORTS;

/** Offset of a service's metrics/health HTTP port from its gRPC port. */
export const METRICS_PORT_OFFSET = 1000;

/** Port of the nats-server started for local runs (4222 may be a system NATS). */
export const LOCAL_NATS_PORT = 4223;
