import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { connectEvents, ensureStreams, natsCheck } from '../../lib/events/index.js';
import { implement } from '../../lib/grpc/index.js';
import { hostServices, queryCheck } from '../../lib/runtime/index.js';
import { openServiceStore } from '../../lib/store/index.js';
import { createLogger, eventMetrics, type Logger } from '../../lib/telemetry/index.js';
import { consumeBars } from './bars-consumer.js';
import type { FeatureConfig } from './config.js';
import { FEATURE_SETS } from './feature-sets/index.js';
import { listFeatureSets } from './list-feature-sets.js';
import { OnlineStore } from './online-store.js';
import { batchGetFeatures, getFeatures, type VectorSources } from './read-features.js';
import { FeatureEngine } from './recompute.js';
import { FeatureStore, MIGRATIONS } from './store.js';
import { getTrainingSet } from './training-set.js';
import { VectorPool } from './vector-pool.js';
import { toFeatureVector } from './vectors.js';

/** The gRPC handlers of FeatureService. */
export function featureHandlers(sources: VectorSources) {
  return implement(FeatureService, {
    getFeatures: (request) => getFeatures(sources, request),
    batchGetFeatures: (request) => batchGetFeatures(sources, request),
    getTrainingSet: (request, context) => getTrainingSet(sources.store, request, context),
    listFeatureSets: (request) => listFeatureSets(request),
  });
}

/** Fills the online store with the latest stored vector of every symbol and set. */
async function warmOnlineStore(store: FeatureStore, online: OnlineStore): Promise<number> {
  let count = 0;
  for (const set of FEATURE_SETS) {
    for (const vector of await store.latestVectors(set)) {
      online.put(set, toFeatureVector(set, vector.symbol, vector, vector.computedAt));
      count++;
    }
  }
  return count;
}

/** A running feature service. */
export interface RunningFeature {
  readonly port: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/**
 * Starts the feature service: store and migrations, the online store warmed from the offline one,
 * the BarsIngested consumer, then the gRPC server; ready once all of them are up.
 */
export async function startFeature(
  config: FeatureConfig,
  logger: Logger = createLogger('feature', config.LOG_LEVEL),
): Promise<RunningFeature> {
  const { store, applied } = await openServiceStore(config, 'feature', MIGRATIONS);
  if (applied.length) logger.info({ applied }, 'migrations applied');
  const features = new FeatureStore(store);
  const online = new OnlineStore();
  const warmed = await warmOnlineStore(features, online);
  const events = await connectEvents({ servers: config.NATS_URL, name: 'feature', logger, metrics: eventMetrics() });
  await ensureStreams(events, { replicas: config.NATS_STREAM_REPLICAS });
  const pool = config.FEATURE_WORKERS > 0 ? new VectorPool(config.FEATURE_WORKERS) : undefined;
  const engine = new FeatureEngine({ store: features, online, events, logger, sets: FEATURE_SETS, pool });
  const consumer = await consumeBars(events, engine, config.FEATURE_CONSUMER_BATCH);
  const host = await hostServices({
    services: [featureHandlers({ online, store: features })],
    port: config.FEATURE_PORT,
    metricsPort: config.FEATURE_METRICS_PORT,
    host: config.BIND_HOST,
    logger,
    checks: [natsCheck(events), queryCheck('store', store)],
  });
  host.setReady(true);
  logger.info({ port: host.port, metricsPort: host.metricsPort, store: store.driver, warmed, workers: pool?.size ?? 0 }, 'feature ready');
  return {
    port: host.port,
    metricsPort: host.metricsPort,
    async stop() {
      await host.stop();
      await consumer.stop();
      await pool?.close();
      await events.close();
      await store.close();
    },
  };
}
