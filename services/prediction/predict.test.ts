import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { PredictionsMadeSchema, type PredictionMade } from '../../gen/nepse/events/v1/events_pb.js';
import type { Prediction, StreamPredictionsRequestSchema, StreamPredictionsResponse } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { grpc, statusDetails } from '../../lib/grpc/index.js';
import { dayOf, toProtoDate } from '../../lib/market/index.js';
import { startPredictionBed, type PredictionBed } from '../../testing/prediction-bed.js';
import { metricValue } from '../../testing/index.js';

const SYMBOLS = ['NABIL', 'NICA', 'SCB', 'HBL', 'EBL', 'ADBL', 'NTC', 'UPPER'];

/** The code and named field (or resource) of a failed call. */
async function failure(call: Promise<unknown>): Promise<{ code?: number; field?: string; resource?: string; message: string }> {
  try {
    await call;
  } catch (error) {
    const details = statusDetails(error);
    return {
      code: details?.code ?? (error as { code?: number }).code,
      field: details?.fieldViolations[0]?.field,
      resource: details?.resource ? `${details.resource.type}:${details.resource.name}` : undefined,
      message: details?.message ?? String(error),
    };
  }
  assert.fail('the call succeeded');
}

/** What two predictions must share to be "the same prediction" (ids and times differ by design). */
const essence = (p: Prediction) => ({
  symbol: p.symbol,
  date: dayOf(p.featureDate),
  ret: p.predictedReturn,
  close: p.predictedClose,
  base: p.baseClose,
  model: `${p.modelName}/${p.modelVersion}`,
  degraded: p.degraded,
});

describe('prediction service: Predict, PredictBatch, micro-batching, streams, events', () => {
  let bed: PredictionBed;
  let session: InferenceSession;
  const made: PredictionMade[] = [];

  before(async () => {
    bed = await startPredictionBed({ symbols: SYMBOLS, env: { PREDICTION_HEARTBEAT_MS: '200' } });
    session = await InferenceSession.create(bed.model.bytes);
    const sub = bed.bus.nc.subscribe('nepse.v1.predictions.made.>');
    void (async () => {
      for await (const m of sub) made.push(...fromBinary(PredictionsMadeSchema, m.data).predictions);
    })();
  });

  after(async () => {
    await session?.release();
    await bed?.stop();
  });

  it('Predict answers close · exp(model output) for the latest vector, as running the ONNX model by hand does', async () => {
    for (const symbol of SYMBOLS.slice(0, 3)) {
      const { prediction } = await bed.client.predict({ symbol: symbol.toLowerCase() });
      const vector = (await bed.features.getFeatures({ symbol })).vector!;
      const byHand = await session.run({ features: new Tensor('float32', Float32Array.from(vector.values), [1, vector.values.length]) });
      const expected = (byHand.log_return.data as Float32Array)[0];
      assert.equal(prediction!.symbol, symbol);
      assert.equal(prediction!.predictedReturn, expected);
      assert.equal(prediction!.baseClose, vector.close);
      assert.equal(prediction!.predictedClose, vector.close * Math.exp(expected));
      assert.equal(dayOf(prediction!.featureDate), bed.bars.get(symbol)!.at(-1)!.date);
      assert.equal(prediction!.modelName, bed.model.name);
      assert.equal(prediction!.modelVersion, bed.model.version);
      assert.equal(prediction!.degraded, false);
      assert.ok(prediction!.predictionId.length > 0 && prediction!.predictedAt);
    }
  });

  it('Predict takes an as-of day and a pinned version', async () => {
    const day = bed.bars.get('NABIL')!.at(-5)!.date;
    const { prediction } = await bed.client.predict({
      symbol: 'NABIL',
      asOf: toProtoDate(day),
      modelName: bed.model.name,
      modelVersion: bed.model.version,
    });
    assert.equal(dayOf(prediction!.featureDate), day);
    const vector = (await bed.features.getFeatures({ symbol: 'NABIL', asOf: toProtoDate(day) })).vector!;
    assert.equal(prediction!.baseClose, vector.close);
  });

  it('PredictBatch equals N Predicts, in request order, in one inference run', async () => {
    const runsBefore = bed.prediction.batcher.stats().runs;
    const { results } = await bed.client.predictBatch({ symbols: SYMBOLS });
    assert.equal(bed.prediction.batcher.stats().runs - runsBefore, 1, 'one inference run');
    assert.deepEqual(
      results.map((r) => r.symbol),
      SYMBOLS,
    );
    for (const result of results) {
      assert.equal(result.outcome.case, 'prediction');
      const single = (await bed.client.predict({ symbol: result.symbol })).prediction!;
      assert.deepEqual(essence(result.outcome.value as Prediction), essence(single));
    }
  });

  it('PredictBatch fails only the entries that fail', async () => {
    const { results } = await bed.client.predictBatch({ symbols: ['NABIL', 'not a symbol', 'NOSUCH', 'NICA'] });
    assert.deepEqual(
      results.map((r) => r.outcome.case),
      ['prediction', 'error', 'error', 'prediction'],
    );
    const invalid = results[1].outcome.value as { code: number; message: string };
    assert.equal(invalid.code, grpc.status.INVALID_ARGUMENT);
    assert.match(invalid.message, /symbols\[1\]/);
    assert.equal((results[2].outcome.value as { code: number }).code, grpc.status.NOT_FOUND);
  });

  it('bad input gets the right status naming the field or resource', async () => {
    const badSymbol = await failure(bed.client.predict({ symbol: 'no such symbol!' }));
    assert.deepEqual([badSymbol.code, badSymbol.field], [grpc.status.INVALID_ARGUMENT, 'symbol']);
    const empty = await failure(bed.client.predict({ symbol: '' }));
    assert.deepEqual([empty.code, empty.field], [grpc.status.INVALID_ARGUMENT, 'symbol']);
    const unknownSymbol = await failure(bed.client.predict({ symbol: 'NOSUCH' }));
    assert.deepEqual([unknownSymbol.code, unknownSymbol.resource], [grpc.status.NOT_FOUND, 'symbol:NOSUCH']);
    const unknownModel = await failure(bed.client.predict({ symbol: 'NABIL', modelName: 'no-such-model' }));
    assert.deepEqual([unknownModel.code, unknownModel.resource], [grpc.status.NOT_FOUND, 'model:no-such-model']);
    const badModel = await failure(bed.client.predict({ symbol: 'NABIL', modelName: 'Bad Name' }));
    assert.deepEqual([badModel.code, badModel.field], [grpc.status.INVALID_ARGUMENT, 'model_name']);
    const notLoaded = await failure(bed.client.predict({ symbol: 'NABIL', modelName: bed.model.name, modelVersion: 99 }));
    assert.equal(notLoaded.code, grpc.status.FAILED_PRECONDITION);
    const badDate = await failure(bed.client.predict({ symbol: 'NABIL', asOf: { year: 2024, month: 2, day: 30 } }));
    assert.deepEqual([badDate.code, badDate.field], [grpc.status.INVALID_ARGUMENT, 'as_of']);
    const noSession = await failure(bed.client.predict({ symbol: 'NABIL', asOf: toProtoDate('2024-01-02') }));
    assert.equal(noSession.code, grpc.status.NOT_FOUND, 'a day inside the warm-up has no vector');
    const emptyBatch = await failure(bed.client.predictBatch({ symbols: [] }));
    assert.deepEqual([emptyBatch.code, emptyBatch.field], [grpc.status.INVALID_ARGUMENT, 'symbols']);
    const hugeBatch = await failure(bed.client.predictBatch({ symbols: Array.from({ length: 1001 }, () => 'NABIL') }));
    assert.deepEqual([hugeBatch.code, hugeBatch.field], [grpc.status.INVALID_ARGUMENT, 'symbols']);
  });

  it('reuses the output of a vector it has scored, and scores a new vector of the symbol anew', async () => {
    const first = (await bed.client.predict({ symbol: 'HBL' })).prediction!;
    const runs = bed.prediction.batcher.stats().runs;
    for (let i = 0; i < 5; i++) assert.deepEqual(essence((await bed.client.predict({ symbol: 'HBL' })).prediction!), essence(first));
    assert.equal(bed.prediction.batcher.stats().runs, runs, 'the same vector and model: no inference run');
    const reused = await metricValue(bed.prediction.metricsPort, 'nepse_prediction_outputs_reused_total', { model: bed.model.name });
    assert.ok(reused >= 5, `nepse_prediction_outputs_reused_total ${reused}`);

    const bar = await bed.addBar('HBL');
    let next = (await bed.client.predict({ symbol: 'HBL' })).prediction!;
    for (let i = 0; dayOf(next.featureDate) !== bar.date && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      next = (await bed.client.predict({ symbol: 'HBL' })).prediction!;
    }
    assert.equal(dayOf(next.featureDate), bar.date);
    assert.ok(bed.prediction.batcher.stats().runs > runs, 'the new vector was run through the model');
    const vector = (await bed.features.getFeatures({ symbol: 'HBL' })).vector!;
    const byHand = await session.run({ features: new Tensor('float32', Float32Array.from(vector.values), [1, vector.values.length]) });
    assert.equal(next.predictedReturn, (byHand.log_return.data as Float32Array)[0]);
    assert.notEqual(next.predictedReturn, first.predictedReturn);
  });

  it('micro-batches 64 concurrent Predicts into fewer inference runs, with the same answers as one at a time', async () => {
    // Vectors of an earlier day are fetched for each request, never reused: every request reaches the batcher.
    const asOf = (symbol: string) => toProtoDate(bed.bars.get(symbol)!.at(-3)!.date);
    const symbols = Array.from({ length: 64 }, (_, i) => SYMBOLS[i % SYMBOLS.length]);
    const alone = new Map<string, ReturnType<typeof essence>>();
    for (const symbol of SYMBOLS) alone.set(symbol, essence((await bed.client.predict({ symbol, asOf: asOf(symbol) })).prediction!));
    const before = bed.prediction.batcher.stats();
    let rounds = 0;
    for (; rounds < 5; rounds++) {
      const answers = await Promise.all(symbols.map((symbol) => bed.client.predict({ symbol, asOf: asOf(symbol) })));
      for (const { prediction } of answers) assert.deepEqual(essence(prediction!), alone.get(prediction!.symbol));
    }
    const after = bed.prediction.batcher.stats();
    const requests = after.requests - before.requests;
    const runs = after.runs - before.runs;
    assert.equal(requests, 64 * rounds);
    assert.ok(runs < requests / 4, `${runs} inference runs for ${requests} requests`);
    console.log(
      `# micro-batching: ${requests} concurrent Predicts in ${runs} inference runs (${(requests / runs).toFixed(1)} rows per run)`,
    );
  });

  it('StreamPredictions answers 1,000 requests with their ids; an invalid one gets its error and the stream goes on', async () => {
    const requests: Array<MessageInitShape<typeof StreamPredictionsRequestSchema>> = Array.from({ length: 1000 }, (_, i) => ({
      requestId: `r-${i}`,
      symbol: SYMBOLS[i % SYMBOLS.length],
    }));
    requests[500] = { requestId: 'r-500', symbol: 'not valid!' };
    requests[700] = { requestId: 'r-700', symbol: 'NABIL', modelName: 'no-such-model' };
    const answers = new Map<string, StreamPredictionsResponse['outcome']>();
    const started = performance.now();
    for await (const response of bed.client.streamPredictions(requests)) {
      assert.ok(!answers.has(response.requestId), `one answer per request (${response.requestId})`);
      answers.set(response.requestId, response.outcome);
    }
    const ms = performance.now() - started;
    assert.equal(answers.size, 1000);
    for (let i = 0; i < 1000; i++) assert.ok(answers.has(`r-${i}`), `r-${i} answered`);
    const bad = answers.get('r-500')!;
    assert.equal(bad.case, 'error');
    assert.equal((bad.value as { code: number }).code, grpc.status.INVALID_ARGUMENT);
    assert.equal((answers.get('r-700')!.value as { code: number }).code, grpc.status.NOT_FOUND);
    const good = [...answers.values()].filter((a) => a.case === 'prediction');
    assert.equal(good.length, 998);
    console.log(`# StreamPredictions: 1,000 requests answered in ${ms.toFixed(0)} ms`);
  });

  it('StreamPredictions refuses an over-long request_id in that response only', async () => {
    const out = [];
    for await (const response of bed.client.streamPredictions([
      { requestId: 'x'.repeat(101), symbol: 'NABIL' },
      { requestId: 'ok', symbol: 'NABIL' },
    ]))
      out.push(response);
    const byId = new Map(out.map((r) => [r.requestId, r]));
    assert.equal(byId.get('x'.repeat(101))?.outcome.case, 'error');
    assert.equal(byId.get('ok')?.outcome.case, 'prediction');
  });

  it('WatchPredictions pushes a fresh prediction when a new bar brings new features, and heartbeats meanwhile', async () => {
    const controller = new AbortController();
    const seen: Prediction[] = [];
    let heartbeats = 0;
    let current: Prediction | undefined;
    const watching = (async () => {
      try {
        for await (const message of bed.client.watchPredictions(
          { symbols: ['NICA', 'SCB'], includeCurrent: true },
          { signal: controller.signal },
        )) {
          if (message.kind.case === 'heartbeat') heartbeats++;
          else if (message.kind.case === 'prediction') {
            if (!current) current = message.kind.value;
            seen.push(message.kind.value);
          }
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
    })();
    const wait = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!ok()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await wait('the current predictions', () => seen.length >= 2);
    assert.deepEqual(new Set(seen.map((p) => p.symbol)), new Set(['NICA', 'SCB']));
    await wait('a heartbeat', () => heartbeats > 0);
    const bar = await bed.addBar('NICA');
    await wait('the fresh prediction', () => seen.some((p) => p.symbol === 'NICA' && dayOf(p.featureDate) === bar.date));
    const fresh = seen.find((p) => p.symbol === 'NICA' && dayOf(p.featureDate) === bar.date)!;
    assert.equal(fresh.baseClose, bar.close);
    const asked = (await bed.client.predict({ symbol: 'NICA' })).prediction!;
    assert.deepEqual(essence(fresh), essence(asked));
    controller.abort();
    await watching;
  });

  it('WatchPredictions refuses bad input', async () => {
    const read = async (request: Parameters<typeof bed.client.watchPredictions>[0]) => {
      for await (const _ of bed.client.watchPredictions(request, { timeoutMs: 2_000 })) break;
    };
    const none = await failure(read({ symbols: [] }));
    assert.deepEqual([none.code, none.field], [grpc.status.INVALID_ARGUMENT, 'symbols']);
    const bad = await failure(read({ symbols: ['NABIL', 'bad symbol'] }));
    assert.deepEqual([bad.code, bad.field], [grpc.status.INVALID_ARGUMENT, 'symbols[1]']);
    const model = await failure(read({ symbols: ['NABIL'], modelName: 'no-such-model' }));
    assert.deepEqual([model.code, model.resource], [grpc.status.NOT_FOUND, 'model:no-such-model']);
  });

  it('every prediction is published in PredictionsMade with its numbers, latency and feature vector', async () => {
    const { prediction } = await bed.client.predict({ symbol: 'EBL' });
    const deadline = Date.now() + 10_000;
    let event: PredictionMade | undefined;
    while (!(event = made.find((e) => e.predictionId === prediction!.predictionId)) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(event, 'PredictionMade arrived');
    assert.equal(event.symbol, 'EBL');
    assert.equal(event.modelName, bed.model.name);
    assert.equal(event.modelVersion, bed.model.version);
    assert.equal(event.predictedReturn, prediction!.predictedReturn);
    assert.equal(event.predictedClose, prediction!.predictedClose);
    assert.equal(dayOf(event.featureDate), dayOf(prediction!.featureDate));
    assert.equal(event.instanceId, 'bed-0');
    assert.ok(event.latencyMs > 0 && event.latencyMs < 1_000, `latency ${event.latencyMs} ms`);
    const { vector } = await bed.features.getFeatures({ symbol: 'EBL' });
    assert.deepEqual(event.features, vector!.values, 'the vector the model was given');
    assert.equal(bed.prediction.predictionEvents.stats().dropped, 0);
  });
});
