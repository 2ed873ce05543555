/** Telemetry: JSON logs with trace ids, Prometheus metrics on an HTTP port, OpenTelemetry traces. */
export { createLogger, type Logger } from './logger.js';
export { metricsRegistry, collectProcessMetrics, grpcServerObserver, grpcClientObserver, eventMetrics, metric } from './metrics.js';
export { boundCounter, boundHistogram, type BoundCounter, type BoundHistogram } from './bound-series.js';
export { watchHolidayTable } from './holiday-table-watch.js';
export { watchConsumerLag, DEFAULT_LAG_TIMEOUT_MS, type LagSource } from './consumer-lag.js';
export {
  parseExposition,
  familyNameOf,
  ExpositionParseError,
  type Exposition,
  type MetricFamily,
  type MetricType,
  type Sample,
} from './exposition.js';
export { maskCredentials } from './redact.js';
export { startTelemetryServer, type TelemetryServer, type TelemetryServerOptions, type ReadyAnswer } from './http.js';
export {
  samplerOf,
  startTracing,
  stopTracing,
  tracingSettings,
  TracingSettingError,
  type TraceExporterName,
  type TracingOptions,
  type TracingSettings,
} from './tracing.js';
