/** The model registry for the test network: its real start function. */
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { registryConfig } from '../../services/registry/config.js';
import { startRegistry, type RunningRegistry } from '../../services/registry/service.js';
import type { ServiceDriver } from './driver.js';

/** Starts the registry (PGlite unless DATABASE_URL is set) from environment variables. */
export const registry = {
  name: 'registry',
  definition: RegistryService,
  phase: 0,
  // Outbox events reach the bus within a fifth of a second, so tests wait little for them.
  env: { REGISTRY_OUTBOX_INTERVAL_MS: '200' },
  start: (env) => startRegistry(registryConfig(env)),
} satisfies ServiceDriver<RunningRegistry>;

/** The object-store bucket the registry keeps artifacts in, under `env`. */
export const artifactBucket = (env: Record<string, string>): string => registryConfig(env).REGISTRY_ARTIFACT_BUCKET;
