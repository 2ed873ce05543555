/** Telemetry: JSON logs with trace ids, Prometheus metrics on an HTTP port, OpenTelemetry traces. */
export { createLogger, type Logger } from './logger.js';
export { metricsRegistry, collectProcessMetrics, grpcServerObserver, grpcClientObserver, eventMetrics, metric } from './metrics.js';
export { startTelemetryServer, type TelemetryServer, type TelemetryServerOptions } from './http.js';
export { startTracing, stopTracing, type TracingOptions } from './tracing.js';
