import { IngestBarsRequestSchema, IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { connectEvents, ensureStreams, natsCheck } from '../../lib/events/index.js';
import { implement, useRequestDecoder } from '../../lib/grpc/index.js';
import { hostServices, queryCheck } from '../../lib/runtime/index.js';
import { openServiceStore } from '../../lib/store/index.js';
import { createLogger, eventMetrics, type Logger } from '../../lib/telemetry/index.js';
import { decodeIngestBarsRequest } from './bars-request-decoder.js';
import type { CommitDeps } from './commit-batch.js';
import { CommitGate } from './commit-gate.js';
import type { IngestionConfig } from './config.js';
import { importCsv } from './import-csv.js';
import { ingestBars } from './ingest-bars.js';
import { startOutboxRelay } from './outbox-relay.js';
import { getBars, listSymbols } from './read-bars.js';
import { BarStore, MIGRATIONS } from './store.js';

/** The gRPC handlers of IngestionService over the service's store and event bus. */
export function ingestionHandlers(deps: CommitDeps) {
  useRequestDecoder(IngestBarsRequestSchema, decodeIngestBarsRequest);
  return implement(IngestionService, {
    importCsv: (requests) => importCsv(deps, requests),
    ingestBars: (requests) => ingestBars(deps, requests),
    getBars: (request, context) => getBars(deps.bars, request, context),
    listSymbols: (request) => listSymbols(deps.bars, request),
  });
}

/** A running ingestion service. */
export interface RunningIngestion {
  readonly port: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/**
 * Starts the ingestion service: store and migrations, event streams, the outbox relay, then the
 * gRPC server; ready once all of them are up. stop() undoes it in reverse order.
 */
export async function startIngestion(
  config: IngestionConfig,
  logger: Logger = createLogger('ingestion', config.LOG_LEVEL),
): Promise<RunningIngestion> {
  const { store, applied } = await openServiceStore(config, 'ingestion', MIGRATIONS);
  if (applied.length) logger.info({ applied }, 'migrations applied');
  const events = await connectEvents({ servers: config.NATS_URL, name: 'ingestion', logger, metrics: eventMetrics() });
  await ensureStreams(events, { replicas: config.NATS_STREAM_REPLICAS });
  const deps: CommitDeps = { bars: new BarStore(store), events, logger, gate: new CommitGate() };
  const relay = startOutboxRelay(deps, { intervalMs: config.INGESTION_OUTBOX_INTERVAL_MS });
  const host = await hostServices({
    services: [ingestionHandlers(deps)],
    port: config.INGESTION_PORT,
    metricsPort: config.INGESTION_METRICS_PORT,
    host: config.BIND_HOST,
    logger,
    checks: [natsCheck(events), queryCheck('store', store)],
  });
  host.setReady(true);
  logger.info({ port: host.port, metricsPort: host.metricsPort, store: store.driver }, 'ingestion ready');
  return {
    port: host.port,
    metricsPort: host.metricsPort,
    async stop() {
      await host.stop();
      await relay.stop();
      await events.close();
      await store.close();
    },
  };
}
