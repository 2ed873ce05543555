/** The ingestion service for the test network: its real start function. */
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { ingestionConfig } from '../../services/ingestion/config.js';
import { startIngestion, type RunningIngestion } from '../../services/ingestion/service.js';
import type { ServiceDriver } from './driver.js';

/** Starts ingestion from environment variables. */
export const ingestion = {
  name: 'ingestion',
  definition: IngestionService,
  phase: 0,
  env: {},
  start: (env) => startIngestion(ingestionConfig(env)),
} satisfies ServiceDriver<RunningIngestion>;
