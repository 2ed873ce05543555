/**
 * A NATS JetStream cluster of one nats-server per host of the bed: client port 4222, routes on
 * 6222, monitoring on 8222, all at the host's address; a store per node that outlives a kill, so a
 * node started again rejoins with its streams.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../../lib/events/testing.js';
import type { Host } from './hosts.js';

const CLIENT_PORT = 4222;
const ROUTE_PORT = 6222;
const MONITOR_PORT = 8222;

/** One node of the cluster. */
export class NatsNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly host: Host,
    private readonly peers: readonly Host[],
    private readonly storeDir: string,
  ) {}

  /** `nats://<host>:4222`. */
  get url(): string {
    return `nats://${this.host.address}:${CLIENT_PORT}`;
  }

  /** Whether its process runs. */
  get up(): boolean {
    return this.child !== undefined;
  }

  /** Starts it in its host and resolves once its monitoring port answers /healthz; bounded by `timeoutMs`. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.child) return;
    await mkdir(this.storeDir, { recursive: true });
    const routes = this.peers.filter((p) => p !== this.host).map((p) => `nats://${p.address}:${ROUTE_PORT}`);
    const args = [
      ...['-a', this.host.address, '-p', String(CLIENT_PORT), '-m', String(MONITOR_PORT)],
      ...['-js', '-sd', this.storeDir, '--server_name', this.host.name],
      ...['--cluster_name', 'nepse-bed', '--cluster', `nats://${this.host.address}:${ROUTE_PORT}`, '--routes', routes.join(',')],
    ];
    const child = spawn('ip', ['netns', 'exec', this.host.netns, 'nats-server', ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    this.exited = new Promise((resolve) => child.once('exit', () => (process.removeListener('exit', kill), resolve())));
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server on ${this.host.name} exited during start`);
        const response = await fetch(`http://${this.host.address}:${MONITOR_PORT}/varz`, { signal: AbortSignal.timeout(1_000) }).catch(
          () => undefined,
        );
        return response?.ok === true;
      },
      `nats-server on ${this.host.name} to serve`,
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** SIGKILL, as a machine that loses power; resolves once the process is gone. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    this.child = undefined;
    await this.exited;
  }

  /** SIGTERM (SIGKILL after 5 s); resolves once the process is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }
}

/** The cluster's nodes. */
export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL, comma separated, as NATS_URL takes them. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts one node per host (side by side, as routes need peers to form) with stores under `dataDir`. */
export async function startNatsCluster(hosts: readonly Host[], dataDir: string): Promise<NatsCluster> {
  const nodes = hosts.map((host) => new NatsNode(host, hosts, join(dataDir, 'nats', host.name)));
  const stop = async () => void (await Promise.all(nodes.map((n) => n.stop())));
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, url: nodes.map((n) => n.url).join(','), stop };
}
