import { z } from 'zod';
import { addressSchema, commonEnv, DEFAULT_PORTS, port, readConfig, withAddressFallbacks } from '../../lib/config/index.js';
import { ARTIFACT_BUCKET } from './artifacts.js';

const schema = z.object({
  ...commonEnv,
  REGISTRY_PORT: port().default(DEFAULT_PORTS.registry),
  /** Metrics/health port; default gRPC port + 1000. */
  REGISTRY_METRICS_PORT: port().optional(),
  /** PostgreSQL server for the metadata; unset: embedded PGlite under DATA_DIR/registry/pglite. */
  DATABASE_URL: z.string().optional(),
  /** Where the feature service answers (ListFeatureSets, asked at RegisterModel time only). */
  NEPSE_FEATURE_ADDR: addressSchema('feature'),
  /** Time allowed to look up a feature set, retries included, in milliseconds. */
  REGISTRY_FEATURE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  /** JetStream Object Store bucket of the artifacts. */
  REGISTRY_ARTIFACT_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default(ARTIFACT_BUCKET),
  /** Registrations received at once at most (each may buffer up to 256 MiB); more get UNAVAILABLE. */
  REGISTRY_MAX_UPLOADS: z.coerce.number().int().min(1).max(64).default(4),
  /** Keep-alive interval of WatchModels streams, in milliseconds (market.proto: at least every 15 s). */
  REGISTRY_HEARTBEAT_MS: z.coerce.number().int().min(10).max(15_000).default(10_000),
  /** Pause between sweeps of the event outbox, in milliseconds. */
  REGISTRY_OUTBOX_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
});

/** The registry's configuration. */
export type RegistryConfig = z.infer<typeof schema>;

/** Reads the registry's configuration from the environment. */
export function registryConfig(env: NodeJS.ProcessEnv = process.env): RegistryConfig {
  return readConfig(schema, withAddressFallbacks(env, ['feature']));
}
