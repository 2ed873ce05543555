import { z } from 'zod';
import { addressSchema, commonEnv, DEFAULT_PORTS, port, readConfig, withAddressFallbacks } from '../../lib/config/index.js';

const schema = z.object({
  ...commonEnv,
  TRAINING_PORT: port().default(DEFAULT_PORTS.training),
  /** Metrics/health port; default gRPC port + 1000. */
  TRAINING_METRICS_PORT: port().optional(),
  /** Where the feature service answers (GetTrainingSet). */
  NEPSE_FEATURE_ADDR: addressSchema('feature'),
  /** Where the registry answers (RegisterModel, TransitionStage). */
  NEPSE_REGISTRY_ADDR: addressSchema('registry'),
  /** Cron expression (5 fields, UTC) of scheduled training; unset: no schedule. */
  TRAINING_SCHEDULE: z.string().optional(),
  /**
   * The spec of scheduled runs, as the JSON form of nepse.training.v1.TrainingSpec.
   * Default: ridge on every symbol, auto-promoted when 2 % better than "no change".
   */
  TRAINING_SCHEDULE_SPEC: z
    .string()
    .default('{"modelName":"nepse-ridge","algorithm":"ALGORITHM_RIDGE","foldCount":5,"autoPromote":true,"promotionMargin":0.02}'),
  /** Code revision recorded with every model (e.g. the git commit of the image). */
  CODE_REVISION: z.string().default('dev'),
  /** Time allowed to stream a training set, in milliseconds. */
  TRAINING_LOAD_TIMEOUT_MS: z.coerce.number().int().min(1000).default(300_000),
});

/** The training service's configuration. */
export type TrainingConfig = z.infer<typeof schema>;

/** Reads the training service's configuration from the environment. */
export function trainingConfig(env: NodeJS.ProcessEnv = process.env): TrainingConfig {
  return readConfig(schema, withAddressFallbacks(env, ['feature', 'registry']));
}
