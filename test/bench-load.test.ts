/**
 * Correctness of the benchmark load generator (bench/load.ts): percentile math, counting and
 * windowing. No figures are asserted: benchmarks have no timed tests.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { PredictionService, type StreamPredictionsRequestSchema } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { duplexFromIterable, percentile, runLoad, runStreamLoad, type DuplexLike } from '../bench/load.js';
import { createGrpcClient, createGrpcServer, implement } from '../lib/grpc/index.js';

/** An in-memory echo stream that answers on a later turn and asks for 'drain' every `every` writes. */
function memoryEcho(every = 7): DuplexLike<number> & { maxInFlight: number } {
  const events = new EventEmitter();
  let inFlight = 0;
  let writes = 0;
  const stream = {
    maxInFlight: 0,
    write(message: number) {
      inFlight++;
      stream.maxInFlight = Math.max(stream.maxInFlight, inFlight);
      setImmediate(() => {
        inFlight--;
        events.emit('data', message);
      });
      if (++writes % every) return true;
      setImmediate(() => events.emit('drain'));
      return false;
    },
    end: () => setImmediate(() => setImmediate(() => events.emit('end'))),
    cancel: () => events.emit('error', new Error('cancelled')),
    on: (event: string, listener: (...args: any[]) => void) => events.on(event, listener),
  };
  return stream;
}

describe('bench load generator', () => {
  it('percentile is the nearest rank, always an observed value', () => {
    const values = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 90), 90);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile(values, 0), 1);
    assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 51), 3);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('runLoad counts successes and errors, keeps the concurrency, and excludes the warm-up', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const result = await runLoad({
      concurrency: 4,
      durationMs: 60,
      warmupMs: 20,
      call: async () => {
        const n = ++calls;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        if (n % 5 === 0) throw new Error('every fifth call fails');
      },
    });
    assert.equal(maxInFlight, 4);
    assert.ok(result.requests > 0 && result.errors > 0);
    assert.ok(result.requests + result.errors < calls, 'warm-up calls are not counted');
    assert.match(String(result.firstError), /every fifth call fails/);
    assert.ok(result.p50Ms <= result.p90Ms && result.p90Ms <= result.p99Ms && result.p99Ms <= result.maxMs);
    assert.ok(Math.abs(result.perSecond - result.requests / result.seconds) < 1e-6);
  });

  it('runLoad stops at maxRequests', async () => {
    const result = await runLoad({
      concurrency: 3,
      durationMs: 10_000,
      maxRequests: 50,
      call: () => new Promise((resolve) => setImmediate(resolve)),
    });
    assert.equal(result.requests, 50);
  });

  it('runStreamLoad keeps the window, honours drain, and counts past the warm-up', async () => {
    const stream = memoryEcho();
    const result = await runStreamLoad({ open: () => stream, message: (i) => i, messages: 5_000, warmupMessages: 1_000, window: 32 });
    assert.equal(result.messages, 4_000);
    assert.ok(stream.maxInFlight <= 32);
    assert.ok(result.perSecond > 0);
  });

  it('runStreamLoad fails when the stream ends short or stalls', async () => {
    await assert.rejects(
      runStreamLoad({
        open: () => {
          const stream = memoryEcho();
          return { ...stream, write: (message: number) => message < 10 && stream.write(message) };
        },
        message: (i) => i,
        messages: 100,
        timeoutMs: 200,
      }),
      /did not finish/,
    );
  });

  it('duplexFromIterable drives a bidi method of our typed client', async () => {
    const server = createGrpcServer({
      services: [
        implement(PredictionService, {
          predict: () => ({}),
          predictBatch: () => ({}),
          async *watchPredictions() {},
          async *streamPredictions(requests) {
            for await (const request of requests) yield { requestId: request.requestId };
          },
        }),
      ],
    });
    const port = await server.listen(0, '127.0.0.1');
    const client = createGrpcClient(PredictionService, `127.0.0.1:${port}`);
    try {
      const result = await runStreamLoad({
        open: duplexFromIterable<MessageInitShape<typeof StreamPredictionsRequestSchema>>((requests, signal) =>
          client.streamPredictions(requests, { signal }),
        ),
        message: (i) => ({ requestId: `r${i}`, symbol: 'NABIL' }),
        messages: 2_000,
        window: 64,
        timeoutMs: 30_000,
      });
      assert.equal(result.messages, 1_800);
    } finally {
      client.close();
      await server.stop(1_000);
    }
  });
});
