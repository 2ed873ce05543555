import '../../lib/telemetry/preload.js';
import { runService } from '../../lib/runtime/index.js';
import { featureConfig } from './config.js';
import { startFeature } from './service.js';

await runService('feature', { config: featureConfig, start: startFeature });
