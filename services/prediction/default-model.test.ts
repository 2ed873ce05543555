/**
 * Which model answers a request that names none (prediction.proto, PredictionService): the
 * configured PREDICTION_DEFAULT_MODEL, or the one name in Production; never a silent pick among
 * several, which used to switch algorithm the moment another name was promoted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { grpc, statusDetails } from '../../lib/grpc/index.js';
import { dayOf } from '../../lib/market/index.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';
import { ModelCache } from './model-cache.js';
import { resolveModel } from './predict.js';
import { startPredictionBed, WIDTH, type PredictionBed } from '../../testing/prediction-bed.js';

const SYMBOLS = ['NABIL', 'NICA'];
/** Sorts after OTHER, so "the first by name" would have been OTHER once both serve. */
const FIRST = 'zeta-linear';
const OTHER = 'alpha-linear';

/** Status code, reason and message of a failed call. */
async function refusal(call: Promise<unknown>): Promise<{ code?: number; reason?: string; message: string }> {
  const error = await call.then(
    () => assert.fail('the call succeeded'),
    (e: unknown) => e,
  );
  const details = statusDetails(error);
  return { code: details?.code ?? (error as { code?: number }).code, reason: details?.reason, message: details?.message ?? String(error) };
}

/** Registers another model name in the bed's registry, promotes it, and waits until the service serves it. */
async function promoteOther(bed: PredictionBed): Promise<void> {
  const bytes = linearModel({ width: WIDTH, weights: Array.from({ length: WIDTH }, () => 0), bias: 0.02 });
  const { modelVersion } = await bed.registry.registerModel(registerRequests(registrationFor(OTHER, WIDTH), bytes));
  await bed.registry.transitionStage({
    name: OTHER,
    version: modelVersion!.version,
    targetStage: Stage.PRODUCTION,
    actor: 'test',
    reason: 'a second algorithm',
  });
  await waitFor(
    () =>
      bed.client.predict({ symbol: 'NABIL', modelName: OTHER }).then(
        (r) => r.prediction,
        () => undefined,
      ),
    `${OTHER} to serve`,
    { timeoutMs: 30_000 },
  );
}

describe('the default model, with no PREDICTION_DEFAULT_MODEL', { timeout: 180_000 }, () => {
  let bed: PredictionBed;

  before(async () => {
    bed = await startPredictionBed({ symbols: SYMBOLS, barsPerSymbol: 60, modelName: FIRST, env: { PREDICTION_HEARTBEAT_MS: '200' } });
  });
  after(async () => {
    await bed?.stop();
  });

  it('is the one name in Production, and the answer says so; a second name makes it ambiguous on every RPC, never a switch', async () => {
    const implicit = (await bed.client.predict({ symbol: 'NABIL' })).prediction!;
    assert.deepEqual([implicit.modelName, implicit.modelVersion, implicit.defaultModelUsed], [FIRST, bed.model.version, true]);
    const named = (await bed.client.predict({ symbol: 'NABIL', modelName: FIRST })).prediction!;
    assert.deepEqual([named.modelName, named.defaultModelUsed], [FIRST, false]);
    const batch = (await bed.client.predictBatch({ symbols: SYMBOLS })).results;
    assert.deepEqual(
      batch.map((r) => r.outcome.case === 'prediction' && [r.outcome.value.modelName, r.outcome.value.defaultModelUsed]),
      [
        [FIRST, true],
        [FIRST, true],
      ],
    );

    // A watch that names no model, started now, stays on the model it started with.
    const controller = new AbortController();
    const watched: Prediction[] = [];
    const watching = (async () => {
      try {
        for await (const m of bed.client.watchPredictions({ symbols: ['NICA'], includeCurrent: true }, { signal: controller.signal })) {
          if (m.kind.case === 'prediction') watched.push(m.kind.value);
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
    })();
    try {
      await waitFor(() => watched.length > 0, 'the current prediction of the watch');

      await promoteOther(bed);

      const predict = await refusal(bed.client.predict({ symbol: 'NABIL' }));
      assert.equal(predict.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(predict.reason, 'DEFAULT_MODEL_AMBIGUOUS');
      assert.match(
        predict.message,
        new RegExp(`2 models are in Production \\(${OTHER}, ${FIRST}\\); name one in model_name, or configure PREDICTION_DEFAULT_MODEL`),
      );
      assert.equal((await refusal(bed.client.predictBatch({ symbols: SYMBOLS }))).reason, 'DEFAULT_MODEL_AMBIGUOUS');
      const [streamed] = await Array.fromAsync(bed.client.streamPredictions([{ requestId: 'r1', symbol: 'NABIL' }]));
      assert.equal(streamed.outcome.case === 'error' && streamed.outcome.value.code, grpc.status.FAILED_PRECONDITION);
      const watch = await refusal(
        (async () => {
          for await (const _ of bed.client.watchPredictions({ symbols: ['NABIL'] }, { timeoutMs: 2_000 })) break;
        })(),
      );
      assert.equal(watch.reason, 'DEFAULT_MODEL_AMBIGUOUS');
      // Naming either model still works, and says it was named.
      for (const modelName of [OTHER, FIRST]) {
        const p = (await bed.client.predict({ symbol: 'NABIL', modelName })).prediction!;
        assert.deepEqual([p.modelName, p.defaultModelUsed], [modelName, false]);
      }

      const bar = await bed.addBar('NICA');
      const fresh = await waitFor(() => watched.find((p) => dayOf(p.featureDate) === bar.date), 'the fresh prediction of the watch');
      assert.deepEqual([fresh.modelName, fresh.defaultModelUsed], [FIRST, true], 'the open watch kept its model');
    } finally {
      controller.abort();
      await watching;
    }
  });
});

describe('the default model, configured', { timeout: 180_000 }, () => {
  let bed: PredictionBed;

  before(async () => {
    bed = await startPredictionBed({ symbols: SYMBOLS, barsPerSymbol: 60, modelName: FIRST, env: { PREDICTION_DEFAULT_MODEL: FIRST } });
  });
  after(async () => {
    await bed?.stop();
  });

  it('answers requests that name no model whatever else is promoted', async () => {
    await promoteOther(bed);
    const p = (await bed.client.predict({ symbol: 'NABIL' })).prediction!;
    assert.deepEqual([p.modelName, p.modelVersion, p.defaultModelUsed], [FIRST, bed.model.version, true]);
    const [result] = (await bed.client.predictBatch({ symbols: ['NICA'] })).results;
    assert.deepEqual(result.outcome.case === 'prediction' && [result.outcome.value.modelName, result.outcome.value.defaultModelUsed], [
      FIRST,
      true,
    ]);
  });
});

describe('resolveModel without a usable default', () => {
  it('a configured default with no Production version is FAILED_PRECONDITION naming it, as is an empty instance', () => {
    const models = new ModelCache();
    models.markReady();
    assert.throws(
      () => resolveModel({ models, defaultModel: 'nepse-gbrt' }, ''),
      (error: Error & { code?: number; reason?: string }) => {
        assert.equal(error.code, grpc.status.FAILED_PRECONDITION);
        assert.equal(error.reason, 'NO_MODEL_LOADED');
        assert.match(
          error.message,
          /the default model nepse-gbrt \(PREDICTION_DEFAULT_MODEL\) has no version in Production; name a model in model_name/,
        );
        return true;
      },
    );
    assert.throws(() => resolveModel({ models, defaultModel: undefined }, ''), /no model is in Production/);
  });
});
