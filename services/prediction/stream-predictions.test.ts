import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { FeatureVectorSchema } from '../../gen/nepse/feature/v1/feature_pb.js';
import {
  StreamPredictionsRequestSchema,
  type StreamPredictionsRequest,
  type StreamPredictionsResponse,
} from '../../gen/nepse/prediction/v1/prediction_pb.js';
import type { CallContext } from '../../lib/grpc/index.js';
import { detailsOf, grpc } from '../../lib/grpc/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { Batcher } from './batcher.js';
import { FeatureCache } from './feature-cache.js';
import { FeatureSource } from './feature-source.js';
import { openLinear, TEST_WIDTH } from '../../testing/inference-models.js';
import { predictionMetrics } from './metrics.js';
import { infer, ModelCache, type LoadedModel } from './model-cache.js';
import type { PredictionDeps } from './predict.js';
import type { PredictionEvents } from './prediction-events.js';
import { streamPredictions } from './stream-predictions.js';

const WINDOW = 32;
const logger = createLogger('stream-test', 'silent');

/**
 * The prediction path with a real model, batcher and feature cache, and nothing remote: the
 * vectors are held fresh in the cache (so the feature service is never asked) and events are not
 * published. What is under test is the stream's flow control above them.
 */
async function localDeps(): Promise<{ deps: PredictionDeps; model: LoadedModel }> {
  const metrics = predictionMetrics();
  const models = new ModelCache();
  const model = await openLinear('local', 1, 0.001);
  models.activate(model);
  models.markReady();
  const cache = new FeatureCache({ freshMs: 3_600_000, logger, metrics });
  for (const symbol of ['NABIL', 'NICA']) {
    cache.remember(
      create(FeatureVectorSchema, {
        symbol,
        date: { year: 2024, month: 5, day: 2 },
        featureSet: { name: 'ohlcv', version: 1 },
        values: Array.from({ length: TEST_WIDTH }, (_, i) => i / 100),
        close: 500,
      }),
    );
  }
  const unusedClient = new Proxy({}, { get: () => () => assert.fail('the feature service must not be asked') });
  const features = new FeatureSource({
    client: unusedClient as never,
    policy: { execute: () => assert.fail('no feature call') } as never,
    timeoutMs: 500,
    cache,
    logger,
    metrics,
  });
  const events = { made() {} } as unknown as PredictionEvents;
  const batcher = new Batcher<LoadedModel>({ infer, maxBatch: 64, maxQueueDelayMs: 0.1 });
  return { deps: { models, features, batcher, events, defaultModel: undefined, metrics, logger }, model };
}

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

const context = (signal = new AbortController().signal): CallContext => ({
  method: '/test',
  metadata: new grpc.Metadata(),
  deadline: undefined,
  signal,
  peer: 'test',
});

describe('StreamPredictions flow control', () => {
  let deps: PredictionDeps;
  let model: LoadedModel;

  before(async () => {
    ({ deps, model } = await localDeps());
  });

  after(async () => {
    await model.session.release();
  });

  it('reads no more than its window ahead of a client that does not read its answers', async () => {
    let pulled = 0;
    async function* requests(): AsyncGenerator<StreamPredictionsRequest> {
      for (let i = 0; i < 1_000; i++) {
        pulled++;
        yield create(StreamPredictionsRequestSchema, { requestId: `r-${i}`, symbol: i % 2 ? 'NABIL' : 'NICA' });
      }
    }
    const responses = streamPredictions(deps, requests(), context(), WINDOW);
    const first = await responses.next(); // the client reads one answer, then stops reading
    assert.equal(first.done, false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(pulled <= WINDOW + 2, `${pulled} requests read while the client held ${WINDOW} unread answers`);

    const seen = new Set<string>([(first.value as StreamPredictionsResponse).requestId]);
    for await (const response of responses) {
      assert.equal(response.outcome.case, 'prediction');
      seen.add(response.requestId);
    }
    assert.equal(pulled, 1_000);
    assert.equal(seen.size, 1_000, 'each request answered once');
  });

  it('answers a bad request in its own response and goes on', async () => {
    const requests = [
      create(StreamPredictionsRequestSchema, { requestId: 'a', symbol: 'NABIL' }),
      create(StreamPredictionsRequestSchema, { requestId: 'b', symbol: '??' }),
      create(StreamPredictionsRequestSchema, { requestId: 'c', symbol: 'UNKNOWN', modelName: 'nope' }),
      create(StreamPredictionsRequestSchema, { requestId: 'd', symbol: 'NICA' }),
    ];
    const out = new Map<string, StreamPredictionsResponse>();
    for await (const response of streamPredictions(deps, fromArray(requests), context(), WINDOW)) out.set(response.requestId, response);
    assert.deepEqual([...out.keys()].sort(), ['a', 'b', 'c', 'd']);
    assert.equal(out.get('a')!.outcome.case, 'prediction');
    assert.equal(out.get('d')!.outcome.case, 'prediction');
    const b = out.get('b')!.outcome;
    assert.ok(b.case === 'error' && b.value.code === grpc.status.INVALID_ARGUMENT);
    const c = out.get('c')!.outcome;
    assert.ok(c.case === 'error' && c.value.code === grpc.status.NOT_FOUND);
  });

  it('answers a request of several symbols with one result per symbol, in order, each with its own outcome', async () => {
    const requests = [
      create(StreamPredictionsRequestSchema, { requestId: 'many', symbols: ['NICA', 'bad symbol', 'NABIL', 'NICA'] }),
      create(StreamPredictionsRequestSchema, { requestId: 'both', symbol: 'NABIL', symbols: ['NICA'] }),
      create(StreamPredictionsRequestSchema, { requestId: 'too-many', symbols: Array.from({ length: 1_001 }, () => 'NABIL') }),
      create(StreamPredictionsRequestSchema, { requestId: 'one', symbol: 'NICA' }),
    ];
    const out = new Map<string, StreamPredictionsResponse>();
    for await (const response of streamPredictions(deps, fromArray(requests), context(), WINDOW)) out.set(response.requestId, response);
    const many = out.get('many')!;
    assert.equal(many.outcome.case, undefined);
    assert.deepEqual(
      many.results.map((r) => [r.symbol, r.outcome.case]),
      [
        ['NICA', 'prediction'],
        ['bad symbol', 'error'],
        ['NABIL', 'prediction'],
        ['NICA', 'prediction'],
      ],
    );
    const bad = many.results[1].outcome;
    assert.ok(bad.case === 'error' && bad.value.code === grpc.status.INVALID_ARGUMENT);
    const single = out.get('one')!.outcome;
    assert.ok(single.case === 'prediction');
    const nica = many.results[0].outcome;
    assert.ok(
      nica.case === 'prediction' && nica.value.predictedReturn === single.value.predictedReturn,
      'the same vector and model give the same number either way',
    );
    for (const [id, field] of [
      ['both', 'symbol'],
      ['too-many', 'symbols'],
    ] as const) {
      const outcome = out.get(id)!.outcome;
      assert.ok(outcome.case === 'error' && outcome.value.code === grpc.status.INVALID_ARGUMENT, id);
      assert.equal(detailsOf(outcome.value).fieldViolations[0]?.field, field, id);
      assert.equal(out.get(id)!.results.length, 0);
    }
  });

  it('ends when the call is cancelled, without waiting for the rest of the requests', async () => {
    const controller = new AbortController();
    async function* endless(): AsyncGenerator<StreamPredictionsRequest> {
      for (let i = 0; ; i++) {
        if (controller.signal.aborted) throw new Error('cancelled');
        yield create(StreamPredictionsRequestSchema, { requestId: String(i), symbol: 'NABIL' });
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    let answered = 0;
    setTimeout(() => controller.abort(), 50);
    for await (const _ of streamPredictions(deps, endless(), context(controller.signal), WINDOW)) answered++;
    assert.ok(answered > 0);
  });
});
