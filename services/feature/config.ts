import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { commonEnv, DEFAULT_PORTS, port, readConfig } from '../../lib/config/index.js';

const schema = z.object({
  ...commonEnv,
  FEATURE_PORT: port().default(DEFAULT_PORTS.feature),
  /** Metrics/health port; default gRPC port + 1000. */
  FEATURE_METRICS_PORT: port().optional(),
  /** BarsIngested events handled together at most: their bars and vectors are written in one insert each. */
  FEATURE_CONSUMER_BATCH: z.coerce.number().int().min(1).max(4096).default(512),
  /**
   * Worker threads that compute whole histories (new symbols, corrections, the first day after a
   * restart) side by side; 0 computes everything on the main thread. Default: the cores Node sees.
   */
  FEATURE_WORKERS: z.coerce.number().int().min(0).max(256).default(availableParallelism()),
});

/** The feature service's configuration. */
export type FeatureConfig = z.infer<typeof schema>;

/** Reads the feature service's configuration from the environment. */
export function featureConfig(env: NodeJS.ProcessEnv = process.env): FeatureConfig {
  return readConfig(schema, env);
}
