/**
 * A local nats-server with JetStream as a child process, the way `make dev` runs it: on a fixed
 * port with a store that outlives it, so a restarted server finds its streams again.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { exitOf, describeExit, type ChildExit, type SupervisedChild } from './supervisor.js';

/** Options of {@link startNatsProcess}. */
export interface NatsProcessOptions {
  /** Loopback port to serve on. */
  port: number;
  /** JetStream store folder (created if missing); kept after the server stops. */
  storeDir: string;
  /** Server name. Default `nepse-dev`. */
  serverName?: string;
  /** Server binary. Default `$NATS_SERVER_BIN` or `nats-server` from PATH. */
  binary?: string;
  /** How long the start may take, in ms. Default 10 000. */
  startTimeoutMs?: number;
}

/** A running nats-server. */
export interface NatsProcess extends SupervisedChild {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly pid: number | undefined;
}

/** Whether something accepts connections on the loopback port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts nats-server (`-js -sd <storeDir>`) on 127.0.0.1 and resolves once it accepts
 * connections; rejects with its last output lines when it exits first or does not listen in
 * time (it is killed then). The child is killed if this process exits first.
 */
export async function startNatsProcess(options: NatsProcessOptions): Promise<NatsProcess> {
  const binary = options.binary ?? process.env.NATS_SERVER_BIN ?? 'nats-server';
  mkdirSync(options.storeDir, { recursive: true });
  const args = [
    '-a',
    '127.0.0.1',
    '-p',
    String(options.port),
    '-js',
    '-sd',
    options.storeDir,
    '--server_name',
    options.serverName ?? 'nepse-dev',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail.push(...chunk.split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 5));
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const exited: Promise<ChildExit> = exitOf(child);
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  void exited.then(() => process.removeListener('exit', kill));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 5_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  let gone: ChildExit | undefined;
  void exited.then((exit) => (gone = exit));
  while (!(await portOpen(options.port))) {
    if (spawnError)
      throw new Error(`cannot start ${binary} (${spawnError.message}); install it (apt-get install nats-server) or set NATS_URL`);
    if (gone) throw new Error(`nats-server exited during start (${describeExit(gone)})${tail.length ? `: ${tail.join(' | ')}` : ''}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server did not listen on ${options.port} within ${options.startTimeoutMs ?? 10_000} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `nats://127.0.0.1:${options.port}`,
    get pid() {
      return child.pid;
    },
    exited,
    stop,
  };
}
