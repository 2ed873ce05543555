import { join } from 'node:path';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { connectEvents, ensureStreams, natsCheck } from '../../lib/events/index.js';
import { implement } from '../../lib/grpc/index.js';
import { migrate, openDatabase } from '../../lib/postgres/index.js';
import { hostServices, queryCheck } from '../../lib/runtime/index.js';
import { createLogger, eventMetrics, type Logger } from '../../lib/telemetry/index.js';
import { consumeActivations } from './activation-consumer.js';
import { ArtifactStore } from './artifacts.js';
import { ModelChanges } from './changes.js';
import type { RegistryConfig } from './config.js';
import type { RegistryDeps } from './context.js';
import { downloadArtifact } from './download-artifact.js';
import { withDomainErrors } from './errors.js';
import { createFeatureSets } from './feature-sets.js';
import { EventOutbox } from './outbox.js';
import { getModel, getModelHistory, listModels } from './read-models.js';
import { registerModel } from './register-model.js';
import { setAlias } from './set-alias.js';
import { MIGRATIONS } from './store.js';
import { transitionStage } from './transition-stage.js';
import { watchModels } from './watch-models.js';

/** The gRPC handlers of RegistryService; database and NATS failures become UNAVAILABLE in one place. */
export function registryHandlers(deps: RegistryDeps) {
  return withDomainErrors(
    implement(RegistryService, {
      registerModel: (requests) => registerModel(deps, requests),
      getModel: (request) => getModel(deps, request),
      listModels: (request) => listModels(deps, request),
      transitionStage: (request) => transitionStage(deps, request),
      setAlias: (request) => setAlias(deps, request),
      getModelHistory: (request) => getModelHistory(deps, request),
      downloadArtifact: (request, context) => downloadArtifact(deps, request, context),
      watchModels: (request, context) => watchModels(deps, request, context),
    }),
  );
}

/** A running registry. */
export interface RunningRegistry {
  readonly port: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/**
 * Starts the registry: metadata database (PostgreSQL with DATABASE_URL, PGlite under
 * DATA_DIR/registry otherwise) and migrations, event streams, the artifact bucket, the outbox
 * relay, the ModelActivation consumer, then the gRPC server; ready once all of them are up. The
 * feature service is only needed when a model is registered.
 */
export async function startRegistry(
  config: RegistryConfig,
  logger: Logger = createLogger('registry', config.LOG_LEVEL),
): Promise<RunningRegistry> {
  const db = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: join(config.DATA_DIR, 'registry', 'pglite'),
    schema: 'registry',
    applicationName: 'nepse-registry',
    onIdleError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
  });
  const applied = await migrate(db, MIGRATIONS);
  if (applied.length) logger.info({ applied }, 'migrations applied');
  const events = await connectEvents({ servers: config.NATS_URL, name: 'registry', logger, metrics: eventMetrics() });
  await ensureStreams(events, { replicas: config.NATS_STREAM_REPLICAS });
  const artifacts = await ArtifactStore.open(events.js, { bucket: config.REGISTRY_ARTIFACT_BUCKET, replicas: config.NATS_STREAM_REPLICAS });
  const featureSets = createFeatureSets({
    address: config.NEPSE_FEATURE_ADDR,
    mode: config.RESILIENCE_MODE,
    timeoutMs: config.REGISTRY_FEATURE_TIMEOUT_MS,
  });
  const outbox = new EventOutbox(db, events, logger);
  outbox.start(config.REGISTRY_OUTBOX_INTERVAL_MS);
  const changes = new ModelChanges();
  const deps: RegistryDeps = {
    db,
    artifacts,
    featureSets,
    outbox,
    changes,
    logger,
    heartbeatMs: config.REGISTRY_HEARTBEAT_MS,
    uploads: { active: 0, limit: config.REGISTRY_MAX_UPLOADS },
  };
  const consumer = await consumeActivations(deps, events);
  const host = await hostServices({
    services: [registryHandlers(deps)],
    port: config.REGISTRY_PORT,
    metricsPort: config.REGISTRY_METRICS_PORT,
    host: config.BIND_HOST,
    logger,
    checks: [natsCheck(events), queryCheck('database', db)],
  });
  host.setReady(true);
  logger.info(
    { port: host.port, metricsPort: host.metricsPort, database: db.driver, bucket: config.REGISTRY_ARTIFACT_BUCKET },
    'registry ready',
  );
  return {
    port: host.port,
    metricsPort: host.metricsPort,
    async stop() {
      // Watch streams end first (clients reconnect elsewhere) so they do not hold up the drain.
      changes.close();
      await host.stop();
      await consumer.stop();
      await outbox.stop();
      await events.close();
      featureSets.close();
      await db.close();
    },
  };
}
