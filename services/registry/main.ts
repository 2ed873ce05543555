import '../../lib/telemetry/preload.js';
import { runService } from '../../lib/runtime/index.js';
import { registryConfig } from './config.js';
import { startRegistry } from './service.js';

await runService('registry', { config: registryConfig, start: startRegistry });
