import '../../lib/telemetry/preload.js';
import { stopOnSignals } from '../../lib/runtime/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { trainingConfig } from './config.js';
import { startTrainingService } from './service.js';

const config = trainingConfig();
const logger = createLogger('training', config.LOG_LEVEL);
const service = await startTrainingService(config, logger);
stopOnSignals(() => service.stop(), logger);
