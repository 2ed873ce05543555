/** The feature service for the test network: its real start function. */
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { featureConfig } from '../../services/feature/config.js';
import { startFeature, type RunningFeature } from '../../services/feature/service.js';
import type { ServiceDriver } from './driver.js';

/** Starts the feature service (it serves ohlcv_v1, 25 features) from environment variables. */
export const feature = {
  name: 'feature',
  definition: FeatureService,
  phase: 0,
  env: {},
  start: (env) => startFeature(featureConfig(env)),
} satisfies ServiceDriver<RunningFeature>;
