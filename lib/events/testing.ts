/**
 * Test helper: a private nats-server with JetStream on a free loopback port, for any test in the
 * project. Every wait is bounded, a server that fails to start is killed, and servers still
 * running when the test process exits (or is interrupted) are killed too, so nothing is left
 * behind.
 *
 * @example
 * const nats = await startNatsServer();
 * try { ... connect to nats.url ... } finally { await nats.stop(); }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../runtime/service-process.js';

/** A running test nats-server. */
export interface NatsTestServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** The loopback port; kept across `restart()`. */
  readonly port: number;
  /** JetStream store directory; kept across `restart()`, removed by `stop()`. */
  readonly storeDir: string;
  /** Process id of the running server; undefined once stopped (changes on `restart()`). */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its store. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts the server again on the same port with the same store (streams survive). */
  restart(): Promise<void>;
}

/** Options of {@link startNatsServer}. Durations are milliseconds. */
export interface StartNatsServerOptions {
  /** Server binary. Default `$NATS_SERVER_BIN` or `nats-server` from PATH. */
  binary?: string;
  /** How long a start may take before it is abandoned, in ms. Default 15 000. */
  startTimeoutMs?: number;
  /** How long a graceful stop may take before SIGKILL, in ms. Default 5 000. */
  stopTimeoutMs?: number;
  /** Extra command-line arguments. */
  args?: readonly string[];
}

const live = new Set<ChildProcess>();
/** Store directories of servers not yet stopped, removed at exit if a test forgot `stop()`. */
const liveDirs = new Set<string>();
let hooksInstalled = false;

/** Starts a nats-server with JetStream (`-js -sd <tmp>`) on a free port and waits until it serves. */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsTestServer> {
  installExitHooks();
  const binary = options.binary ?? process.env.NATS_SERVER_BIN ?? 'nats-server';
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  const storeDir = await mkdtemp(join(tmpdir(), 'nepse-nats-'));
  liveDirs.add(storeDir);
  let child: ChildProcess | undefined;
  let port = 0;
  const deadline = Date.now() + startTimeoutMs;
  const launch = async (p: number): Promise<ChildProcess> => launchServer(binary, p, storeDir, options.args ?? [], deadline, stopTimeoutMs);

  try {
    // Another process may grab the free port between our probe and the server's bind: retry.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        child = await launch(port);
        break;
      } catch (err) {
        if (!(err instanceof PortInUseError) || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    liveDirs.delete(storeDir);
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return child?.pid;
    },
    stop() {
      stopped ??= (async () => {
        if (child) await killServer(child, stopTimeoutMs);
        child = undefined;
        await rm(storeDir, { recursive: true, force: true });
        liveDirs.delete(storeDir);
      })();
      return stopped;
    },
    async restart() {
      if (stopped) throw new Error('nats test server was stopped');
      if (child) await killServer(child, stopTimeoutMs);
      child = undefined;
      child = await launchServer(binary, port, storeDir, options.args ?? [], Date.now() + startTimeoutMs, stopTimeoutMs);
    },
  };
}

class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

/** Spawns the server and resolves once it answers a client with JetStream on; kills it otherwise. */
async function launchServer(
  binary: string,
  port: number,
  storeDir: string,
  extraArgs: readonly string[],
  deadline: number,
  stopTimeoutMs: number,
): Promise<ChildProcess> {
  const serverName = `nepse-test-${port}-${process.pid}`;
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, '--server_name', serverName, ...extraArgs];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  // Unref so a test that forgets stop() cannot keep its process alive; the exit hook kills it.
  child.unref();
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      output.push(...chunk.split('\n').filter(Boolean));
      if (output.length > 50) output.splice(0, output.length - 50);
    });
    (stream as unknown as { unref?: () => void })?.unref?.();
  }
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
      live.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      exited = `failed to spawn: ${err.message}`;
      live.delete(child);
      resolve();
    });
  });
  (child as ChildProcess & { exitPromise?: Promise<void> }).exitPromise = exit;

  try {
    while (true) {
      if (exited) {
        const log = output.join('\n');
        if (/address already in use/i.test(log)) throw new PortInUseError(`port ${port} in use`);
        throw new Error(`nats-server ${exited} before becoming ready (${binary} ${args.join(' ')})\n${log}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`nats-server on port ${port} not ready in time\n${output.join('\n')}`);
      }
      const info = await readInfo(port, Math.max(100, Math.min(1_000, deadline - Date.now())));
      // Check it is our server (not a stranger who took the port) and that JetStream is up.
      if (info && info.server_name === serverName && info.jetstream === true) return child;
      await within(exit, 50);
    }
  } catch (err) {
    await killServer(child, stopTimeoutMs);
    throw err;
  }
}

/** Graceful stop with SIGTERM, SIGKILL after `timeoutMs`; resolves once the process is gone. */
async function killServer(child: ChildProcess, timeoutMs: number): Promise<void> {
  const exit = (child as ChildProcess & { exitPromise?: Promise<void> }).exitPromise ?? Promise.resolve();
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    live.delete(child);
    return;
  }
  child.kill('SIGTERM');
  if (!(await within(exit, timeoutMs))) {
    child.kill('SIGKILL');
    await within(exit, 5_000);
  }
  live.delete(child);
}

/** Whether `promise` settles within `ms`; the timer is cleared either way so it holds nothing up. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects to the port and reads the server's INFO line; undefined if nothing answers in time. */
function readInfo(port: number, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    let buffer = '';
    const socket = tcpConnect({ host: '127.0.0.1', port });
    const finish = (value: Record<string, unknown> | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\r\n');
      if (end === -1) return;
      const line = buffer.slice(0, end);
      if (!line.startsWith('INFO ')) return finish(undefined);
      try {
        finish(JSON.parse(line.slice(5)) as Record<string, unknown>);
      } catch {
        finish(undefined);
      }
    });
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
  });
}

/** Kills every live server when the process exits or is interrupted. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const child of live) child.kill('SIGKILL');
    live.clear();
    for (const dir of liveDirs) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        // Best effort at exit; a leftover temp dir is harmless.
      }
    }
    liveDirs.clear();
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      // Our listener replaced the default action (exit); restore it and re-raise.
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

/**
 * Polls `check` until it returns a truthy value and answers that value; rejects after `timeoutMs`
 * (default 10 000 ms) with `what` in the message. For asserting on asynchronous effects without
 * unbounded loops.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() <= deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}
