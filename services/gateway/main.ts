import '../../lib/telemetry/preload.js';
import { runService } from '../../lib/runtime/index.js';
import { gatewayConfig } from './config.js';
import { startGateway } from './service.js';

await runService('gateway', { config: gatewayConfig, start: startGateway });
