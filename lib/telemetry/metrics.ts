import { Counter, Histogram, collectDefaultMetrics, register, type Registry } from 'prom-client';
import type { CallRecord, CallObserver } from '../grpc/server.js';
import type { Logger } from './logger.js';

/** The process-wide Prometheus registry every metric of a service lands in. */
export const metricsRegistry: Registry = register;

let processMetricsOn = false;

/** Turns on Node process metrics (CPU, memory, event-loop lag, GC) once per process. */
export function collectProcessMetrics(): void {
  if (processMetricsOn) return;
  processMetricsOn = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** Latency buckets in seconds, from 0.1 ms to 10 s: in-mesh calls are fast, imports are not. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Returns the metric registered under `name`, or registers the one `make` builds. */
export function metric<T>(name: string, make: () => T): T {
  return (metricsRegistry.getSingleMetric(name) as T | undefined) ?? make();
}

const STATUS_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

const KIND_NAMES = { unary: 'unary', server_streaming: 'server_stream', client_streaming: 'client_stream', bidi_streaming: 'bidi_stream' } as const;

function labelsOf(record: CallRecord) {
  return {
    grpc_service: record.service,
    grpc_method: record.method,
    grpc_type: KIND_NAMES[record.kind],
    grpc_code: STATUS_NAMES[record.code] ?? String(record.code),
  };
}

/**
 * Observer of served calls: `grpc_server_handled_total` and `grpc_server_handling_seconds`
 * (the names of the go-grpc-prometheus family, so existing dashboards work), one debug log line
 * per call and an error line per failure that is the server's fault.
 */
export function grpcServerObserver(logger: Logger): CallObserver {
  const handled = metric('grpc_server_handled_total', () => new Counter({ name: 'grpc_server_handled_total', help: 'RPCs completed on the server, by method and status code.', labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] }));
  const seconds = metric('grpc_server_handling_seconds', () => new Histogram({ name: 'grpc_server_handling_seconds', help: 'Time from an RPC arriving to its status being sent, in seconds.', labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'], buckets: LATENCY_BUCKETS }));
  return (record) => {
    const labels = labelsOf(record);
    handled.inc(labels);
    seconds.observe(labels, record.durationSeconds);
    const line = { rpc: `${record.service}/${record.method}`, code: labels.grpc_code, duration_ms: record.durationSeconds * 1000 };
    if (labels.grpc_code === 'INTERNAL' || labels.grpc_code === 'UNKNOWN') logger.error({ ...line, err: record.error }, 'rpc failed');
    else logger.debug(line, 'rpc');
  };
}

/** Observer of outgoing calls: `grpc_client_handled_total` and `grpc_client_handling_seconds`. */
export function grpcClientObserver(): CallObserver {
  const handled = metric('grpc_client_handled_total', () => new Counter({ name: 'grpc_client_handled_total', help: 'RPCs completed by this process as a client, by method and status code.', labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] }));
  const seconds = metric('grpc_client_handling_seconds', () => new Histogram({ name: 'grpc_client_handling_seconds', help: 'Time from an outgoing RPC starting to its status, in seconds.', labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'], buckets: LATENCY_BUCKETS }));
  return (record) => {
    const labels = labelsOf(record);
    handled.inc(labels);
    seconds.observe(labels, record.durationSeconds);
  };
}
