/**
 * The registry's integration-test bed: a real feature service (so ListFeatureSets answers), and
 * per backend (PGlite, and a throw-away database on the machine's PostgreSQL) a private
 * nats-server and a registry started in-process on free ports, with an event log and the
 * artifact bucket at hand. Everything is removed again by stop().
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary, type Message } from '@bufbuild/protobuf';
import type { ObjectStore, Subscription } from 'nats';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { connectEvents, type EventBus, type EventType } from '../../lib/events/index.js';
import { startNatsServer, type NatsTestServer } from '../../lib/events/testing.js';
import { createGrpcClient, statusDetails, type ServiceClient } from '../../lib/grpc/index.js';
import { openDatabase, type Database } from '../../lib/postgres/index.js';
import { createThrowawayDatabase } from '../../lib/postgres/testing.js';
import { featureConfig } from '../feature/config.js';
import { startFeature, type RunningFeature } from '../feature/service.js';
import { registryConfig } from './config.js';
import { startRegistry, type RunningRegistry } from './service.js';

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

/** A feature service on its own nats-server and data folder. */
export interface TestFeatureService {
  address: string;
  stop(): Promise<void>;
}

/** Starts the real feature service in-process on a free port (it serves ohlcv_v1, 25 features). */
export async function startTestFeatureService(): Promise<TestFeatureService> {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-registry-feature-'));
  let feature: RunningFeature;
  try {
    feature = await startFeature(featureConfig({ NATS_URL: nats.url, DATA_DIR: dataDir, BIND_HOST: '127.0.0.1', LOG_LEVEL: 'silent', FEATURE_PORT: '0', FEATURE_METRICS_PORT: '0' }));
  } catch (error) {
    await nats.stop();
    throw error;
  }
  return {
    address: `127.0.0.1:${feature.port}`,
    async stop() {
      await feature.stop();
      await nats.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** One event seen on the bus. */
export interface SeenEvent<T extends Message = Message> {
  subject: string;
  msgId: string;
  message: T;
}

/** Every mesh event published on a server, decoded, in arrival order. */
export class EventLog {
  readonly seen: SeenEvent[] = [];
  private constructor(private readonly sub: Subscription) {}

  static start(bus: EventBus): EventLog {
    const byName = new Map(Object.values(MeshEvents).map((e) => [e.name, e as unknown as EventType<Message>]));
    const log = new EventLog(bus.nc.subscribe('nepse.v1.>'));
    void (async () => {
      for await (const m of log.sub) {
        const name = m.subject.split('.').slice(2, -1).join('.');
        const event = byName.get(name);
        if (event) log.seen.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', message: fromBinary(event.schema, m.data) });
      }
    })();
    return log;
  }

  /** Events of one type, optionally filtered. */
  of<T extends Message>(event: EventType<T>, where: (message: T) => boolean = () => true): SeenEvent<T>[] {
    return (this.seen as SeenEvent<T>[]).filter((e) => e.subject.startsWith(`nepse.v1.${event.name}.`) && where(e.message));
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}

/** A registry under test with everything around it. */
export interface TestBed {
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
  featureAddress: string;
  /** WatchModels keep-alive in ms; short in tests. */
  heartbeatMs?: number;
}

/** Starts a nats-server and a registry on free ports with the given metadata backend. */
export async function startTestBed(options: TestBedOptions): Promise<TestBed> {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-registry-'));
  const env = {
    NATS_URL: nats.url,
    DATA_DIR: dataDir,
    BIND_HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    REGISTRY_PORT: '0',
    REGISTRY_METRICS_PORT: '0',
    FEATURE_ADDR: options.featureAddress,
    REGISTRY_HEARTBEAT_MS: String(options.heartbeatMs ?? 200),
    REGISTRY_OUTBOX_INTERVAL_MS: '500',
    ...(options.backend.url ? { DATABASE_URL: options.backend.url } : {}),
  };
  const config = registryConfig(env);
  let registry: RunningRegistry | undefined = await startRegistry(config);
  const client = createGrpcClient(RegistryService, `127.0.0.1:${registry.port}`);
  const bus = await connectEvents({ servers: nats.url, name: 'registry-test' });
  const events = EventLog.start(bus);
  const artifacts = await bus.js.views.os(config.REGISTRY_ARTIFACT_BUCKET);
  const stopRegistry = async () => {
    await registry?.stop();
    registry = undefined;
  };
  return {
    backend: options.backend,
    client,
    bus,
    events,
    artifacts,
    nats,
    dataDir,
    openDatabase: () =>
      openDatabase({ url: options.backend.url, dataDir: options.backend.url ? undefined : join(dataDir, 'registry', 'pglite'), schema: 'registry' }),
    stopRegistry,
    async stop() {
      client.close();
      events.stop();
      await bus.close();
      await stopRegistry();
      await nats.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The status code and the first violated field (or resource type) of a failed call. */
export async function failure(call: Promise<unknown>): Promise<{ code: number | undefined; field: string | undefined; message: string }> {
  try {
    await call;
  } catch (error) {
    const details = statusDetails(error);
    return { code: details?.code ?? (error as { code?: number }).code, field: details?.fieldViolations[0]?.field ?? details?.resource?.type, message: details?.message ?? (error as Error).message };
  }
  return { code: undefined, field: undefined, message: 'no error' };
}
