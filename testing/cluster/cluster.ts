/**
 * The mesh on several hosts of one machine: network namespaces on a private bridge (hosts.ts), a
 * three-node NATS JetStream cluster carrying the mesh's streams with 3 replicas, a private
 * PostgreSQL for the registry, and the services as processes spread over the hosts, each started
 * the way an operator would (`node --import tsx services/<name>/main.ts`) with its host's address
 * as BIND_HOST, the others' addresses in `NEPSE_<NAME>_ADDR`, and every NATS node in NATS_URL.
 *
 * It is the multi-host sibling of {@link TestNetwork}: the same drain (processAll) and clients,
 * but hosts, a NATS cluster and several instances of one service (prediction runs twice), which
 * the single-host network's one-service-per-name shape does not hold.
 *
 * @example
 * await using cluster = await TestCluster.create();
 * await cluster.client('ingestion').importCsv(...);
 * await cluster.nats.nodes[1].kill();
 */
import { closeSync, existsSync, openSync, readFileSync, statfsSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DescService } from '@bufbuild/protobuf';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { connectEvents, ensureStreams, type EventBus } from '../../lib/events/index.js';
import { createGrpcClient, type ServiceClient } from '../../lib/grpc/index.js';
import { startServiceProcess, type ServiceProcess } from '../../lib/runtime/service-process.js';
import { drainConsumers, type DrainOptions } from '../drain.js';
import { createHosts, removeHosts, sh, type Host } from './hosts.js';
import { startNatsCluster, type NatsCluster } from './nats-cluster.js';
import { startPostgres, type BedPostgres } from './postgres.js';

/** The services the bed runs, with their contracts. */
const DEFINITIONS = {
  ingestion: IngestionService,
  feature: FeatureService,
  registry: RegistryService,
  training: TrainingService,
  prediction: PredictionService,
  monitoring: MonitoringService,
} as const;

/** A service the bed runs. */
export type ClusterServiceName = keyof typeof DEFINITIONS;

/** gRPC port of every service on its host (hosts have ports of their own: no clash across hosts). */
const PORTS: Record<ClusterServiceName, number> = {
  ingestion: 7051,
  feature: 7052,
  training: 7053,
  registry: 7054,
  prediction: 7055,
  monitoring: 7056,
};

/**
 * Where each service runs, by host number (1-based), in start order: n1–n3 each carry a NATS
 * node; n4 holds the feature service alone, so its link to a prediction host can be cut without
 * cutting a NATS route. Prediction runs on n2 and n3.
 */
export const PLACEMENT: ReadonlyArray<readonly [ClusterServiceName, number]> = [
  ['ingestion', 1],
  ['feature', 4],
  ['registry', 1],
  ['training', 3],
  ['prediction', 2],
  ['prediction', 3],
  ['monitoring', 3],
];

/** One service process on one host; its address and data stay its own across kill() and start(). */
export class ClusterService {
  private child: ServiceProcess | undefined;

  constructor(
    readonly name: ClusterServiceName,
    readonly host: Host,
    private readonly env: Record<string, string>,
  ) {}

  /** `<service>@<host>`. */
  get id(): string {
    return `${this.name}@${this.host.name}`;
  }

  /** `<host address>:<port>`. */
  get address(): string {
    return `${this.host.address}:${PORTS[this.name]}`;
  }

  /** Its process id while it runs. */
  get pid(): number | undefined {
    return this.child?.child.pid;
  }

  /** Whether its process was started and has not exited. */
  get running(): boolean {
    const child = this.child?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Starts it in its host; resolves once its /readyz answers 200 (bounded by `readyTimeoutMs`). */
  async start(readyTimeoutMs = 180_000): Promise<void> {
    if (this.child) return;
    const port = PORTS[this.name];
    // Output goes to a log file (the embedded engine complains at length about the hosts' /sys).
    await mkdir(dirname(this.logFile), { recursive: true });
    const log = openSync(this.logFile, 'a');
    try {
      this.child = await startServiceProcess(this.name, {
        port,
        metricsPort: port + 1000,
        env: this.env,
        netns: this.host.netns,
        readyTimeoutMs,
        output: log,
      });
    } finally {
      closeSync(log);
    }
  }

  /** Where its output goes. */
  get logFile(): string {
    return join(this.env.DATA_DIR!, 'logs', `${this.name}.log`);
  }

  /** The last `lines` lines of its output that are not the embedded engine's noise. */
  tail(lines = 15): string {
    const text = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
    const kept = text.split('\n').filter((line) => line.trim() && !/cgroups|^\s*\d+\. |^ \(version/.test(line));
    return kept
      .slice(-lines)
      .map((line) => `  ${this.id}: ${line}`)
      .join('\n');
  }

  /** SIGKILL: no drain, no goodbye. Resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.child.kill('SIGKILL');
    await child.exited;
  }

  /** SIGTERM and drain (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await child?.stop();
  }
}

/** A running bed; see the file comment. */
export class TestCluster implements AsyncDisposable {
  private readonly clients = new Map<string, { close(): void }>();
  private closing: Promise<void> | undefined;
  /** Folders with a tmpfs mounted on them, unmounted by close() before the folder goes. */
  private readonly mounts: string[] = [];
  /** Every service process, in start order. */
  readonly services: ClusterService[] = [];
  nats!: NatsCluster;
  postgres!: BedPostgres;
  bus!: EventBus;

  private constructor(
    /** The hosts n1…n4. */
    readonly hosts: readonly Host[],
    /** The bed's folder: NATS stores, PostgreSQL, each service's DATA_DIR. */
    readonly dataDir: string,
  ) {}

  /** Builds the bed; anything made is undone when a step fails. */
  static async create(env: Record<string, string> = {}): Promise<TestCluster> {
    const hosts = await createHosts(4);
    const cluster = new TestCluster(hosts, await mkdtemp(join(tmpdir(), 'nepse-cluster-')));
    try {
      await cluster.boot(env);
    } catch (error) {
      await cluster.close().catch(() => undefined);
      throw error;
    }
    return cluster;
  }

  private async boot(env: Record<string, string>): Promise<void> {
    [this.nats, this.postgres] = await Promise.all([
      startNatsCluster(this.hosts.slice(0, 3), this.dataDir),
      startPostgres(this.hosts[0]!, this.dataDir),
    ]);
    // Several connect attempts: the cluster's meta leader may still be being elected.
    this.bus = await connectEvents({ servers: this.nats.url.split(','), name: 'test-cluster' });
    await ensureStreams(this.bus, { replicas: 3 });
    const addresses: Record<string, string> = {};
    for (const [name, n] of PLACEMENT) addresses[`NEPSE_${name.toUpperCase()}_ADDR`] ??= `${this.hosts[n - 1]!.address}:${PORTS[name]}`;
    const common = {
      ...addresses,
      NATS_URL: this.nats.url,
      NATS_STREAM_REPLICAS: '3',
      DATABASE_URL: this.postgres.url,
      LOG_LEVEL: 'warn',
      REGISTRY_OUTBOX_INTERVAL_MS: '200',
      ...env,
    };
    for (const [name, n] of PLACEMENT) {
      const host = this.hosts[n - 1]!;
      const own = { BIND_HOST: host.address, DATA_DIR: join(this.dataDir, host.name), PREDICTION_INSTANCE_ID: `bed-${host.name}` };
      this.services.push(new ClusterService(name, host, { ...common, ...own }));
    }
    // One at a time: each start loads an embedded engine, and a loaded machine starts them no faster side by side.
    for (const service of this.services) await service.start();
  }

  /** The instance of `name` (the first, or the one on host `hostName`). */
  service(name: ClusterServiceName, hostName?: string): ClusterService {
    const found = this.services.find((s) => s.name === name && (!hostName || s.host.name === hostName));
    if (!found) throw new Error(`no ${name}${hostName ? ` on ${hostName}` : ''} in the cluster`);
    return found;
  }

  /** A gRPC client of an instance (made once, closed by close()). */
  client<N extends ClusterServiceName>(name: N, hostName?: string): ServiceClient<(typeof DEFINITIONS)[N]> {
    const service = this.service(name, hostName);
    let client = this.clients.get(service.id);
    if (!client) {
      client = createGrpcClient(DEFINITIONS[name] as DescService, service.address);
      this.clients.set(service.id, client);
    }
    return client as ServiceClient<(typeof DEFINITIONS)[N]>;
  }

  /**
   * Puts `dir` (a service's folder, its service stopped) on a tmpfs of `sizeMb` MiB, keeping what
   * it held: a disk of its own that a test can fill. Unmounted by close().
   */
  async moveToTmpfs(dir: string, sizeMb: number): Promise<void> {
    const moved = `${dir}.moved`;
    await sh('mv', [dir, moved]);
    await mkdir(dir, { recursive: true });
    await sh('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'nepse-cl-store', dir]);
    this.mounts.push(dir);
    await sh('cp', ['-a', `${moved}/.`, dir], 60_000);
    await rm(moved, { recursive: true, force: true });
  }

  /**
   * Fills the tmpfs at `dir` (see {@link moveToTmpfs}) and keeps it full until `release()`. One
   * fill is not enough: the store gives room back by itself (it deletes the parts a merge replaced,
   * some while after a restart), and a megabyte free again is room to the writer. So the filler
   * tops the disk up every 100 ms until released, for 10 minutes at most. `release()` removes the
   * filler and answers the bytes it took back after the first fill.
   */
  async fillTmpfs(dir: string): Promise<{ release(): Promise<number> }> {
    const file = join(dir, 'nepse-filler');
    const zeros = Buffer.alloc(1 << 20);
    const fd = openSync(file, 'a');
    /** Appends until ENOSPC; answers the bytes written. */
    const fill = () => {
      let written = 0;
      for (;;) {
        try {
          const n = writeSync(fd, zeros);
          written += n;
          if (n === 0) return written;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return written;
          throw error;
        }
      }
    };
    fill();
    let takenBack = 0;
    const until = Date.now() + 600_000;
    const timer = setInterval(() => {
      if (Date.now() > until) clearInterval(timer);
      else if (statfsSync(dir).bavail > 0) takenBack += fill();
    }, 100);
    return {
      release: async () => {
        clearInterval(timer);
        closeSync(fd);
        await rm(file, { force: true });
        return takenBack;
      },
    };
  }

  /** Free bytes of the filesystem holding `dir`, as a writer there sees them. */
  freeBytes(dir: string): number {
    const { bavail, bsize } = statfsSync(dir);
    return bavail * bsize;
  }

  /** The recent output of every service, for a failing test's message. */
  tails(lines?: number): string {
    return this.services
      .map((s) => s.tail(lines))
      .filter(Boolean)
      .join('\n');
  }

  /** Waits until every durable consumer has drained (see TestNetwork.processAll). */
  processAll(options: DrainOptions = {}): Promise<void> {
    return drainConsumers(this.bus.jsm, { timeoutMs: 120_000, ...options });
  }

  /** Stops services (reverse order), the bus, NATS, PostgreSQL, then removes the hosts and the folder. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const client of this.clients.values()) client.close();
      for (const service of [...this.services].reverse()) await service.stop().catch(() => undefined);
      await this.bus?.close().catch(() => undefined);
      await this.nats?.stop().catch(() => undefined);
      await this.postgres?.stop().catch(() => undefined);
      await removeHosts();
      for (const dir of this.mounts) await sh('umount', ['-l', dir]).catch(() => undefined);
      await rm(this.dataDir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
