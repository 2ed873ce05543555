import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { connectEvents, ensureStreams, natsCheck, type EventSubscription } from '../../lib/events/index.js';
import { createGrpcClient, implement } from '../../lib/grpc/index.js';
import { createCallPolicy } from '../../lib/resilience/index.js';
import { hostServices, queryCheck } from '../../lib/runtime/index.js';
import { openServiceStore } from '../../lib/store/index.js';
import { createLogger, eventMetrics, grpcClientObserver, type Logger } from '../../lib/telemetry/index.js';
import { AlertBook } from './alert-book.js';
import type { MonitoringConfig } from './config.js';
import { startConsumers } from './consumers.js';
import { Evaluator } from './evaluator.js';
import { getErrorSeries } from './get-error-series.js';
import { getModelPerformance, type PerformanceDeps } from './get-model-performance.js';
import { listAlerts } from './list-alerts.js';
import { listScoredPredictions } from './list-scored-predictions.js';
import { ModelInfoSource } from './model-info.js';
import { ModelsSeen } from './models-seen.js';
import { loadRules, type Rule } from './rules.js';
import { Scorer } from './scorer.js';
import { MIGRATIONS, MonitoringStore } from './store.js';
import { watchAlerts } from './watch-alerts.js';
import { Webhook } from './webhook.js';

/** The gRPC handlers of MonitoringService. */
export function monitoringHandlers(deps: PerformanceDeps & { book: AlertBook; heartbeatMs: number; closing: AbortSignal }) {
  return implement(MonitoringService, {
    getModelPerformance: (request) => getModelPerformance(deps, request),
    listAlerts: (request) => listAlerts(deps.store, request),
    watchAlerts: (request, context) => watchAlerts(deps.book, request, context, deps.heartbeatMs, deps.closing),
    listScoredPredictions: (request) => listScoredPredictions(deps.store, request),
    getErrorSeries: (request) => getErrorSeries(deps, request),
  });
}

/** Options of {@link startMonitoring} beyond the configuration (tests). */
export interface MonitoringOptions {
  logger?: Logger;
  /** The clock rules read (epoch ms); default Date.now. */
  now?: () => number;
  /** Rules to run instead of those of MONITORING_RULES_FILE or the defaults. */
  rules?: readonly Rule[];
}

/** A running monitoring service. */
export interface RunningMonitoring {
  readonly port: number;
  readonly metricsPort: number;
  /** The rule loop (tests run an evaluation and count runs). */
  readonly evaluator: Evaluator;
  stop(): Promise<void>;
}

/**
 * Starts the monitoring service: rules (a bad rules file fails here, naming the key), store and
 * migrations, alert state from the store, the PredictionsMade and BarsIngested consumers, the rule
 * loop, then the gRPC server; ready once all of them are up.
 */
export async function startMonitoring(config: MonitoringConfig, options: MonitoringOptions = {}): Promise<RunningMonitoring> {
  const logger = options.logger ?? createLogger('monitoring', config.LOG_LEVEL);
  const now = options.now ?? Date.now;
  const ruleSet = await loadRules(config.MONITORING_RULES_FILE);
  const rules = options.rules ?? ruleSet.rules;
  const webhookUrl = config.MONITORING_WEBHOOK_URL ?? ruleSet.webhookUrl;
  const { store: raw, applied } = await openServiceStore(config, 'monitoring', MIGRATIONS);
  if (applied.length) logger.info({ applied }, 'migrations applied');
  const store = new MonitoringStore(raw);
  const registry = createGrpcClient(RegistryService, config.NEPSE_REGISTRY_ADDR, {
    observer: grpcClientObserver(),
    channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 2_000 },
  });
  const policy = createCallPolicy({ mode: config.RESILIENCE_MODE, timeoutMs: config.MONITORING_REGISTRY_TIMEOUT_MS, retries: 1 });
  const info = new ModelInfoSource(registry, policy, logger, config.MONITORING_REGISTRY_TIMEOUT_MS);
  const models = new ModelsSeen();
  const closing = new AbortController();
  let events: Awaited<ReturnType<typeof connectEvents>> | undefined;
  let consumers: EventSubscription[] = [];
  let evaluator: Evaluator | undefined;
  const webhook = webhookUrl ? new Webhook(webhookUrl, config.MONITORING_WEBHOOK_TIMEOUT_MS, logger) : undefined;
  try {
    await models.load(store);
    events = await connectEvents({ servers: config.NATS_URL, name: 'monitoring', logger, metrics: eventMetrics() });
    await ensureStreams(events, { replicas: config.NATS_STREAM_REPLICAS });
    const book = new AlertBook({ store, events, webhook, logger });
    await book.load();
    const scorer = new Scorer(store);
    const loop = (evaluator = new Evaluator({
      rules,
      store,
      models,
      info,
      now,
      scorer,
      book,
      logger,
      intervalMs: config.MONITORING_EVALUATE_INTERVAL_MS,
      debounceMs: config.MONITORING_EVALUATE_DEBOUNCE_MS,
    }));
    consumers = await startConsumers({
      events,
      store,
      scorer,
      models,
      logger,
      onData: () => loop.poke(),
      concurrency: config.MONITORING_CONSUMER_CONCURRENCY,
    });
    const host = await hostServices({
      services: [monitoringHandlers({ store, models, info, book, heartbeatMs: config.MONITORING_HEARTBEAT_MS, closing: closing.signal })],
      port: config.MONITORING_PORT,
      metricsPort: config.MONITORING_METRICS_PORT,
      host: config.BIND_HOST,
      logger,
      checks: [natsCheck(events), queryCheck('store', raw)],
    });
    loop.start();
    host.setReady(true);
    logger.info(
      { port: host.port, metricsPort: host.metricsPort, store: raw.driver, rules: rules.map((r) => r.name), webhook: Boolean(webhook) },
      'monitoring ready',
    );
    const bus = events;
    return {
      port: host.port,
      metricsPort: host.metricsPort,
      evaluator: loop,
      async stop() {
        closing.abort();
        await host.stop();
        await Promise.all(consumers.map((c) => c.stop()));
        await loop.stop();
        await webhook?.drain();
        await bus.close();
        registry.close();
        await raw.close();
      },
    };
  } catch (error) {
    closing.abort();
    await Promise.allSettled(consumers.map((c) => c.stop()));
    await evaluator?.stop();
    await events?.close();
    registry.close();
    await raw.close();
    throw error;
  }
}
