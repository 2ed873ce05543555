/**
 * Work a handler starts to outlive its call: run through detached(), its outgoing calls take their
 * own timeouts instead of the request's deadline, and its spans stay in the request's trace. Real
 * sockets: a client calls A with a short deadline; A answers at once and leaves background work
 * behind that calls B after that deadline has passed.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTracing, stopTracing } from '../telemetry/tracing.js';

// Tracing must hook @grpc/grpc-js before anything loads it: the kit is imported below.
const exported = new InMemorySpanExporter();
startTracing({ serviceName: 'detached-test', processors: [new SimpleSpanProcessor(exported)] });

const { IngestionService } = await import('../../gen/nepse/ingestion/v1/ingestion_pb.js');
const { PredictionService } = await import('../../gen/nepse/prediction/v1/prediction_pb.js');
const { createGrpcClient, createGrpcServer, currentCall, detached, grpc, implement } = await import('./index.js');
const { runInCall } = await import('./context.js');
type GrpcServer = import('./index.js').GrpcServer;

/** The caller's deadline on A, in milliseconds. */
const CALLER_DEADLINE_MS = 300;

/** What one piece of background work saw when it called B, after the caller's deadline. */
interface Outcome {
  /** The call A was serving, as the background work saw it. */
  callInScope: boolean;
  /** B's answer, or the status code of its failure. */
  answer?: string;
  code?: number;
  calledAt: number;
}

describe('detached: background work started inside a call', { timeout: 20_000 }, () => {
  let a: GrpcServer;
  let b: GrpcServer;
  let aClient: ReturnType<typeof createGrpcClient<typeof PredictionService>>;
  let toB: ReturnType<typeof createGrpcClient<typeof IngestionService>>;
  const bDeadlines: Array<number | undefined> = [];
  const outcomes = new Map<string, Promise<Outcome>>();

  /** Waits past the caller's deadline, then calls B with no timeout of its own. */
  const background = async (): Promise<Outcome> => {
    await sleep(CALLER_DEADLINE_MS + 200);
    const calledAt = Date.now();
    const callInScope = currentCall() !== undefined;
    try {
      const page = await toB.listSymbols({ pageSize: 1 });
      return { callInScope, calledAt, answer: page.symbols[0]?.symbol };
    } catch (error) {
      return { callInScope, calledAt, code: (error as { code?: number }).code };
    }
  };

  before(async () => {
    b = createGrpcServer({
      services: [
        implement(IngestionService, {
          listSymbols: (_request, context) => {
            bDeadlines.push(context.deadline);
            return { symbols: [{ symbol: 'NABIL' }] };
          },
          async ingestBars() {
            return {};
          },
          async importCsv() {
            return {};
          },
          async *getBars() {},
        }),
      ],
    });
    const bPort = await b.listen(0, '127.0.0.1');
    toB = createGrpcClient(IngestionService, `127.0.0.1:${bPort}`);
    a = createGrpcServer({
      services: [
        implement(PredictionService, {
          // Answers at once; the model name says how the background work is started.
          predict(request) {
            const work = request.modelName === 'detached' ? detached(background) : background();
            outcomes.set(request.symbol, work);
            return { prediction: { symbol: request.symbol } };
          },
          predictBatch: () => ({}),
          async *streamPredictions() {},
          async *watchPredictions() {},
        }),
      ],
    });
    const aPort = await a.listen(0, '127.0.0.1');
    aClient = createGrpcClient(PredictionService, `127.0.0.1:${aPort}`);
    await Promise.all([aClient.waitForReady(5_000), toB.waitForReady(5_000)]);
  });

  after(async () => {
    aClient?.close();
    toB?.close();
    await a?.stop(1_000);
    await b?.stop(1_000);
    await stopTracing();
  });

  it('calls made after the caller’s deadline succeed, with their own timeout, in the caller’s trace', async () => {
    exported.reset();
    bDeadlines.length = 0;
    const started = Date.now();
    await aClient.predict({ symbol: 'DETACHED', modelName: 'detached' }, { timeoutMs: CALLER_DEADLINE_MS });
    const outcome = await outcomes.get('DETACHED')!;
    assert.ok(outcome.calledAt > started + CALLER_DEADLINE_MS, 'B was called after the caller’s deadline');
    assert.equal(outcome.callInScope, false, 'no call is in scope for detached work');
    assert.equal(outcome.code, undefined, `B's answer, not status ${outcome.code}`);
    assert.equal(outcome.answer, 'NABIL');
    // B saw the client's own default timeout (10 s), not a deadline derived from A's caller.
    assert.ok(bDeadlines[0] !== undefined && bDeadlines[0] > outcome.calledAt + 5_000, 'B saw the default timeout');

    const spans = exported.getFinishedSpans();
    const served = spans.find((s) => s.name.endsWith('PredictionService/Predict') && s.kind === 1 /* SERVER */);
    const toBSpan = spans.find((s) => s.name.endsWith('IngestionService/ListSymbols') && s.kind === 2 /* CLIENT */);
    assert.ok(served && toBSpan, 'both spans were recorded');
    assert.equal(toBSpan.spanContext().traceId, served.spanContext().traceId, 'the background call is in the request’s trace');
  });

  it('without it the same work inherits the ended call and fails with DEADLINE_EXCEEDED', async () => {
    await aClient.predict({ symbol: 'INHERITED', modelName: 'inherited' }, { timeoutMs: CALLER_DEADLINE_MS });
    const outcome = await outcomes.get('INHERITED')!;
    assert.equal(outcome.callInScope, true);
    assert.equal(outcome.code, grpc.status.DEADLINE_EXCEEDED);
  });

  it('returns what the function returns and leaves the caller’s scope as it was', () => {
    const call = {
      method: '/x.Y/Z',
      metadata: new grpc.Metadata(),
      deadline: Date.now() + 1_000,
      signal: new AbortController().signal,
      peer: 'test',
    };
    runInCall(call, () => {
      assert.equal(
        detached(() => currentCall()),
        undefined,
      );
      assert.equal(
        detached(() => 42),
        42,
      );
      assert.equal(currentCall(), call);
    });
  });
});
