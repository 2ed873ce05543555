import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelWithdrawnSchema, type ModelWithdrawn } from '../../gen/nepse/events/v1/events_pb.js';
import { Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { grpc } from '../../lib/grpc/index.js';
import { waitFor } from '../../lib/events/testing.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';
import { startPredictionBed, WIDTH, type PredictionBed } from '../../testing/prediction-bed.js';

const SYMBOLS = ['NABIL', 'NICA', 'SCB', 'HBL', 'EBL', 'ADBL'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  started: number;
  ended: number;
  version?: number;
  symbol?: string;
  predictedReturn?: number;
  error?: unknown;
}

describe('swapping the served version', () => {
  let bed: PredictionBed;

  before(async () => {
    bed = await startPredictionBed({ symbols: SYMBOLS });
  });

  after(async () => {
    await bed?.stop();
  });

  it('fails no request while the promoted version is swapped in, and answers with it from then on', async () => {
    const answers: Answer[] = [];
    let running = true;
    const workers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; running; i += 16) {
        const started = performance.now();
        try {
          if (i % 5 === 0) {
            const { results } = await bed.client.predictBatch({ symbols: SYMBOLS }, { timeoutMs: 5_000 });
            for (const r of results) {
              if (r.outcome.case === 'prediction')
                answers.push({
                  started,
                  ended: performance.now(),
                  version: r.outcome.value.modelVersion,
                  symbol: r.symbol,
                  predictedReturn: r.outcome.value.predictedReturn,
                });
              else answers.push({ started, ended: performance.now(), error: r.outcome.value });
            }
          } else {
            const { prediction } = await bed.client.predict({ symbol: SYMBOLS[i % SYMBOLS.length] }, { timeoutMs: 5_000 });
            answers.push({
              started,
              ended: performance.now(),
              version: prediction!.modelVersion,
              symbol: prediction!.symbol,
              predictedReturn: prediction!.predictedReturn,
            });
          }
        } catch (error) {
          answers.push({ started, ended: performance.now(), error });
        }
      }
    });

    await sleep(500);
    const weights = Array.from({ length: WIDTH }, (_, i) => 0.0002 * ((i % 3) - 1));
    const v2Bytes = linearModel({ width: WIDTH, weights, bias: -0.001 });
    const registered = await bed.registry.registerModel(registerRequests(registrationFor(bed.model.name, WIDTH), v2Bytes));
    const v2 = registered.modelVersion!.version;
    await bed.registry.transitionStage({
      name: bed.model.name,
      version: v2,
      targetStage: Stage.PRODUCTION,
      actor: 'test',
      reason: 'hot swap under load',
    });
    const deadline = Date.now() + 30_000;
    while (!answers.some((a) => a.version === v2)) {
      assert.ok(Date.now() < deadline, 'the new version answered within 30 s');
      await sleep(20);
    }
    const firstV2 = Math.min(...answers.filter((a) => a.version === v2).map((a) => a.ended));
    await sleep(700);
    running = false;
    await Promise.all(workers);

    assert.deepEqual(
      answers.filter((a) => a.error).map((a) => String(a.error)),
      [],
      'no request failed',
    );
    const before = answers.filter((a) => a.ended < firstV2);
    const after = answers.filter((a) => a.started > firstV2 + 50);
    assert.ok(
      before.length > 100 && before.every((a) => a.version === bed.model.version),
      `${before.length} answers from v${bed.model.version} before the swap`,
    );
    assert.ok(after.length > 100 && after.every((a) => a.version === v2), `${after.length} answers, all from v${v2}, after it`);

    // The swapped-in version answers with its own numbers.
    const session = await InferenceSession.create(v2Bytes);
    try {
      const vector = (await bed.features.getFeatures({ symbol: 'NABIL' })).vector!;
      const out = await session.run({ features: new Tensor('float32', Float32Array.from(vector.values), [1, WIDTH]) });
      const expected = (out.log_return.data as Float32Array)[0];
      assert.ok(after.filter((a) => a.symbol === 'NABIL').every((a) => a.predictedReturn === expected));
    } finally {
      await session.release();
    }
    console.log(
      `# hot swap v${bed.model.version} → v${v2}: ${answers.length} answers, none failed (${before.length} before, ${after.length} after the first v${v2} answer)`,
    );
  });

  it('stops answering from a version taken out of Production by hand, and answers again once it is promoted', async () => {
    const production = (await bed.registry.getModel({ name: bed.model.name, selector: { case: 'stage', value: Stage.PRODUCTION } }))
      .modelVersion!.version;
    const withdrawals: ModelWithdrawn[] = [];
    const subscription = bed.bus.nc.subscribe('nepse.v1.models.withdrawn.>', {
      callback: (error, m) => error || withdrawals.push(fromBinary(ModelWithdrawnSchema, m.data)),
    });
    try {
      await bed.registry.transitionStage({
        name: bed.model.name,
        version: production,
        targetStage: Stage.ARCHIVED,
        actor: 'operator',
        reason: 'bad predictions',
      });
      const refused = await waitFor(
        () =>
          bed.client.predict({ symbol: 'NABIL' }).then(
            () => undefined,
            (error: { code?: number; message?: string }) => error,
          ),
        'Predict to refuse the withdrawn model',
      );
      assert.equal(refused.code, grpc.status.FAILED_PRECONDITION);
      assert.match(refused.message ?? '', /no model is in Production/);
      const [event] = await waitFor(() => (withdrawals.length ? withdrawals : undefined), 'ModelWithdrawn');
      assert.deepEqual(
        [event.name, event.version, event.stage, event.actor, event.reason],
        [bed.model.name, production, Stage.ARCHIVED, 'operator', 'bad predictions'],
      );
      const pinned = await bed.client.predict({ symbol: 'NABIL', modelName: bed.model.name, modelVersion: production });
      assert.equal(
        pinned.prediction?.modelVersion,
        production,
        'a request pinning the version is still answered, as for a replaced version',
      );

      // An archived version serves again only by way of Staging (registry.proto's stage machine).
      await bed.registry.transitionStage({
        name: bed.model.name,
        version: production,
        targetStage: Stage.STAGING,
        actor: 'operator',
        reason: 'look again',
      });
      await bed.registry.transitionStage({
        name: bed.model.name,
        version: production,
        targetStage: Stage.PRODUCTION,
        actor: 'operator',
        reason: 'fixed',
      });
      const back = await waitFor(
        () =>
          bed.client.predict({ symbol: 'NABIL' }).then(
            (r) => r.prediction,
            () => undefined,
          ),
        'Predict to answer again',
      );
      assert.equal(back.modelVersion, production);
    } finally {
      subscription.unsubscribe();
    }
  });
});
