import '../../lib/telemetry/preload.js';
import { runService } from '../../lib/runtime/index.js';
import { monitoringConfig } from './config.js';
import { startMonitoring } from './service.js';

await runService('monitoring', { config: monitoringConfig, start: (config, logger) => startMonitoring(config, { logger }) });
