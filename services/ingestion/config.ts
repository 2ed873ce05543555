import { z } from 'zod';
import { commonEnv, DEFAULT_PORTS, port, readConfig } from '../../lib/config/index.js';

const schema = z.object({
  ...commonEnv,
  INGESTION_PORT: port().default(DEFAULT_PORTS.ingestion),
  /** Metrics/health port; default gRPC port + 1000. */
  INGESTION_METRICS_PORT: port().optional(),
  /** Pause between sweeps of the event outbox, in milliseconds. */
  INGESTION_OUTBOX_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
});

/** The ingestion service's configuration. */
export type IngestionConfig = z.infer<typeof schema>;

/** Reads the ingestion service's configuration from the environment. */
export function ingestionConfig(env: NodeJS.ProcessEnv = process.env): IngestionConfig {
  return readConfig(schema, env);
}
