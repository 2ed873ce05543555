/**
 * The machine's raw gRPC limits: a bare @grpc/grpc-js echo server in its own process
 * (bench/grpc-echo-server.ts), driven from this process with identity serializers, so no protobuf,
 * handler wrapper, telemetry or service logic is counted. Benchmarks of our services print their
 * figures beside these, measured in the same run, as ratios.
 * Run: `make bench ONLY=echo` or `npm run bench -- echo`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { grpc, type GrpcJs } from '../lib/grpc/grpc-js.js';
import { freePort, ROOT } from '../lib/runtime/service-process.js';
import { printTable, processCpuSeconds, rate } from './format.js';
import { ECHO_SERVICE } from './grpc-echo-server.js';
import { runLoad, runStreamLoad, type LoadResult, type StreamLoadResult } from './load.js';

/** The echo server as a child process. */
export interface EchoProcess {
  readonly port: number;
  readonly pid: number;
  /** CPU time the process has used so far, in seconds (NaN where /proc is missing). */
  cpuSeconds(): number;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/**
 * Spawns bench/grpc-echo-server.ts on a free loopback port and waits (at most `readyTimeoutMs`)
 * for its `ready <port>` line. The child exits when this process does, even when killed: it
 * watches the stdin pipe this process holds.
 */
export async function startEchoProcess(readyTimeoutMs = 30_000): Promise<EchoProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/grpc-echo-server.ts'), String(port)], {
    cwd: ROOT,
    env: { ...process.env, ECHO_EXIT_WITH_STDIN: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A failed spawn shows up as stdout closing before the ready line.
  child.once('error', () => {});
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const stop = async () => {
    process.removeListener('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const lines = createInterface({ input: child.stdout! });
    const ready = (async () => {
      for await (const line of lines) if (line === `ready ${port}`) return;
      throw new Error(`the echo server exited before it was ready (code ${child.exitCode})`);
    })();
    ready.catch(() => {}); // when the timeout wins, stopping the child settles this later
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ready,
      new Promise(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`the echo server was not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs)),
      ),
    ]).finally(() => clearTimeout(timer));
    // Keep draining stdout so the child never blocks on a full pipe.
    child.stdout!.resume();
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid: child.pid!, cpuSeconds: () => processCpuSeconds(child.pid!), stop };
}

/** The raw echo client: one channel, so every call shares one HTTP/2 connection. */
export type EchoClient = GrpcJs.Client & {
  unary(request: Buffer, options: GrpcJs.CallOptions, callback: GrpcJs.requestCallback<Buffer>): GrpcJs.ClientUnaryCall;
  bidi(options?: GrpcJs.CallOptions): GrpcJs.ClientDuplexStream<Buffer, Buffer>;
};

/** A raw grpc-js client of the echo server at `address`, with identity (de)serializers. */
export function createEchoClient(address: string): EchoClient {
  const Constructor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  return new Constructor(address, grpc.credentials.createInsecure()) as unknown as EchoClient;
}

/** One unary echo with a deadline, as our clients always set one. */
export function echoUnary(client: EchoClient, payload: Buffer, deadlineMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.unary(payload, { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response!))),
  );
}

/** Options of {@link measureRawEcho}. */
export interface RawEchoOptions {
  /** Unary concurrency levels, each measured in turn (default 1, 16, 64). */
  concurrencies?: readonly number[];
  /** Measured time per concurrency level, in ms (default 3,000). */
  durationMs?: number;
  /** Warm-up before each level, in ms (default 500). */
  warmupMs?: number;
  /**
   * Unmeasured load at concurrency 16 before the first level, in ms (default 1,000): both
   * processes start cold (JIT, lazily built grpc-js paths), and 500 ms is not enough for that.
   */
  primeMs?: number;
  /** Bytes of each request and response (default 128, the size of our small RPCs). */
  payloadBytes?: number;
  /** Deadline of each unary call, in ms (default 10,000, our clients' default). */
  deadlineMs?: number;
  /** Messages through the bidi stream, 10 % of them warm-up (default 200,000). */
  streamMessages?: number;
  /**
   * Unanswered bidi messages at most (default 256): about 36 KB of frames each way, inside the
   * 64 KiB HTTP/2 stream window, so flow control never stalls the stream; 4,096 measured ~35 % slower.
   */
  streamWindow?: number;
}

/** A unary level: the load figures plus the server's CPU use while it ran. */
export interface RawEchoUnary extends LoadResult {
  concurrency: number;
  /** Echo server CPU over warm-up and measurement, as a percentage of one core (NaN without /proc). */
  serverCpuPercent: number;
}

/** What {@link measureRawEcho} measured. */
export interface RawEchoFigures {
  payloadBytes: number;
  unary: RawEchoUnary[];
  bidi: StreamLoadResult & { window: number; serverCpuPercent: number };
}

/** Wall and server CPU time around `run`, as the server's CPU percentage of one core. */
async function withServerCpu<R>(server: EchoProcess, run: () => Promise<R>): Promise<[R, number]> {
  const cpu = server.cpuSeconds();
  const wall = performance.now();
  const result = await run();
  return [result, ((server.cpuSeconds() - cpu) / ((performance.now() - wall) / 1000)) * 100];
}

/**
 * Spawns the echo server, measures unary echo at each concurrency (closed loop, one channel) and
 * the bidi echo rate through one stream, and stops the server, also on failure.
 */
export async function measureRawEcho(options: RawEchoOptions = {}): Promise<RawEchoFigures> {
  const payloadBytes = options.payloadBytes ?? 128;
  const deadlineMs = options.deadlineMs ?? 10_000;
  const window = options.streamWindow ?? 256;
  const payload = Buffer.alloc(payloadBytes, 'nepse-');
  const server = await startEchoProcess();
  const client = createEchoClient(`127.0.0.1:${server.port}`);
  try {
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())));
    const call = () => echoUnary(client, payload, deadlineMs);
    const primeMs = options.primeMs ?? 1_000;
    if (primeMs > 0) await runLoad({ concurrency: 16, durationMs: primeMs, call });
    const unary: RawEchoUnary[] = [];
    for (const concurrency of options.concurrencies ?? [1, 16, 64]) {
      const [load, serverCpuPercent] = await withServerCpu(server, () =>
        runLoad({
          concurrency,
          durationMs: options.durationMs ?? 3_000,
          warmupMs: options.warmupMs ?? 500,
          call,
        }),
      );
      if (load.requests === 0)
        throw new Error(`raw unary echo: every call failed at concurrency ${concurrency}`, { cause: load.firstError });
      unary.push({ concurrency, ...load, serverCpuPercent });
    }
    const [stream, serverCpuPercent] = await withServerCpu(server, () =>
      runStreamLoad({
        open: () => client.bidi(),
        message: () => payload,
        messages: options.streamMessages ?? 200_000,
        window,
        timeoutMs: 30_000,
      }),
    );
    return { payloadBytes, unary, bidi: { ...stream, window, serverCpuPercent } };
  } finally {
    client.close();
    await server.stop();
  }
}

const ms = (value: number) => value.toFixed(2);
const percent = (value: number) => (Number.isNaN(value) ? '' : `${Math.round(value)}`);

/** Measures and prints the raw echo figures. */
export async function benchRawEcho(): Promise<void> {
  const figures = await measureRawEcho();
  printTable(`raw @grpc/grpc-js echo, ${figures.payloadBytes}-byte payloads, server in its own process, one channel (1 core = 100 %)`, [
    ['path', 'in flight', 'per second', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'client CPU %', 'server CPU %'],
    ...figures.unary.map((u) => [
      'unary echo',
      u.concurrency,
      rate(u.perSecond),
      ms(u.p50Ms),
      ms(u.p90Ms),
      ms(u.p99Ms),
      ms(u.maxMs),
      u.errors,
      percent(u.cpuPercent),
      percent(u.serverCpuPercent),
    ]),
    [
      'bidi echo, one stream (messages)',
      figures.bidi.window,
      rate(figures.bidi.perSecond),
      '',
      '',
      '',
      '',
      0,
      percent(figures.bidi.cpuPercent),
      percent(figures.bidi.serverCpuPercent),
    ],
  ]);
  const failed = figures.unary.find((u) => u.errors > 0);
  if (failed) console.log(`  first error at concurrency ${failed.concurrency}: ${String(failed.firstError)}`);
}
