import '../../lib/telemetry/preload.js';
import { runService } from '../../lib/runtime/index.js';
import { trainingConfig } from './config.js';
import { startTrainingService } from './service.js';

await runService('training', { config: trainingConfig, start: startTrainingService });
