import '../../lib/telemetry/preload.js';
import { stopOnSignals } from '../../lib/runtime/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { monitoringConfig } from './config.js';
import { startMonitoring } from './service.js';

const config = monitoringConfig();
const logger = createLogger('monitoring', config.LOG_LEVEL);
const service = await startMonitoring(config, { logger });
stopOnSignals(() => service.stop(), logger);
