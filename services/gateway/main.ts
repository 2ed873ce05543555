import '../../lib/telemetry/preload.js';
import { stopOnSignals } from '../../lib/runtime/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { gatewayConfig } from './config.js';
import { startGateway } from './service.js';

const config = gatewayConfig();
const logger = createLogger('gateway', config.LOG_LEVEL);
const gateway = await startGateway(config, logger);
stopOnSignals(() => gateway.stop(), logger);
