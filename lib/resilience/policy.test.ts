import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BrokenCircuitError, BulkheadRejectedError, TaskCancelledError } from 'cockatiel';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import {
  createGrpcClient,
  createGrpcServer,
  grpc,
  implement,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  type GrpcJs,
  type GrpcServer,
  type ServiceClient,
} from '../grpc/index.js';
import { createCallPolicy, isPolicyRejection, isRetryable, type CallPolicy, type CallPolicyOptions } from './policy.js';

/** What the dependency does on each successive attempt; `ok` once the plan runs out. */
type Outcome = 'ok' | 'unavailable' | 'aborted' | 'invalid' | 'not-found' | 'internal' | 'hang';

let plan: Outcome[] = [];
let attempts = 0;
const hungSignals: AbortSignal[] = [];

const aborted = (code: GrpcJs.status, details: string) =>
  Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });

const dependency = implement(IngestionService, {
  async listSymbols(_request, context) {
    attempts++;
    switch (plan.shift() ?? 'ok') {
      case 'unavailable':
        throw new UnavailableError('store is down');
      case 'aborted':
        throw aborted(grpc.status.ABORTED, 'write conflict');
      case 'invalid':
        throw new InvalidArgumentError({ field: 'page_size', description: 'too large' });
      case 'not-found':
        throw new NotFoundError('symbol', 'NOPE');
      case 'internal':
        throw new Error('bug');
      case 'hang':
        hungSignals.push(context.signal);
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        return {};
      default:
        return { nextPageToken: `attempt-${attempts}` };
    }
  },
  async *getBars() {},
  ingestBars: async () => ({}),
  importCsv: async () => ({}),
});

/** Fast settings; each test overrides what it is about. */
const fast = (options: Partial<CallPolicyOptions> = {}): CallPolicy =>
  createCallPolicy({
    mode: 'app',
    timeoutMs: 2_000,
    retries: 2,
    initialBackoffMs: 1,
    maxBackoffMs: 5,
    breakerFailures: 100,
    halfOpenAfterMs: 100,
    ...options,
  });

describe('call policy around real gRPC calls', { timeout: 20_000 }, () => {
  let server: GrpcServer;
  let client: ServiceClient<typeof IngestionService>;
  /** One logical call through `policy`, the policy's signal handed to the gRPC client. */
  let callThrough: (policy: CallPolicy, seen?: AbortSignal[]) => Promise<string>;

  before(async () => {
    server = createGrpcServer({ services: [dependency] });
    const port = await server.listen(0, '127.0.0.1');
    client = createGrpcClient(IngestionService, `127.0.0.1:${port}`);
    await client.waitForReady(5_000);
    callThrough = (policy, seen) =>
      policy.execute(async (signal) => {
        seen?.push(signal);
        return (await client.listSymbols({}, { signal, timeoutMs: 5_000 })).nextPageToken;
      });
  });

  after(async () => {
    client?.close();
    await server?.stop(1_000);
  });

  beforeEach(() => {
    plan = [];
    attempts = 0;
    hungSignals.length = 0;
  });

  /** The rejection of `promise`; fails the test when it resolves. */
  async function rejection(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      (value) => assert.fail(`expected a failure, got ${String(value)}`),
      (error: unknown) => error,
    );
  }

  describe('retry (app mode)', () => {
    it('retries UNAVAILABLE up to `retries` times, then fails with the last status', async () => {
      plan = ['unavailable', 'unavailable', 'unavailable', 'unavailable', 'unavailable'];
      const error = await rejection(callThrough(fast({ retries: 3 })));
      assert.equal(attempts, 4, 'the first attempt and 3 retries');
      assert.equal((error as GrpcJs.ServiceError).code, grpc.status.UNAVAILABLE);
      assert.equal(isPolicyRejection(error), false);
    });

    it('succeeds on a retry once the dependency recovers', async () => {
      plan = ['unavailable', 'aborted'];
      assert.equal(await callThrough(fast({ retries: 2 })), 'attempt-3');
      assert.equal(attempts, 3);
    });

    it('does not retry with retries: 0', async () => {
      plan = ['unavailable', 'unavailable'];
      const error = await rejection(callThrough(fast({ retries: 0 })));
      assert.equal((error as GrpcJs.ServiceError).code, grpc.status.UNAVAILABLE);
      assert.equal(attempts, 1);
    });

    for (const [outcome, code] of [
      ['invalid', grpc.status.INVALID_ARGUMENT],
      ['not-found', grpc.status.NOT_FOUND],
      ['internal', grpc.status.INTERNAL],
    ] as const) {
      it(`never retries ${grpc.status[code]}`, async () => {
        plan = [outcome, outcome, outcome];
        const error = await rejection(callThrough(fast({ retries: 3 })));
        assert.equal((error as GrpcJs.ServiceError).code, code);
        assert.equal(attempts, 1);
      });
    }

    it('classifies only UNAVAILABLE and ABORTED as retryable', () => {
      const retryable = Object.values(grpc.status)
        .filter((code): code is number => typeof code === 'number')
        .filter((code) => isRetryable({ code }));
      assert.deepEqual(retryable.sort(), [grpc.status.ABORTED, grpc.status.UNAVAILABLE].sort());
      assert.equal(isRetryable(new Error('no code')), false);
      assert.equal(isRetryable(undefined), false);
    });
  });

  describe('circuit breaker (app mode)', () => {
    it('opens after N consecutive UNAVAILABLE, rejects fast, half-opens and closes on success', async () => {
      const policy = fast({ retries: 0, breakerFailures: 3, halfOpenAfterMs: 150 });
      const states: string[] = [];
      const unsubscribe = policy.onBreakerChange((state) => states.push(state));
      try {
        plan = ['unavailable', 'unavailable', 'unavailable'];
        for (let i = 0; i < 2; i++) await rejection(callThrough(policy));
        assert.equal(policy.breakerState(), 'closed', 'still closed below the threshold');
        await rejection(callThrough(policy));
        assert.equal(policy.breakerState(), 'open');
        assert.equal(attempts, 3);

        const started = performance.now();
        const error = await rejection(callThrough(policy));
        assert.ok(error instanceof BrokenCircuitError);
        assert.equal(isPolicyRejection(error), true);
        assert.ok(performance.now() - started < 50, 'rejected without waiting');
        assert.equal(attempts, 3, 'the dependency was not called while open');

        await sleep(200);
        assert.equal(await callThrough(policy), 'attempt-4', 'the trial call goes through');
        assert.equal(policy.breakerState(), 'closed');
        assert.deepEqual(states, ['open', 'half-open', 'closed']);
        assert.equal(await callThrough(policy), 'attempt-5');
      } finally {
        unsubscribe();
      }
    });

    it('re-opens when the half-open trial fails', async () => {
      const policy = fast({ retries: 0, breakerFailures: 2, halfOpenAfterMs: 100 });
      plan = ['unavailable', 'unavailable', 'unavailable'];
      await rejection(callThrough(policy));
      await rejection(callThrough(policy));
      assert.equal(policy.breakerState(), 'open');
      await sleep(150);
      const trial = await rejection(callThrough(policy));
      assert.equal((trial as GrpcJs.ServiceError).code, grpc.status.UNAVAILABLE);
      assert.equal(policy.breakerState(), 'open');
      assert.ok((await rejection(callThrough(policy))) instanceof BrokenCircuitError);
      assert.equal(attempts, 3);
    });

    it('is not opened by the dependency rejecting bad input, and a success resets the count', async () => {
      const policy = fast({ retries: 0, breakerFailures: 2 });
      plan = ['invalid', 'not-found', 'invalid', 'unavailable', 'ok', 'unavailable', 'invalid'];
      for (const _ of plan.slice()) await callThrough(policy).catch(() => {});
      assert.equal(policy.breakerState(), 'closed');
      assert.equal(attempts, 7);
    });

    it('counts every failed attempt of a retried call', async () => {
      const policy = fast({ retries: 2, breakerFailures: 3 });
      plan = ['unavailable', 'unavailable', 'unavailable'];
      await rejection(callThrough(policy));
      assert.equal(attempts, 3);
      assert.equal(policy.breakerState(), 'open');
    });

    it('is opened by a dependency that hangs past the timeout', async () => {
      const policy = fast({ retries: 0, timeoutMs: 50, breakerFailures: 2, halfOpenAfterMs: 100 });
      plan = ['hang', 'hang', 'hang'];
      for (let i = 0; i < 2; i++) assert.ok((await rejection(callThrough(policy))) instanceof TaskCancelledError);
      // The cut-off attempt settles just after the timeout rejects the caller.
      await sleep(20);
      assert.equal(policy.breakerState(), 'open');
      assert.ok((await rejection(callThrough(policy))) instanceof BrokenCircuitError);
      assert.equal(attempts, 2);
      // A trial that hangs as well must not close the breaker.
      await sleep(150);
      assert.ok((await rejection(callThrough(policy))) instanceof TaskCancelledError);
      await sleep(20);
      assert.equal(policy.breakerState(), 'open');
      assert.equal(attempts, 3);
    });
  });

  describe('timeout', () => {
    it('aborts the signal passed to the call, which cancels the gRPC call on the server', async () => {
      plan = ['hang'];
      const signals: AbortSignal[] = [];
      const started = performance.now();
      const error = await rejection(callThrough(fast({ timeoutMs: 100 }), signals));
      const elapsed = performance.now() - started;
      assert.ok(error instanceof TaskCancelledError, `got ${String(error)}`);
      assert.equal(isPolicyRejection(error), true);
      assert.ok(elapsed >= 90 && elapsed < 1_000, `timed out after ${elapsed} ms`);
      assert.equal(signals.length, 1);
      assert.equal(signals[0].aborted, true);
      // The abort reached the server as a cancellation of the call.
      assert.equal(hungSignals.length, 1);
      for (let i = 0; i < 100 && !hungSignals[0].aborted; i++) await sleep(10);
      assert.equal(hungSignals[0].aborted, true, "the server handler's signal aborted");
    });

    it('bounds the whole call, retries and backoff included', async () => {
      plan = Array(50).fill('unavailable');
      const started = performance.now();
      const error = await rejection(callThrough(fast({ timeoutMs: 150, retries: 50, initialBackoffMs: 40, maxBackoffMs: 40 })));
      const elapsed = performance.now() - started;
      assert.ok(error instanceof TaskCancelledError, `got ${String(error)}`);
      assert.ok(elapsed < 600, `took ${elapsed} ms`);
      await sleep(100);
      assert.ok(attempts >= 2 && attempts <= 6, `${attempts} attempts`);
    });
  });

  describe('bulkhead', () => {
    it('rejects calls beyond the limit and its queue', async () => {
      const policy = fast({ bulkheadLimit: 1, bulkheadQueue: 0, timeoutMs: 300 });
      plan = ['hang'];
      const first = callThrough(policy);
      await sleep(20);
      const error = await rejection(callThrough(policy));
      assert.ok(error instanceof BulkheadRejectedError);
      assert.equal(isPolicyRejection(error), true);
      assert.ok((await rejection(first)) instanceof TaskCancelledError);
      assert.equal(await callThrough(policy), 'attempt-2', 'capacity is back once the first call ended');
    });
  });

  describe('mesh mode', () => {
    const mesh = (options: Partial<CallPolicyOptions> = {}) =>
      createCallPolicy({ mode: 'mesh', timeoutMs: 2_000, retries: 3, breakerFailures: 2, ...options });

    it('makes exactly one attempt, even on UNAVAILABLE', async () => {
      plan = ['unavailable', 'unavailable'];
      const error = await rejection(callThrough(mesh()));
      assert.equal((error as GrpcJs.ServiceError).code, grpc.status.UNAVAILABLE);
      assert.equal(attempts, 1);
    });

    it('has no breaker: every call reaches the dependency however many fail', async () => {
      const policy = mesh();
      const states: string[] = [];
      policy.onBreakerChange((state) => states.push(state));
      plan = Array(6).fill('unavailable');
      for (let i = 0; i < 6; i++) await rejection(callThrough(policy));
      assert.equal(attempts, 6);
      assert.equal(policy.breakerState(), 'closed');
      assert.deepEqual(states, []);
      assert.equal(await callThrough(policy), 'attempt-7');
    });

    it('keeps the timeout', async () => {
      plan = ['hang'];
      const signals: AbortSignal[] = [];
      const error = await rejection(callThrough(mesh({ timeoutMs: 80 }), signals));
      assert.ok(error instanceof TaskCancelledError);
      assert.equal(signals[0].aborted, true);
      assert.equal(attempts, 1);
    });
  });
});
