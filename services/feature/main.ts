import '../../lib/telemetry/preload.js';
import { stopOnSignals } from '../../lib/runtime/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { featureConfig } from './config.js';
import { startFeature } from './service.js';

const config = featureConfig();
const logger = createLogger('feature', config.LOG_LEVEL);
const service = await startFeature(config, logger);
stopOnSignals(() => service.stop(), logger);
