import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { PredictionService, PredictRequestSchema, PredictResponseSchema } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { connectEvents, ensureStreams, natsCheck } from '../../lib/events/index.js';
import { createGrpcClient, implement, useMessageEncoder, useRequestDecoder } from '../../lib/grpc/index.js';
import { createCallPolicy } from '../../lib/resilience/index.js';
import { hostServices } from '../../lib/runtime/index.js';
import { createLogger, eventMetrics, grpcClientObserver, type Logger } from '../../lib/telemetry/index.js';
import { startModelActivation, type RunningActivation } from './activation.js';
import { registryAliases, startAliasActivation, type RunningAliasActivation } from './alias-activation.js';
import { Batcher } from './batcher.js';
import type { PredictionConfig } from './config.js';
import { FeatureCache } from './feature-cache.js';
import { FeatureSource } from './feature-source.js';
import { inferenceHandlers } from './inference-protocol.js';
import { predictionMetrics, predictionSeries } from './metrics.js';
import { ModelAliases } from './model-aliases.js';
import { infer, ModelCache, type LoadedModel } from './model-cache.js';
import { createModelLoader } from './model-loader.js';
import { OutputMemo } from './output-memo.js';
import { predict, predictBatch, type PredictionDeps } from './predict.js';
import { PredictionEvents } from './prediction-events.js';
import { decodePredictRequest } from './predict-request-decoder.js';
import { encodePredictResponse } from './prediction-wire.js';
import { ShadowScorer } from './shadow.js';
import { streamPredictions } from './stream-predictions.js';
import { PredictionWatchHub } from './watch-predictions.js';

/** The gRPC handlers of PredictionService. */
export function predictionHandlers(deps: PredictionDeps, watches: PredictionWatchHub, streamWindow: number) {
  useMessageEncoder(PredictResponseSchema, encodePredictResponse);
  useRequestDecoder(PredictRequestSchema, decodePredictRequest);
  return implement(PredictionService, {
    predict: (request, context) => predict(deps, request, context),
    predictBatch: (request, context) => predictBatch(deps, request, context),
    streamPredictions: (requests, context) => streamPredictions(deps, requests, context, streamWindow),
    watchPredictions: (request, context) => watches.watch(request, context),
  });
}

/** A running prediction service. */
export interface RunningPrediction {
  readonly port: number;
  readonly metricsPort: number;
  /** The served models (tests watch swaps through it). */
  readonly models: ModelCache;
  /** The micro-batcher (tests count its runs). */
  readonly batcher: Batcher<LoadedModel>;
  /** The PredictionsMade publisher (tests read its counts). */
  readonly predictionEvents: PredictionEvents;
  /** The aliases served (tests watch moves through it). */
  readonly aliases: ModelAliases;
  /** Shadow scoring (tests read its counts). */
  readonly shadow: ShadowScorer;
  stop(): Promise<void>;
}

/** Durable FeaturesComputed consumer of one instance (see FeatureCache.consume for why per instance). */
export const featuresDurable = (instanceId: string) => `prediction-${instanceId}-features`;

/** Durable BarsIngested consumer of one instance (see FeatureCache.consumeBars). */
export const barsDurable = (instanceId: string) => `prediction-${instanceId}-bars`;

/**
 * Starts the prediction service: events, clients of the registry and the feature service behind
 * resilience policies, the FeaturesComputed consumer, then the gRPC server (PredictionService and
 * inference.GRPCInferenceService) — live at once, ready only once every Production model has been
 * loaded and the promotion consumers run.
 */
export async function startPrediction(
  config: PredictionConfig,
  logger: Logger = createLogger('prediction', config.LOG_LEVEL),
): Promise<RunningPrediction> {
  const events = await connectEvents({ servers: config.NATS_URL, name: 'prediction', logger, metrics: eventMetrics() });
  await ensureStreams(events, { replicas: config.NATS_STREAM_REPLICAS });
  const observer = grpcClientObserver();
  const registry = createGrpcClient(RegistryService, config.NEPSE_REGISTRY_ADDR, { observer, defaultTimeoutMs: 60_000 });
  // A feature service that comes back should be found within a second or two, not after grpc-js's
  // default reconnect backoff of up to two minutes: the degraded answers last until then.
  const featureClient = createGrpcClient(FeatureService, config.NEPSE_FEATURE_ADDR, {
    observer,
    channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000 },
  });
  // One quick retry only: every millisecond spent retrying is a millisecond of the caller's
  // deadline, and the cached vector is a fine answer meanwhile.
  const featurePolicy = createCallPolicy({
    mode: config.RESILIENCE_MODE,
    timeoutMs: config.PREDICTION_FEATURE_TIMEOUT_MS,
    retries: 1,
    initialBackoffMs: 20,
    maxBackoffMs: 100,
    halfOpenAfterMs: config.PREDICTION_BREAKER_HALF_OPEN_MS,
  });
  const metrics = predictionMetrics();
  const series = predictionSeries(metrics);
  const models = new ModelCache({ logger });
  const cache = new FeatureCache({ freshMs: config.PREDICTION_FEATURE_FRESH_MS, logger, metrics });
  const features = new FeatureSource({
    client: featureClient,
    policy: featurePolicy,
    timeoutMs: config.PREDICTION_FEATURE_TIMEOUT_MS,
    cache,
    logger,
    metrics,
  });
  const batcher = new Batcher<LoadedModel>({
    infer,
    maxBatch: config.PREDICTION_MAX_BATCH,
    maxQueueDelayMs: config.PREDICTION_MAX_QUEUE_DELAY_MS,
    onRun: (model, rows, seconds) => series.ran(model.name, rows, seconds),
  });
  const predictionEvents = new PredictionEvents({
    bus: events,
    instanceId: config.PREDICTION_INSTANCE_ID,
    queueLimit: config.PREDICTION_EVENT_QUEUE,
    concurrency: config.PREDICTION_EVENT_CONCURRENCY,
    lingerMs: config.PREDICTION_EVENT_LINGER_MS,
    logger,
    metrics,
  });
  const aliases = new ModelAliases(logger);
  const shadow = new ShadowScorer({
    aliases,
    events: predictionEvents,
    queueLimit: config.PREDICTION_SHADOW_QUEUE,
    maxBatch: config.PREDICTION_MAX_BATCH,
    logger,
  });
  const deps: PredictionDeps = {
    models,
    features,
    batcher,
    events: predictionEvents,
    defaultModel: config.PREDICTION_DEFAULT_MODEL,
    metrics,
    logger,
    aliases,
    shadow,
    outputs: config.PREDICTION_REUSE_OUTPUTS ? new OutputMemo() : undefined,
  };
  const watches = new PredictionWatchHub(deps, config.PREDICTION_HEARTBEAT_MS);
  watches.start();
  // Both start at the latest stored event of each symbol (the warm-up) and then take every new
  // one; which of the two runs ahead does not matter (feature-cache.ts compares stream sequences).
  const barsConsumer = await cache.consumeBars(events, barsDurable(config.PREDICTION_INSTANCE_ID));
  const featureConsumer = await cache.consume(events, featuresDurable(config.PREDICTION_INSTANCE_ID), new Date());
  const host = await hostServices({
    services: [
      predictionHandlers(deps, watches, config.PREDICTION_STREAM_WINDOW),
      inferenceHandlers(models, { run: (model, rows, count) => batcher.run(model, rows, count) }),
    ],
    port: config.PREDICTION_PORT,
    metricsPort: config.PREDICTION_METRICS_PORT,
    host: config.BIND_HOST,
    logger,
    checks: [natsCheck(events)],
  });
  const loader = createModelLoader({ registry, logger, mode: config.RESILIENCE_MODE });
  let activation: RunningActivation;
  let aliasActivation: RunningAliasActivation;
  try {
    activation = await startModelActivation({ cache: models, loader, events, instanceId: config.PREDICTION_INSTANCE_ID, logger });
    aliasActivation = await startAliasActivation({
      aliases,
      loader,
      directory: registryAliases(registry),
      events,
      instanceId: config.PREDICTION_INSTANCE_ID,
      logger,
    }).catch(async (error) => {
      await activation.stop();
      throw error;
    });
  } catch (error) {
    // The registry never answered (or the consumers could not start): undo everything started so far.
    watches.close();
    await host.stop();
    await featureConsumer.stop();
    await barsConsumer.stop();
    await predictionEvents.stop(0);
    await events.close();
    await models.close();
    await aliases.close();
    registry.close();
    featureClient.close();
    throw error;
  }
  host.setReady(true);
  logger.info(
    {
      port: host.port,
      metricsPort: host.metricsPort,
      models: models.list().map((m) => `${m.name}/${m.version}`),
      reuseOutputs: config.PREDICTION_REUSE_OUTPUTS,
      batching: batcher.enabled ? { maxBatch: config.PREDICTION_MAX_BATCH, maxQueueDelayMs: config.PREDICTION_MAX_QUEUE_DELAY_MS } : 'off',
      instance: config.PREDICTION_INSTANCE_ID,
    },
    'prediction ready',
  );
  return {
    port: host.port,
    metricsPort: host.metricsPort,
    models,
    batcher,
    predictionEvents,
    aliases,
    shadow,
    async stop() {
      // Watch streams end first (clients reconnect elsewhere) so they do not hold up the drain.
      watches.close();
      await host.stop();
      await activation.stop();
      await aliasActivation.stop();
      await featureConsumer.stop();
      await barsConsumer.stop();
      await batcher.drain();
      await shadow.drain();
      await predictionEvents.stop();
      await events.close();
      await models.close();
      await aliases.close();
      registry.close();
      featureClient.close();
    },
  };
}
