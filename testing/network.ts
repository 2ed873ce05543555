/**
 * A test network: a private nats-server with its streams, a temporary data folder, and any set of
 * the mesh's services on free loopback ports, each started through its real entry (in this
 * process by default, or as its own process the way `make dev` runs it). Every service is told
 * every other's address before anything starts; a service outside the network is given an
 * address where nothing listens (port 1), never a default port.
 *
 * @example
 * await using network = await TestNetwork.create({ services: ['ingestion', 'feature'] });
 * await network.client('ingestion').ingestBars([...]);
 * await network.processAll(); // every consumer has handled what was published
 * const vector = await network.client('feature').getFeatures({ symbol: 'NABIL' });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEvents, ensureStreams, type EventBus } from '../lib/events/index.js';
import { startNatsServer, type NatsTestServer } from '../lib/events/testing.js';
import { createGrpcClient, type ServiceClient } from '../lib/grpc/index.js';
import { freePort } from '../lib/runtime/service-process.js';
import { drainConsumers, type DrainOptions } from './drain.js';
import { SERVICE_NAMES, type DefinitionOf, type OptionsOf, type ServiceName } from './services/index.js';
import { TestService } from './test-service.js';

/** Settings of one service of the network. */
export interface ServiceParams<O = unknown> {
  /** gRPC port. Default: a free one. */
  port?: number;
  /** Environment added to this service only, over the network's. */
  env?: Record<string, string>;
  /** Run `services/<name>/main.ts` as a child process instead of in this process. */
  process?: boolean;
  /** Left stopped by create(); the test starts it with `network.service(name).start()`. */
  deferred?: boolean;
  /** What the in-process start function takes beyond its configuration (monitoring: a clock, rules). */
  options?: O;
}

/** Parameters of {@link TestNetwork.create}. */
export type TestNetworkParams = {
  /** The services to boot. */
  services: readonly ServiceName[];
  /** Environment added to every service (after the test defaults, before each service's own). */
  env?: Record<string, string>;
  /** Addresses of services outside this network (say, a feature service shared by several networks). */
  addresses?: Partial<Record<ServiceName, string>>;
  /** Longest wait of a service process for /readyz, in ms. Default 90 000. */
  readyTimeoutMs?: number;
} & { [N in ServiceName]?: ServiceParams<OptionsOf<N>> };

/** A running test network; see the file comment. */
export class TestNetwork implements AsyncDisposable {
  private readonly services = new Map<ServiceName, TestService<ServiceName>>();
  private readonly clients = new Map<ServiceName, { close(): void }>();
  private closing: Promise<void> | undefined;

  private constructor(
    /** The private nats-server (restart() it to test a bus outage). */
    readonly nats: NatsTestServer,
    /** The services' shared DATA_DIR, removed by close(). */
    readonly dataDir: string,
    /** The harness's own connection to the bus, as another service would have one. */
    readonly bus: EventBus,
  ) {}

  /**
   * Starts nats-server, the streams and the services (side by side within a start phase: stores
   * first, then those that read them while starting, then the gateway). Anything started is
   * stopped again when a later step fails.
   */
  static async create(params: TestNetworkParams): Promise<TestNetwork> {
    const nats = await startNatsServer();
    let dataDir: string | undefined;
    let bus: EventBus | undefined;
    try {
      dataDir = await mkdtemp(join(tmpdir(), 'nepse-network-'));
      bus = await connectEvents({ servers: nats.url, name: 'test-network' });
      await ensureStreams(bus);
    } catch (error) {
      await bus?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
      await nats.stop();
      throw error;
    }
    const network = new TestNetwork(nats, dataDir, bus);
    try {
      await network.boot(params);
    } catch (error) {
      await network.close();
      throw error;
    }
    return network;
  }

  private async boot(params: TestNetworkParams): Promise<void> {
    const wanted = SERVICE_NAMES.filter((name) => params.services.includes(name));
    const ports = new Map<ServiceName, number>();
    for (const name of wanted) ports.set(name, params[name]?.port ?? (await freePort()));
    const addresses: Record<string, string> = {};
    for (const name of SERVICE_NAMES) {
      const port = ports.get(name);
      // Port 1: a service calling one that is not in the network fails fast, as when it is down.
      addresses[`NEPSE_${name.toUpperCase()}_ADDR`] = port ? `127.0.0.1:${port}` : (params.addresses?.[name] ?? '127.0.0.1:1');
    }
    const env = { NATS_URL: this.nats.url, DATA_DIR: this.dataDir, BIND_HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...addresses };
    for (const name of wanted) {
      const own: ServiceParams = params[name] ?? {};
      this.services.set(
        name,
        new TestService(
          name,
          ports.get(name)!,
          { ...env, ...params.env },
          own.env ?? {},
          own.process === true,
          own.options as OptionsOf<ServiceName>,
          params.readyTimeoutMs,
        ),
      );
    }
    for (const phase of [0, 1, 2] as const) {
      const starting = [...this.services.values()].filter((s) => s.phase === phase && !params[s.name]?.deferred);
      await Promise.all(starting.map((s) => s.start()));
    }
  }

  /** The service `name` of this network. @throws Error when it is not part of the network. */
  service<N extends ServiceName>(name: N): TestService<N> {
    const service = this.services.get(name);
    if (!service) throw new Error(`${name} is not part of this test network`);
    return service as unknown as TestService<N>;
  }

  /** `127.0.0.1:<port>` of a service of the network. */
  address(name: ServiceName): string {
    return this.service(name).address;
  }

  /** A gRPC client of a service of the network, made once and closed by close(). */
  client<N extends ServiceName>(name: N): ServiceClient<DefinitionOf<N>> {
    let client = this.clients.get(name);
    if (!client) {
      const service = this.service(name);
      client = createGrpcClient(service.definition, service.address);
      this.clients.set(name, client);
    }
    return client as ServiceClient<DefinitionOf<N>>;
  }

  /**
   * Waits until every event subscription has drained: every durable consumer has been handed and
   * has acked everything on its stream, with no stream growing meanwhile. Events a store's outbox
   * has not published yet are not on the bus: wait for those through what publishes them.
   */
  processAll(options: DrainOptions = {}): Promise<void> {
    return drainConsumers(this.bus.jsm, options);
  }

  /** Stops the services in the reverse order of their start, then the clients, bus, nats-server and data. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      const keep = async (step: () => unknown) => {
        try {
          await step();
        } catch (error) {
          errors.push(error);
        }
      };
      for (const service of [...this.services.values()].sort((a, b) => b.startedAt - a.startedAt)) await keep(() => service.stop());
      for (const client of this.clients.values()) client.close();
      await keep(() => this.bus.close());
      await keep(() => this.nats.stop());
      await keep(() => rm(this.dataDir, { recursive: true, force: true }));
      if (errors.length > 0) throw new AggregateError(errors, 'the test network did not close cleanly');
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
