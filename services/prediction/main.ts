import '../../lib/telemetry/preload.js';
import { runService } from '../../lib/runtime/index.js';
import { predictionConfig } from './config.js';
import { startPrediction } from './service.js';

await runService('prediction', { config: predictionConfig, start: startPrediction });
