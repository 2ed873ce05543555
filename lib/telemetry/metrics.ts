import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { EventMetrics } from '../events/observe.js';
import type { CallRecord, CallObserver } from '../grpc/server.js';
import { registerConsumerLagMetrics, watchConsumerLag } from './consumer-lag.js';
import { boundCounter, boundHistogram, type BoundCounter, type BoundHistogram } from './bound-series.js';
import type { Logger } from './logger.js';
import { metric, metricsRegistry } from './metrics-registry.js';

export { metric, metricsRegistry };

let processMetricsOn = false;

/** The mesh's version (package.json) and code revision (CODE_REVISION, default `dev`). */
export function buildInfo(): { version: string; revision: string } {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return { version: pkg.version ?? '0.0.0', revision: process.env.CODE_REVISION || 'dev' };
}

/**
 * Turns on Node process metrics (CPU, memory, event-loop lag, GC) once per process, and
 * `nepse_build_info{version,revision}` (always 1), which the gateway's GetMeshStatus reads.
 */
export function collectProcessMetrics(): void {
  if (processMetricsOn) return;
  processMetricsOn = true;
  collectDefaultMetrics({ register: metricsRegistry });
  const info = buildInfo();
  metric(
    'nepse_build_info',
    () =>
      new Gauge({
        name: 'nepse_build_info',
        help: 'Version and code revision of the running process (always 1).',
        labelNames: ['version', 'revision'],
        registers: [metricsRegistry],
      }),
  ).set(info, 1);
}

/** Latency buckets in seconds, from 0.1 ms to 10 s: in-mesh calls are fast, imports are not. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** Codes that mean the server itself failed (logged at error); the rest are the caller's or a dependency's doing. */
const SERVER_FAULTS = new Set(['INTERNAL', 'UNKNOWN', 'DATA_LOSS']);

const KIND_NAMES = {
  unary: 'unary',
  server_streaming: 'server_stream',
  client_streaming: 'client_stream',
  bidi_streaming: 'bidi_stream',
} as const;

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
 * per call, an error line per failure that is the server's fault and a warning per call a dependency
 * outage made UNAVAILABLE.
 */
export function grpcServerObserver(logger: Logger): CallObserver {
  const handled = metric(
    'grpc_server_handled_total',
    () =>
      new Counter({
        name: 'grpc_server_handled_total',
        help: 'RPCs completed on the server, by method and status code.',
        labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
      }),
  );
  const seconds = metric(
    'grpc_server_handling_seconds',
    () =>
      new Histogram({
        name: 'grpc_server_handling_seconds',
        help: 'Time from an RPC arriving to its status being sent, in seconds.',
        labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
        buckets: LATENCY_BUCKETS,
      }),
  );
  // Series are bound once per method and code, since hashing labels on every call is measurable
  // next to a sub-millisecond RPC (bound-series.ts), and found by method name and code without
  // building a key string per call; services rarely share a method name, so the inner scan is short.
  type Child = { service: string; handled: BoundCounter; seconds: BoundHistogram; code: string };
  const children = new Map<string, Array<Child[] | undefined>>();
  return (record) => {
    let byCode = children.get(record.method);
    if (!byCode) children.set(record.method, (byCode = []));
    const ofCode = (byCode[record.code] ??= []);
    let child: Child | undefined;
    for (const c of ofCode) if (c.service === record.service) child = c;
    if (!child) {
      const labels = labelsOf(record);
      child = {
        service: record.service,
        handled: boundCounter(handled, labels),
        seconds: boundHistogram(seconds, labels),
        code: labels.grpc_code,
      };
      ofCode.push(child);
    }
    child.handled.inc();
    child.seconds.observe(record.durationSeconds);
    if (SERVER_FAULTS.has(child.code)) {
      logger.error(
        { rpc: `${record.service}/${record.method}`, code: child.code, duration_ms: record.durationSeconds * 1000, err: record.error },
        'rpc failed',
      );
    } else if (child.code === 'UNAVAILABLE') {
      // A dependency is down: the status names it without details; the cause (host, driver text) is for the operator.
      logger.warn(
        { rpc: `${record.service}/${record.method}`, code: child.code, duration_ms: record.durationSeconds * 1000, err: record.error },
        'rpc unavailable',
      );
    } else if (logger.isLevelEnabled('debug')) {
      logger.debug({ rpc: `${record.service}/${record.method}`, code: child.code, duration_ms: record.durationSeconds * 1000 }, 'rpc');
    }
  };
}

/** Observer of outgoing calls: `grpc_client_handled_total` and `grpc_client_handling_seconds`. */
export function grpcClientObserver(): CallObserver {
  const handled = metric(
    'grpc_client_handled_total',
    () =>
      new Counter({
        name: 'grpc_client_handled_total',
        help: 'RPCs completed by this process as a client, by method and status code.',
        labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
      }),
  );
  const seconds = metric(
    'grpc_client_handling_seconds',
    () =>
      new Histogram({
        name: 'grpc_client_handling_seconds',
        help: 'Time from an outgoing RPC starting to its status, in seconds.',
        labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
        buckets: LATENCY_BUCKETS,
      }),
  );
  return (record) => {
    const labels = labelsOf(record);
    handled.inc(labels);
    seconds.observe(labels, record.durationSeconds);
  };
}

/**
 * The events kit's metric hooks as Prometheus counters and a histogram (see lib/events/observe.ts),
 * plus the lag of every durable consumer the bus runs, read at scrape time
 * (`nepse_events_consumer_pending`, `nepse_events_consumer_ack_pending`; see consumer-lag.ts).
 */
export function eventMetrics(): EventMetrics {
  const published = metric(
    'nepse_events_published_total',
    () =>
      new Counter({
        name: 'nepse_events_published_total',
        help: 'Events acknowledged by JetStream, by event and whether JetStream dropped them as duplicates.',
        labelNames: ['event', 'duplicate'],
      }),
  );
  const consumed = metric(
    'nepse_events_consumed_total',
    () =>
      new Counter({
        name: 'nepse_events_consumed_total',
        help: 'Events handled and acknowledged, by event and durable consumer.',
        labelNames: ['event', 'durable'],
      }),
  );
  const failed = metric(
    'nepse_events_failed_total',
    () =>
      new Counter({
        name: 'nepse_events_failed_total',
        help: 'Handler attempts that failed, by event and durable consumer.',
        labelNames: ['event', 'durable'],
      }),
  );
  const redelivered = metric(
    'nepse_events_redelivered_total',
    () =>
      new Counter({
        name: 'nepse_events_redelivered_total',
        help: 'Deliveries after the first, by event and durable consumer.',
        labelNames: ['event', 'durable'],
      }),
  );
  const deadLettered = metric(
    'nepse_events_dead_lettered_total',
    () =>
      new Counter({
        name: 'nepse_events_dead_lettered_total',
        help: 'Events moved to the dead-letter stream, by event, durable consumer and reason.',
        labelNames: ['event', 'durable', 'reason'],
      }),
  );
  const handling = metric(
    'nepse_event_handling_seconds',
    () =>
      new Histogram({
        name: 'nepse_event_handling_seconds',
        help: 'Time an event handler ran, in seconds.',
        labelNames: ['event', 'durable'],
        buckets: LATENCY_BUCKETS,
      }),
  );
  registerConsumerLagMetrics();
  // Per bus: each bus stops only the lag series of the consumers it started.
  const unwatch = new Map<string, () => void>();
  return {
    onConsumerStarted: (stream, durable, lag) => {
      unwatch.get(`${stream}/${durable}`)?.();
      unwatch.set(`${stream}/${durable}`, watchConsumerLag({ stream, durable, lag }));
    },
    onConsumerStopped: (stream, durable) => {
      unwatch.get(`${stream}/${durable}`)?.();
      unwatch.delete(`${stream}/${durable}`);
    },
    onPublished: (event, duplicate) => published.inc({ event, duplicate: String(duplicate) }),
    onConsumed: (event, durable, ms) => {
      consumed.inc({ event, durable });
      handling.observe({ event, durable }, ms / 1000);
    },
    onFailed: (event, durable, ms) => {
      failed.inc({ event, durable });
      handling.observe({ event, durable }, ms / 1000);
    },
    onRedelivered: (event, durable) => redelivered.inc({ event, durable }),
    onDeadLettered: (event, durable, reason) => deadLettered.inc({ event, durable, reason }),
  };
}
