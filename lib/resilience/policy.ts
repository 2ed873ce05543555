import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  noop,
  retry,
  timeout,
  wrap,
  type IPolicy,
} from 'cockatiel';
import { grpc } from '../grpc/grpc-js.js';

/**
 * `app`: this process retries and breaks circuits itself. `mesh`: Istio does both (its default of
 * two retries would multiply with ours), so only deadlines, bulkheads and fallbacks stay here.
 */
export type ResilienceMode = 'app' | 'mesh';

/** Options of {@link createCallPolicy}; every duration is in milliseconds. */
export interface CallPolicyOptions {
  mode: ResilienceMode;
  /** Overall time for one logical call, retries included. */
  timeoutMs: number;
  /** Attempts after the first one, for retryable status codes only (app mode). Default 2. */
  retries?: number;
  /** First backoff delay before jitter. Default 50 ms. */
  initialBackoffMs?: number;
  /** Largest backoff delay. Default 1 s. */
  maxBackoffMs?: number;
  /** Consecutive failures that open the breaker (app mode). Default 5. */
  breakerFailures?: number;
  /** How long an open breaker waits before letting one trial call through. Default 5 s. */
  halfOpenAfterMs?: number;
  /** Calls in flight at once; more wait in a queue of `bulkheadQueue`. Defaults 64 and 512. */
  bulkheadLimit?: number;
  bulkheadQueue?: number;
}

/** Status codes worth another attempt: the server never started the work or asked to retry. */
const RETRYABLE = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.ABORTED]);
/** Status codes that say the dependency is unhealthy (its own verdicts on input do not count). */
const BREAKER_FAILURES = new Set<number>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.RESOURCE_EXHAUSTED,
]);

const codeOf = (error: unknown): number | undefined => (error as { code?: unknown })?.code as number | undefined;

/** Whether an error is a gRPC status worth retrying. */
export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(codeOf(error) ?? -1);
}

/** Whether the policy refused or abandoned the call itself (breaker open, bulkhead full, timed out). */
export function isPolicyRejection(error: unknown): boolean {
  return error instanceof BrokenCircuitError || error instanceof BulkheadRejectedError || error instanceof TaskCancelledError;
}

/**
 * Runs one attempt so that the timeout cutting it off counts as the dependency's failure: the call
 * fails at once with DEADLINE_EXCEEDED, which the breaker counts. Left alone it would end with the
 * CANCELLED its aborted gRPC call reports (or never, if it ignores the signal), which the breaker
 * ignores when closed and takes for a success when half-open, so a hanging dependency never broke
 * the circuit. An attempt the timeout already cut off (during a backoff) is not started at all.
 */
function attempt<T>(call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new TaskCancelledError());
  return new Promise<T>((resolve, reject) => {
    const timedOut = () => reject(Object.assign(new Error('attempt cut off by the call timeout'), { code: grpc.status.DEADLINE_EXCEEDED }));
    signal.addEventListener('abort', timedOut, { once: true });
    Promise.resolve()
      .then(() => call(signal))
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', timedOut));
  });
}

/** A composed policy for calls to one dependency. */
export interface CallPolicy {
  /** Runs `call`, passing a signal that aborts when the policy gives up on the attempt. */
  execute<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** The breaker's state: `closed`, `open`, `half-open` or `isolated` (always `closed` in mesh mode). */
  breakerState(): 'closed' | 'open' | 'half-open' | 'isolated';
  /** Subscribes to breaker transitions; returns the unsubscribe function. */
  onBreakerChange(listener: (state: 'closed' | 'open' | 'half-open' | 'isolated') => void): () => void;
}

const STATE_NAMES = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
} as const;

/** Builds bulkhead → timeout → retry → circuit breaker, as cockatiel policies. */
export function createCallPolicy(options: CallPolicyOptions): CallPolicy {
  const overall = timeout(options.timeoutMs, TimeoutStrategy.Aggressive);
  const limit = bulkhead(options.bulkheadLimit ?? 64, options.bulkheadQueue ?? 512);
  if (options.mode === 'mesh') {
    const policy = wrap(limit, overall);
    return {
      execute: (call) => policy.execute(({ signal }) => call(signal)),
      breakerState: () => 'closed',
      onBreakerChange: () => () => {},
    };
  }
  const breaker = circuitBreaker(
    handleWhen((e) => BREAKER_FAILURES.has(codeOf(e) ?? -1)),
    {
      halfOpenAfter: options.halfOpenAfterMs ?? 5_000,
      breaker: new ConsecutiveBreaker(options.breakerFailures ?? 5),
    },
  );
  const retries: IPolicy =
    (options.retries ?? 2) > 0
      ? retry(handleWhen(isRetryable), {
          maxAttempts: options.retries ?? 2,
          backoff: new ExponentialBackoff({ initialDelay: options.initialBackoffMs ?? 50, maxDelay: options.maxBackoffMs ?? 1_000 }),
        })
      : noop;
  const policy = wrap(limit, overall, retries, breaker);
  return {
    execute: (call) => policy.execute(({ signal }) => attempt(call, signal)),
    breakerState: () => STATE_NAMES[breaker.state],
    onBreakerChange(listener) {
      const subscription = breaker.onStateChange((state) => listener(STATE_NAMES[state]));
      return () => subscription.dispose();
    },
  };
}
