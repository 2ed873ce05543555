import { hostname } from 'node:os';
import { z } from 'zod';
import { addressSchema, commonEnv, DEFAULT_PORTS, port, readConfig, withAddressFallbacks } from '../../lib/config/index.js';
import { MODEL_NAME_PATTERN } from '../../lib/market/index.js';

const schema = z.object({
  ...commonEnv,
  PREDICTION_PORT: port().default(DEFAULT_PORTS.prediction),
  /** Metrics/health port; default gRPC port + 1000. */
  PREDICTION_METRICS_PORT: port().optional(),
  /** Where the feature service answers (GetFeatures, BatchGetFeatures). */
  NEPSE_FEATURE_ADDR: addressSchema('feature'),
  /** Where the registry answers (GetModel, ListModels, DownloadArtifact, WatchModels). */
  NEPSE_REGISTRY_ADDR: addressSchema('registry'),
  /**
   * Identifier of this instance in ModelActivation and PredictionsMade, and part of its durable
   * FeaturesComputed consumer: give each replica a stable one (its pod name) so a restart resumes
   * its consumer instead of replaying the stream. Default: host name and process id.
   */
  PREDICTION_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, "_" or "-", at most 40')
    .default(`${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(-40)),
  /** Model used when a request names none; unset: the Production model (the only one, or the first by name). */
  PREDICTION_DEFAULT_MODEL: z.string().regex(MODEL_NAME_PATTERN).optional(),
  /** Largest number of rows one micro-batched inference run takes (Triton's max_batch_size). 1 switches batching off. */
  PREDICTION_MAX_BATCH: z.coerce.number().int().min(1).max(4096).default(64),
  /**
   * Longest a request waits in the queue for others to join its batch, in milliseconds (Triton's
   * max_queue_delay). 0 switches batching off. Values below 1 wait one event-loop turn instead,
   * as Node timers cannot wait less than 1 ms: see batcher.ts for why that is the default.
   */
  PREDICTION_MAX_QUEUE_DELAY_MS: z.coerce.number().min(0).max(100).default(0.1),
  /**
   * Whether a prediction reuses the output a model already gave for the very same feature vector
   * (a symbol's latest vector, until the next FeaturesComputed) instead of running it again. See
   * output-memo.ts; `false` runs the model for every prediction.
   */
  PREDICTION_REUSE_OUTPUTS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  /** Time allowed for a feature lookup, retries included, in milliseconds; after it the cached vector answers, degraded. */
  PREDICTION_FEATURE_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  /**
   * How long a feature vector heard from the feature service (an answer or FeaturesComputed) is
   * used without asking again, in milliseconds; 0 asks on every prediction. See feature-cache.ts.
   */
  PREDICTION_FEATURE_FRESH_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** How long the feature service's open circuit breaker waits before letting a trial call through, in milliseconds. */
  PREDICTION_BREAKER_HALF_OPEN_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** Requests of one StreamPredictions call being answered or waiting to be sent; the stream is not read beyond it. */
  PREDICTION_STREAM_WINDOW: z.coerce.number().int().min(1).max(4096).default(128),
  /** Keep-alive interval of WatchPredictions streams, in milliseconds (market.proto: at least every 15 s). */
  PREDICTION_HEARTBEAT_MS: z.coerce.number().int().min(10).max(15_000).default(10_000),
  /** Predictions waiting to be published in PredictionsMade; beyond it new ones are dropped and counted. */
  PREDICTION_EVENT_QUEUE: z.coerce.number().int().min(1).max(1_000_000).default(100_000),
  /** PredictionsMade events (up to 1,000 predictions each) published and awaiting their PubAck at most. */
  PREDICTION_EVENT_CONCURRENCY: z.coerce.number().int().min(1).max(100_000).default(64),
  /**
   * How long a prediction waits for others to share its PredictionsMade event, in milliseconds; 0
   * publishes once per event-loop turn. See prediction-events.ts for why a tenth of a second is worth it.
   */
  PREDICTION_EVENT_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(100),
  /** Shadow predictions (the `challenger` alias) waiting to be made; beyond it new ones are dropped and counted. */
  PREDICTION_SHADOW_QUEUE: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
});

/** The prediction service's configuration. */
export type PredictionConfig = z.infer<typeof schema>;

/** Reads the prediction service's configuration from the environment. */
export function predictionConfig(env: NodeJS.ProcessEnv = process.env): PredictionConfig {
  return readConfig(schema, withAddressFallbacks(env, ['feature', 'registry']));
}
