/**
 * The bed registry tests (and those of its consumers) run on: per metadata backend (PGlite, and a
 * throw-away database on the machine's PostgreSQL) a test network holding the registry, with an
 * event log and the artifact bucket at hand; and a feature service on a network of its own that
 * several registries can share (so ListFeatureSets answers).
 */
import { join } from 'node:path';
import type { ObjectStore } from 'nats';
import type { RegistryService } from '../gen/nepse/registry/v1/registry_pb.js';
import type { EventBus } from '../lib/events/index.js';
import type { NatsTestServer } from '../lib/events/testing.js';
import type { ServiceClient } from '../lib/grpc/index.js';
import { openDatabase, type Database } from '../lib/postgres/index.js';
import { createThrowawayDatabase } from '../lib/postgres/testing.js';
import { EventLog } from './event-log.js';
import { TestNetwork } from './network.js';
import { artifactBucket } from './services/index.js';

/** Where the metadata of a test registry lives. */
export interface Backend {
  label: 'pglite' | 'postgres';
  /** DATABASE_URL for `postgres`. */
  url?: string;
  /** Why this backend cannot run here (no server reachable). */
  skip?: string;
  /** Drops what the backend created. */
  cleanup(): Promise<void>;
}

/** PGlite always; PostgreSQL on a throw-away database, or skipped with the reason when no server answers. */
export async function testBackends(): Promise<Backend[]> {
  const postgres = await createThrowawayDatabase();
  return [
    { label: 'pglite', cleanup: async () => {} },
    { label: 'postgres', url: postgres.database?.url, skip: postgres.skip, cleanup: async () => postgres.database?.drop() },
  ];
}

/** A feature service on a network of its own. */
export interface TestFeatureService extends AsyncDisposable {
  address: string;
  stop(): Promise<void>;
}

/** Starts the real feature service (it serves ohlcv_v1, 25 features) on a network of its own. */
export async function startTestFeatureService(): Promise<TestFeatureService> {
  const network = await TestNetwork.create({ services: ['feature'] });
  const stop = () => network.close();
  return { address: network.address('feature'), stop, [Symbol.asyncDispose]: stop };
}

/** A registry under test with everything around it. */
export interface TestBed extends AsyncDisposable {
  readonly network: TestNetwork;
  readonly backend: Backend;
  readonly client: ServiceClient<typeof RegistryService>;
  /** A separate connection, as other services would have. */
  readonly bus: EventBus;
  readonly events: EventLog;
  readonly artifacts: ObjectStore;
  readonly nats: NatsTestServer;
  readonly dataDir: string;
  /** The registry's database, opened beside it (PostgreSQL) or after stop() (PGlite's folder is locked). */
  openDatabase(): Promise<Database>;
  /** Stops the registry only (the bed stays, e.g. to read PGlite's folder). */
  stopRegistry(): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startTestBed}. */
export interface TestBedOptions {
  backend: Backend;
  /** The feature service the registry asks about feature sets (see startTestFeatureService). */
  featureAddress: string;
  /** WatchModels keep-alive in ms; short in tests. */
  heartbeatMs?: number;
}

/** Starts a test network holding the registry with the given metadata backend. */
export async function startTestBed(options: TestBedOptions): Promise<TestBed> {
  const env = {
    REGISTRY_HEARTBEAT_MS: String(options.heartbeatMs ?? 200),
    REGISTRY_OUTBOX_INTERVAL_MS: '500',
    ...(options.backend.url ? { DATABASE_URL: options.backend.url } : {}),
  };
  const network = await TestNetwork.create({ services: ['registry'], addresses: { feature: options.featureAddress }, registry: { env } });
  try {
    const events = EventLog.start(network.bus);
    const artifacts = await network.bus.js.views.os(artifactBucket(env));
    const registry = network.service('registry');
    const stop = async () => {
      events.stop();
      await network.close();
    };
    return {
      network,
      backend: options.backend,
      client: network.client('registry'),
      bus: network.bus,
      events,
      artifacts,
      nats: network.nats,
      dataDir: network.dataDir,
      openDatabase: () =>
        openDatabase({
          url: options.backend.url,
          dataDir: options.backend.url ? undefined : join(network.dataDir, 'registry', 'pglite'),
          schema: 'registry',
        }),
      stopRegistry: () => registry.stop(),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await network.close();
    throw error;
  }
}
