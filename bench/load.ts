/**
 * A closed-loop load generator for the benchmarks: unary calls from a fixed number of workers
 * ({@link runLoad}) and messages through one bidi stream with a bounded window ({@link runStreamLoad}).
 * Both drive any transport through a plain function, so raw @grpc/grpc-js and our typed clients
 * (lib/grpc/client.ts) are measured by the same code.
 */
import { EventEmitter } from 'node:events';

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Workers, each awaiting `call()` in a loop: the number of calls in flight. */
  concurrency: number;
  /** Length of the measured window, in ms; no call starts after it. */
  durationMs: number;
  /** Load applied before the measured window and left out of the figures, in ms (default 0). */
  warmupMs?: number;
  /** Measured calls after which the workers stop early (default 2,000,000). */
  maxRequests?: number;
  /** How long the calls in flight at the end may take to settle before runLoad gives up, in ms (default 10 s). */
  drainTimeoutMs?: number;
  /** One request; rejects on failure. Bound it with a deadline: runLoad cannot cancel it. */
  call: () => Promise<unknown>;
}

/** What {@link runLoad} measured. Latencies are of successful calls only. */
export interface LoadResult {
  /** Measured calls that succeeded. */
  requests: number;
  /** Measured calls that rejected. */
  errors: number;
  /** The first rejection, to tell what went wrong. */
  firstError?: unknown;
  /** From the end of warm-up to the settling of the last measured call, in seconds. */
  seconds: number;
  /** Successful calls per second. */
  perSecond: number;
  /** Latency percentiles and maximum, in ms (nearest rank; NaN when nothing succeeded). */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time of this process over the measured window, as a percentage of one core. */
  cpuPercent: number;
}

/**
 * The `p`-th percentile (0-100) of ascending `sorted` values, by nearest rank: the smallest value
 * with at least p % of the values at or below it, `sorted[ceil(p/100 * n) - 1]`. It is always an
 * observed value, never an interpolation; NaN for no values.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Rejects after `ms` with `message`; the returned function cancels the timer. */
function timeout(ms: number, message: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Closed-loop load: `concurrency` workers each call, await, and call again, for `warmupMs` plus
 * `durationMs`. A call is measured when it starts after the warm-up; none starts after the window
 * (or once `maxRequests` measured calls have started). The measured time runs to the settling of the
 * last measured call, so the tail is counted rather than cut off; calls still in flight from the
 * warm-up take up to one latency at the start of the window without being counted, which
 * understates the rate by about latency/duration (well under 1 % for windows of seconds).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs, call } = options;
  const warmupMs = options.warmupMs ?? 0;
  const maxRequests = options.maxRequests ?? 2_000_000;
  if (!(concurrency >= 1 && durationMs > 0 && warmupMs >= 0 && maxRequests >= 1)) {
    throw new RangeError('runLoad needs concurrency >= 1, durationMs > 0, warmupMs >= 0 and maxRequests >= 1');
  }
  const started = process.hrtime.bigint();
  const measureFrom = started + BigInt(Math.round(warmupMs * 1e6));
  const stopAt = measureFrom + BigInt(Math.round(durationMs * 1e6));
  const latenciesMs: number[] = [];
  let measured = 0;
  let errors = 0;
  let firstError: unknown;
  let lastSettled = measureFrom;
  let cpuFrom: NodeJS.CpuUsage | undefined;

  const worker = async () => {
    for (;;) {
      const begin = process.hrtime.bigint();
      if (begin >= stopAt) return;
      const counted = begin >= measureFrom;
      if (counted) {
        if (measured >= maxRequests) return;
        measured++;
        cpuFrom ??= process.cpuUsage();
      }
      try {
        await call();
        const end = process.hrtime.bigint();
        if (counted) {
          latenciesMs.push(Number(end - begin) / 1e6);
          lastSettled = end;
        }
      } catch (error) {
        if (counted) {
          errors++;
          firstError ??= error;
          lastSettled = process.hrtime.bigint();
        }
      }
    }
  };

  const limit = timeout(
    warmupMs + durationMs + (options.drainTimeoutMs ?? 10_000),
    'runLoad: calls still in flight after the drain timeout',
  );
  try {
    await Promise.race([Promise.all(Array.from({ length: concurrency }, worker)), limit.promise]);
  } finally {
    limit.cancel();
  }
  const cpu = process.cpuUsage(cpuFrom);
  const seconds = Number(lastSettled - measureFrom) / 1e9;
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    requests: sorted.length,
    errors,
    firstError,
    seconds,
    perSecond: seconds > 0 ? sorted.length / seconds : 0,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
    cpuPercent: cpuFrom && seconds > 0 ? (cpu.user + cpu.system) / 1e4 / seconds : 0,
  };
}

/**
 * One bidi stream, driven push-style. A @grpc/grpc-js ClientDuplexStream fits as it is; for our
 * typed clients, whose bidi methods take and return async iterables, see {@link duplexFromIterable}.
 */
export interface DuplexLike<T> {
  /** Sends one message; false when the transport wants no more until 'drain'. */
  write(message: T): boolean;
  /** No more requests. */
  end(): void;
  /** Abandons the call. */
  cancel(): void;
  on(event: 'data', listener: (message: unknown) => void): unknown;
  on(event: 'drain' | 'end', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Options of {@link runStreamLoad}. */
export interface StreamLoadOptions<T> {
  /** Opens the stream. */
  open: () => DuplexLike<T>;
  /** The i-th request (0-based); each must draw exactly one response. */
  message: (index: number) => T;
  /** Requests sent through the stream, warm-up included. */
  messages: number;
  /** Requests answered before the clock starts, left out of the figures (default 10 % of `messages`). */
  warmupMessages?: number;
  /** Requests in flight (sent, not yet answered) at most (default 512). */
  window?: number;
  /** Time allowed for the whole stream, in ms; the call is cancelled after it (default 60 s). */
  timeoutMs?: number;
}

/** What {@link runStreamLoad} measured. */
export interface StreamLoadResult {
  /** Responses received after the warm-up. */
  messages: number;
  /** From the last warm-up response to the last response, in seconds. */
  seconds: number;
  /** Responses per second (each answers one request: round trips per second). */
  perSecond: number;
  /** CPU time of this process over the measured part, as a percentage of one core. */
  cpuPercent: number;
}

/**
 * Sends `messages` requests through one bidi stream, keeping at most `window` of them unanswered
 * and pausing whenever `write()` asks for it, then ends the stream and waits for the server to end
 * it too (a stream left early counts as cancelled in our clients' metrics). Throws if the stream
 * fails, ends short, or runs out of time.
 */
export async function runStreamLoad<T>(options: StreamLoadOptions<T>): Promise<StreamLoadResult> {
  const total = options.messages;
  const warmup = options.warmupMessages ?? Math.floor(total / 10);
  const window = options.window ?? 512;
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!(total >= 1 && warmup >= 0 && warmup < total && window >= 1)) {
    throw new RangeError('runStreamLoad needs messages >= 1, 0 <= warmupMessages < messages and window >= 1');
  }
  let sent = 0;
  let received = 0;
  let draining = false;
  let ended = false;
  let clockFrom = process.hrtime.bigint();
  let clockTo = clockFrom;
  let cpuFrom = process.cpuUsage();
  let cpu = cpuFrom;
  const stream = options.open();
  const limit = timeout(timeoutMs, `runStreamLoad: the stream did not finish within ${timeoutMs} ms`);
  try {
    await Promise.race([
      limit.promise,
      new Promise<void>((resolve, reject) => {
        const pump = () => {
          while (sent < total && sent - received < window) {
            // A write that returns false has still been taken: it counts as sent.
            if (!stream.write(options.message(sent++))) {
              draining = true;
              return;
            }
          }
          if (sent === total && !ended) {
            ended = true;
            stream.end();
          }
        };
        stream.on('drain', () => {
          draining = false;
          pump();
        });
        stream.on('data', () => {
          received++;
          if (received === warmup) {
            clockFrom = process.hrtime.bigint();
            cpuFrom = process.cpuUsage();
          } else if (received === total) {
            clockTo = process.hrtime.bigint();
            cpu = process.cpuUsage(cpuFrom);
          }
          if (!draining) pump();
        });
        stream.on('end', () =>
          received === total ? resolve() : reject(new Error(`runStreamLoad: the stream ended with ${received} of ${total} responses`)),
        );
        stream.on('error', reject);
        pump();
      }),
    ]);
  } catch (error) {
    stream.cancel();
    throw error;
  } finally {
    limit.cancel();
  }
  const seconds = Number(clockTo - clockFrom) / 1e9;
  const measured = total - warmup;
  return { messages: measured, seconds, perSecond: measured / seconds, cpuPercent: (cpu.user + cpu.system) / 1e4 / seconds };
}

/**
 * Opens one bidi stream the way our typed clients' bidi methods do: takes the requests as an async
 * iterable (pulled as the transport can write them) and returns the responses; aborting `signal`
 * cancels the call. `(requests, signal) => client.someBidi(requests, { signal })` fits.
 */
export type OpenIterableBidi<T> = (requests: AsyncIterable<T>, signal: AbortSignal) => AsyncIterable<unknown>;

/** Requests queued in {@link duplexFromIterable} before `write()` asks the sender to wait. */
const QUEUE_HIGH_WATER = 64;

/**
 * Adapts an iterable-style bidi call (our typed clients) to {@link DuplexLike}, so
 * {@link runStreamLoad} drives it like raw grpc-js; the adapter's own cost (an async generator step
 * per request) is then part of what is measured, as it is part of our client's. TypeScript cannot
 * infer `T` through the callback: give it, e.g. `duplexFromIterable<MessageInitShape<typeof XSchema>>(...)`.
 */
export function duplexFromIterable<T>(open: OpenIterableBidi<T>): () => DuplexLike<T> {
  return () => {
    const events = new EventEmitter();
    const controller = new AbortController();
    const queue: T[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    const resume = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    async function* requests(): AsyncGenerator<T> {
      for (;;) {
        if (controller.signal.aborted) return;
        if (queue.length) {
          const message = queue.shift() as T;
          if (queue.length === 0) events.emit('drain');
          yield message;
        } else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    }
    void (async () => {
      try {
        for await (const response of open(requests(), controller.signal)) events.emit('data', response);
        events.emit('end');
      } catch (error) {
        events.emit('error', error);
      }
    })();
    return {
      write(message) {
        queue.push(message);
        resume();
        return queue.length < QUEUE_HIGH_WATER;
      },
      end() {
        ended = true;
        resume();
      },
      cancel() {
        controller.abort();
        resume();
      },
      on(event: string, listener: (...args: any[]) => void) {
        return events.on(event, listener);
      },
    };
  };
}
