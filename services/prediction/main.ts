import '../../lib/telemetry/preload.js';
import { stopOnSignals } from '../../lib/runtime/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { predictionConfig } from './config.js';
import { startPrediction } from './service.js';

const config = predictionConfig();
const logger = createLogger('prediction', config.LOG_LEVEL);
const service = await startPrediction(config, logger);
stopOnSignals(() => service.stop(), logger);
