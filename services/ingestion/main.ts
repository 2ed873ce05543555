import '../../lib/telemetry/preload.js';
import { runService } from '../../lib/runtime/index.js';
import { ingestionConfig } from './config.js';
import { startIngestion } from './service.js';

await runService('ingestion', { config: ingestionConfig, start: startIngestion });
