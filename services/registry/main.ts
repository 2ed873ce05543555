import '../../lib/telemetry/preload.js';
import { stopOnSignals } from '../../lib/runtime/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { registryConfig } from './config.js';
import { startRegistry } from './service.js';

const config = registryConfig();
const logger = createLogger('registry', config.LOG_LEVEL);
const service = await startRegistry(config, logger);
stopOnSignals(() => service.stop(), logger);
