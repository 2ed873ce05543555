/** The training service for the test network: its real start function. */
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { trainingConfig } from '../../services/training/config.js';
import { startTrainingService, type RunningTraining } from '../../services/training/service.js';
import type { ServiceDriver } from './driver.js';

/** Starts training from environment variables. */
export const training = {
  name: 'training',
  definition: TrainingService,
  phase: 1,
  env: {},
  start: (env) => startTrainingService(trainingConfig(env)),
} satisfies ServiceDriver<RunningTraining>;
