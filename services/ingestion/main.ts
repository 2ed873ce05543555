import '../../lib/telemetry/preload.js';
import { stopOnSignals } from '../../lib/runtime/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { ingestionConfig } from './config.js';
import { startIngestion } from './service.js';

const config = ingestionConfig();
const logger = createLogger('ingestion', config.LOG_LEVEL);
const service = await startIngestion(config, logger);
stopOnSignals(() => service.stop(), logger);
