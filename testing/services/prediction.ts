/** The prediction service for the test network: its real start function. */
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { predictionConfig } from '../../services/prediction/config.js';
import { startPrediction, type RunningPrediction } from '../../services/prediction/service.js';
import type { ServiceDriver } from './driver.js';

/** Starts prediction from environment variables; it loads the registry's Production models while starting. */
export const prediction = {
  name: 'prediction',
  definition: PredictionService,
  phase: 1,
  // A fixed instance id names its durable consumer; a short half-open wait lets breaker tests end soon.
  env: { PREDICTION_INSTANCE_ID: 'test-0', PREDICTION_BREAKER_HALF_OPEN_MS: '500' },
  start: (env) => startPrediction(predictionConfig(env)),
} satisfies ServiceDriver<RunningPrediction>;
