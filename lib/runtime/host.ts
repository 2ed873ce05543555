import { createGrpcServer, type ServiceImplementation } from '../grpc/index.js';
import {
  collectProcessMetrics,
  grpcServerObserver,
  startTelemetryServer,
  stopTracing,
  watchHolidayTable,
  type Logger,
} from '../telemetry/index.js';
import { createReadiness, type Readiness, type ReadinessCheck } from './readiness.js';

/** Options of {@link hostServices}. */
export interface HostOptions {
  /** What is served over gRPC. */
  services: readonly ServiceImplementation[];
  /** gRPC port (0 picks a free one). */
  port: number;
  /** Metrics/health HTTP port; default gRPC port + 1000, or a free one when the gRPC port is 0. */
  metricsPort?: number;
  host: string;
  logger: Logger;
  /**
   * What the service needs to do its job (its NATS connection, its store): while any fails,
   * /readyz answers 503 with the reason and grpc.health.v1 says NOT_SERVING.
   */
  checks?: readonly ReadinessCheck[];
  /** How often the checks run to keep grpc.health.v1 current, in ms. Default 1 000. */
  readinessIntervalMs?: number;
}

/** A running service process's serving side. */
export interface Host {
  readonly port: number;
  readonly metricsPort: number;
  /**
   * Marks start-up as finished (or not): from then on the service is ready (grpc.health.v1
   * SERVING and /readyz 200) whenever every check passes.
   */
  setReady(ready: boolean): void;
  /** The checks behind /readyz and grpc.health.v1; more can be added after start. */
  readonly readiness: Readiness;
  /** Stops answering health as ready, drains in-flight calls for up to `graceMs`, closes both servers. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Serves the implementations with reflection and health, plus /metrics, /healthz (alive) and
 * /readyz (JSON: `{"status":"ready","checks":{...}}`, or 503 with a `reason`). The checks run
 * every `readinessIntervalMs` and on each /readyz; a change flips grpc.health.v1 for every
 * served service and is logged once.
 */
export async function hostServices(options: HostOptions): Promise<Host> {
  collectProcessMetrics();
  watchHolidayTable(options.logger);
  const server = createGrpcServer({ services: options.services, observer: grpcServerObserver(options.logger) });
  const port = await server.listen(options.port, options.host);
  const readiness = createReadiness(options.checks, {
    onChange(report) {
      server.setServing(report.status === 'ready');
      if (report.status === 'ready') options.logger.info({ checks: report.checks }, 'ready again');
      else options.logger.warn({ reason: report.reason, checks: report.checks }, `not ready: ${report.reason}`);
    },
  });
  const timer = setInterval(() => void readiness.evaluate(), options.readinessIntervalMs ?? 1_000);
  timer.unref();
  const telemetry = await startTelemetryServer({
    port: options.metricsPort ?? (options.port === 0 ? 0 : port + 1000),
    host: options.host,
    isReady: async () => {
      const report = await readiness.evaluate();
      return { ready: report.status === 'ready', body: report };
    },
  });
  return {
    port,
    metricsPort: telemetry.port,
    readiness,
    setReady(value) {
      readiness.setStarted(value);
      if (!value) return server.setServing(false);
      // Health follows the checks from here on (onChange); the first report decides at once.
      void readiness.evaluate().then((report) => server.setServing(report.status === 'ready'));
    },
    async stop(graceMs = 5_000) {
      clearInterval(timer);
      readiness.setStarted(false);
      server.setServing(false);
      await server.stop(graceMs);
      await telemetry.close();
    },
  };
}

/**
 * Runs `stop` once on SIGINT or SIGTERM, then flushes the spans still batched for export and
 * exits; a second signal exits at once. Used by every main.ts so that Kubernetes' SIGTERM drains
 * calls and consumers before stores close, and the trace of the last calls is not lost.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      async () => {
        await flushTraces();
        process.exit(0);
      },
      async (error) => {
        logger.error({ err: error }, 'shutdown failed');
        await flushTraces();
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** How long shutdown waits for the last spans to reach the collector, in ms: a collector that is down must not hold the exit. */
const TRACE_FLUSH_MS = 2_000;

/** Exports the spans still batched, bounded by {@link TRACE_FLUSH_MS}. */
function flushTraces(): Promise<unknown> {
  return Promise.race([stopTracing().catch(() => {}), new Promise((resolve) => setTimeout(resolve, TRACE_FLUSH_MS).unref())]);
}
