import { join } from 'node:path';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { connectEvents, ensureStreams, natsCheck } from '../../lib/events/index.js';
import { createGrpcClient, implement } from '../../lib/grpc/index.js';
import { createCallPolicy } from '../../lib/resilience/index.js';
import { hostServices } from '../../lib/runtime/index.js';
import { createLogger, eventMetrics, grpcClientObserver, type Logger } from '../../lib/telemetry/index.js';
import type { TrainingConfig } from './config.js';
import { JobQueue } from './job-queue.js';
import { JobStore } from './job-store.js';
import { getJob, listJobs, startTraining, watchJob } from './jobs-api.js';
import { parseSchedule, startSchedule } from './schedule.js';

/** A running training service. */
export interface RunningTraining {
  readonly port: number;
  readonly metricsPort: number;
  readonly queue: JobQueue;
  stop(): Promise<void>;
}

/**
 * Starts the training service: its job store, clients of the feature service and the registry
 * behind resilience policies, the optional cron schedule, then the gRPC server.
 */
export async function startTrainingService(
  config: TrainingConfig,
  logger: Logger = createLogger('training', config.LOG_LEVEL),
): Promise<RunningTraining> {
  const schedule = config.TRAINING_SCHEDULE ? parseSchedule(config.TRAINING_SCHEDULE, config.TRAINING_SCHEDULE_SPEC) : undefined;
  const jobs = new JobStore(join(config.DATA_DIR, 'training', 'jobs.json'));
  const events = await connectEvents({ servers: config.NATS_URL, name: 'training', logger, metrics: eventMetrics() });
  await ensureStreams(events, { replicas: config.NATS_STREAM_REPLICAS });
  const observer = grpcClientObserver();
  const features = createGrpcClient(FeatureService, config.NEPSE_FEATURE_ADDR, { observer });
  const registry = createGrpcClient(RegistryService, config.NEPSE_REGISTRY_ADDR, { observer, defaultTimeoutMs: 60_000 });
  const featurePolicy = createCallPolicy({
    mode: config.RESILIENCE_MODE,
    timeoutMs: config.TRAINING_LOAD_TIMEOUT_MS,
    retries: 2,
    bulkheadLimit: 4,
  });
  const registryPolicy = createCallPolicy({ mode: config.RESILIENCE_MODE, timeoutMs: 120_000, retries: 2, bulkheadLimit: 4 });
  const queue = new JobQueue({
    jobs,
    features,
    registry,
    featurePolicy,
    registryPolicy,
    events,
    logger,
    codeRevision: config.CODE_REVISION,
    loadTimeoutMs: config.TRAINING_LOAD_TIMEOUT_MS,
  });
  const scheduler = schedule && startSchedule(schedule, queue, logger);
  const host = await hostServices({
    services: [
      implement(TrainingService, {
        startTraining: (request) => startTraining({ jobs, queue, features, featurePolicy }, request),
        getJob: (request) => getJob(jobs, request),
        watchJob: (request, context) => watchJob(jobs, request, context),
        listJobs: (request) => listJobs(jobs, request),
      }),
    ],
    port: config.TRAINING_PORT,
    metricsPort: config.TRAINING_METRICS_PORT,
    host: config.BIND_HOST,
    logger,
    checks: [natsCheck(events)],
  });
  host.setReady(true);
  logger.info({ port: host.port, metricsPort: host.metricsPort, schedule: config.TRAINING_SCHEDULE ?? 'none' }, 'training ready');
  return {
    port: host.port,
    metricsPort: host.metricsPort,
    queue,
    async stop() {
      scheduler?.stop();
      await host.stop();
      await queue.idle();
      features.close();
      registry.close();
      await events.close();
    },
  };
}
