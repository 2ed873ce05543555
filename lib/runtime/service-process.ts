/**
 * Services as child processes, the way `make dev` runs them: used by the dev launcher, the demo,
 * benchmarks and end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitOf, type ChildExit } from './supervisor.js';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** A loopback port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** A service running as its own process, as `make dev` runs it. */
export interface ServiceProcess {
  readonly name: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited, whoever ended it (for a supervisor to notice). */
  readonly exited: Promise<ChildExit>;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** Options of {@link startServiceProcess}. */
export interface ServiceProcessOptions {
  /** gRPC port; a free one when unset. */
  port?: number;
  /** Metrics/health port; gRPC port + 1000 when the port is given, else a free one. */
  metricsPort?: number;
  /** Added to the environment (LOG_LEVEL defaults to warn, BIND_HOST to 127.0.0.1). */
  env?: Record<string, string>;
  /** Where the child's stdout and stderr go (default: this process's), or an open file descriptor. */
  output?: 'inherit' | 'pipe' | 'ignore' | number;
  /** How long to wait for /readyz to answer 200, in ms (default 90 s). */
  readyTimeoutMs?: number;
  /**
   * A network namespace to run it in (`ip netns exec <netns> node …`, as root): a host of the
   * cluster test bed. /readyz is then asked at its BIND_HOST, which must be reachable from here.
   */
  netns?: string;
}

/**
 * Starts `services/<name>/main.ts` in a child process and waits (bounded) until its /readyz
 * answers 200. The child is killed if this process exits first.
 */
export async function startServiceProcess(name: string, options: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const metricsPort = options.metricsPort ?? (options.port ? options.port + 1000 : await freePort());
  const upper = name.toUpperCase();
  const env = {
    ...process.env,
    LOG_LEVEL: 'warn',
    BIND_HOST: '127.0.0.1',
    ...options.env,
    [`${upper}_PORT`]: String(port),
    [`${upper}_METRICS_PORT`]: String(metricsPort),
  };
  const command = [process.execPath, '--import', 'tsx', join(ROOT, 'services', name, 'main.ts')];
  // `ip netns exec` enters the namespace and execs node in its place: the child's pid is the service's.
  const [file, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...command] : command;
  const child: ChildProcess = spawn(file!, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', options.output ?? 'inherit', options.output ?? 'inherit'],
  });
  const probeHost = options.netns ? env.BIND_HOST : '127.0.0.1';
  const exited = exitOf(child);
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  // A child that died by itself needs no killing: a supervisor restarting it must not pile up listeners.
  void exited.then(() => process.removeListener('exit', kill));
  const stop = async () => {
    process.removeListener('exit', kill);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(kill, 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener('exit', kill);
      throw new Error(`${name} exited with ${child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`} during start`);
    }
    try {
      const response = await fetch(`http://${probeHost}:${metricsPort}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return { name, port, metricsPort, child, exited, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`${name} was not ready within ${options.readyTimeoutMs ?? 90_000} ms`);
}
