import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { PredictionsMadeSchema, type PredictionMade } from '../../gen/nepse/events/v1/events_pb.js';
import { grpc } from '../../lib/grpc/index.js';
import { waitFor } from '../../lib/events/testing.js';
import { metricValue } from '../../testing/calls.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';
import { startPredictionBed, WIDTH, type PredictionBed } from '../../testing/prediction-bed.js';

const SYMBOLS = ['NABIL', 'NICA', 'SCB', 'HBL'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  started: number;
  ended: number;
  version?: number;
  alias?: string;
  error?: unknown;
}

describe('aliases served and followed live', () => {
  let bed: PredictionBed;
  /** Registers another version of the bed's model with its own weights. */
  const register = async (scale: number) => {
    const weights = Array.from({ length: WIDTH }, (_, i) => scale * ((i % 3) - 1));
    const { modelVersion } = await bed.registry.registerModel(
      registerRequests(registrationFor(bed.model.name, WIDTH), linearModel({ width: WIDTH, weights, bias: scale })),
    );
    return modelVersion!.version;
  };
  const setAlias = (alias: string, version: number) =>
    bed.registry.setAlias({ name: bed.model.name, alias, version, actor: 'test', reason: 'alias test' });

  before(async () => {
    bed = await startPredictionBed({ symbols: SYMBOLS, extra: { monitoring: {} } });
    await bed.network.service('monitoring').start();
  });

  after(async () => {
    await bed?.stop();
  });

  it('refuses an alias it does not serve, a malformed one, and one sent with a version', async () => {
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'OK',
        (e: { code: number; message: string }) => `${grpc.status[e.code]}: ${e.message}`,
      );
    assert.match(await code(bed.client.predict({ symbol: 'NABIL', modelAlias: 'nowhere' })), /^FAILED_PRECONDITION: .*no alias nowhere/);
    assert.match(await code(bed.client.predict({ symbol: 'NABIL', modelAlias: 'Bad Alias' })), /^INVALID_ARGUMENT: .*model_alias/);
    assert.match(
      await code(bed.client.predict({ symbol: 'NABIL', modelAlias: 'champion', modelVersion: 1 })),
      /^INVALID_ARGUMENT: .*model_alias/,
    );
  });

  it('moves an alias under load with no failed request: answers come from the old target until the new one is swapped in', async () => {
    await setAlias('champion', bed.model.version);
    await waitFor(
      () =>
        bed.client.predict({ symbol: 'NABIL', modelAlias: 'champion' }).then(
          (r) => r.prediction,
          () => undefined,
        ),
      'the champion alias to serve',
    );
    const v2 = await register(0.0003);

    const answers: Answer[] = [];
    let running = true;
    const workers = Array.from({ length: 12 }, async (_, w) => {
      for (let i = w; running; i += 12) {
        const started = performance.now();
        try {
          if (i % 4 === 0) {
            const { results } = await bed.client.predictBatch({ symbols: SYMBOLS, modelAlias: 'champion' }, { timeoutMs: 5_000 });
            for (const r of results) {
              if (r.outcome.case === 'prediction')
                answers.push({
                  started,
                  ended: performance.now(),
                  version: r.outcome.value.modelVersion,
                  alias: r.outcome.value.modelAlias,
                });
              else answers.push({ started, ended: performance.now(), error: r.outcome.value });
            }
          } else {
            const { prediction } = await bed.client.predict(
              { symbol: SYMBOLS[i % SYMBOLS.length], modelAlias: 'champion' },
              { timeoutMs: 5_000 },
            );
            answers.push({ started, ended: performance.now(), version: prediction!.modelVersion, alias: prediction!.modelAlias });
          }
        } catch (error) {
          answers.push({ started, ended: performance.now(), error });
        }
      }
    });
    await sleep(400);
    await setAlias('champion', v2);
    const deadline = Date.now() + 30_000;
    while (!answers.some((a) => a.version === v2)) {
      assert.ok(Date.now() < deadline, 'the new target answered within 30 s');
      await sleep(20);
    }
    const firstV2 = Math.min(...answers.filter((a) => a.version === v2).map((a) => a.ended));
    await sleep(500);
    running = false;
    await Promise.all(workers);

    assert.deepEqual(
      answers.filter((a) => a.error).map((a) => String(a.error)),
      [],
      'no request failed',
    );
    assert.ok(
      answers.every((a) => a.alias === 'champion'),
      'every answer names the alias',
    );
    const earlier = answers.filter((a) => a.ended < firstV2);
    const later = answers.filter((a) => a.started > firstV2 + 50);
    assert.ok(
      earlier.length > 50 && earlier.every((a) => a.version === bed.model.version),
      `${earlier.length} answers from v${bed.model.version} before the move`,
    );
    assert.ok(later.length > 50 && later.every((a) => a.version === v2), `${later.length} answers, all from v${v2}, after it`);
    // Production is untouched by an alias move.
    assert.equal((await bed.client.predict({ symbol: 'NABIL' })).prediction?.modelVersion, bed.model.version);
    console.log(
      `# alias champion v${bed.model.version} → v${v2}: ${answers.length} answers, none failed (${earlier.length} before, ${later.length} after)`,
    );
  });

  it('scores a challenger in the shadow: same symbol and bar, published marked shadow, never answered', async () => {
    const v3 = await register(-0.0002);
    const made: PredictionMade[] = [];
    const subscription = bed.bus.nc.subscribe('nepse.v1.predictions.made.>', {
      callback: (error, m) => error || made.push(...fromBinary(PredictionsMadeSchema, m.data).predictions),
    });
    try {
      await setAlias('challenger', v3);
      await waitFor(() => bed.prediction.aliases.get(bed.model.name, 'challenger'), 'the challenger to be loaded');
      const answered = [];
      for (const symbol of SYMBOLS) answered.push((await bed.client.predict({ symbol })).prediction!);
      assert.ok(
        answered.every((p) => p.modelVersion === bed.model.version && p.modelAlias === ''),
        'the answers come from the served version',
      );
      const shadows = await waitFor(() => {
        const s = made.filter((p) => p.shadow);
        return s.length >= SYMBOLS.length ? s : undefined;
      }, 'shadow predictions');
      for (const p of answered) {
        const served = made.find((m) => m.predictionId === p.predictionId);
        assert.equal(served?.shadow, false, 'the served prediction is published unmarked');
        const shadow = shadows.find((s) => s.symbol === p.symbol);
        assert.ok(shadow, `a shadow prediction of ${p.symbol}`);
        assert.equal(shadow.modelVersion, v3);
        assert.deepEqual(shadow.featureDate, p.featureDate, 'from the same bar');
        assert.deepEqual(shadow.features, served!.features, 'from the same feature vector');
        assert.notEqual(shadow.predictedReturn, p.predictedReturn);
        // Its latency as if served: the served request's time before inference plus its own run.
        assert.ok(shadow.latencyMs > 0 && shadow.latencyMs < 5_000, `shadow latency ${shadow.latencyMs} ms`);
        assert.ok(served!.latencyMs > 0, `served latency ${served!.latencyMs} ms`);
      }
      assert.equal(bed.prediction.shadow.counts.dropped, 0);
      const metricsPort = bed.network.service('prediction').metricsPort!;
      assert.ok(
        (await metricValue(metricsPort, 'nepse_prediction_shadow_latency_seconds_count', { model: bed.model.name })) >= SYMBOLS.length,
        'shadow latencies are in the metrics',
      );
      console.log(
        `# latency of ${SYMBOLS.length} predictions, served and shadow (ms): ${answered
          .map((p) => {
            const served = made.find((m) => m.predictionId === p.predictionId)!;
            const shadow = shadows.find((s) => s.symbol === p.symbol)!;
            return `${served.latencyMs.toFixed(2)}/${shadow.latencyMs.toFixed(2)}`;
          })
          .join(' ')}`,
      );

      // The next bar of every symbol scores both, and GetModelPerformance shows them side by side.
      for (const symbol of SYMBOLS) await bed.addBar(symbol);
      const monitoring = bed.network.client('monitoring');
      const report = await waitFor(async () => {
        const { report: r } = await monitoring.getModelPerformance({ modelName: bed.model.name, modelVersion: bed.model.version });
        return r?.shadow &&
          Number(r.live?.model?.count) >= SYMBOLS.length &&
          Number(r.shadow.champion?.count) >= SYMBOLS.length &&
          Number(r.shadow.challenger?.count) >= SYMBOLS.length
          ? r
          : undefined;
      }, 'champion and challenger scored on the same bars');
      const side = report.shadow!;
      assert.equal(side.challengerVersion, v3);
      assert.equal(side.sessions, 1, 'one session, the bar after the predictions');
      assert.equal(side.champion!.count, side.challenger!.count, 'the same pairs on both sides');
      // The champion's figures on the shared pairs are its own live figures (every pair is shared here).
      assert.ok(
        Math.abs(side.champion!.maeReturn - report.live!.model!.maeReturn) < 1e-12,
        JSON.stringify([side.champion, report.live!.model], (_, v) => (typeof v === 'bigint' ? Number(v) : v)),
      );
      // Served figures are of what users were served: the challenger has none of its own, and the
      // pooled figures of the name leave its shadow scores out.
      const challengerAlone = (await monitoring.getModelPerformance({ modelName: bed.model.name, modelVersion: v3 })).report!;
      assert.equal(Number(challengerAlone.live?.model?.count ?? 0), 0, 'the challenger answered no one');
      // (The versions before it answered through Production and the champion alias.)
      const pooled = (await monitoring.getModelPerformance({ modelName: bed.model.name })).report!;
      let served = 0;
      for (let v = 1; v < v3; v++) {
        const { report: r } = await monitoring
          .getModelPerformance({ modelName: bed.model.name, modelVersion: v })
          .catch(() => ({ report: undefined }));
        served += Number(r?.live?.model?.count ?? 0);
      }
      assert.equal(Number(pooled.live?.model?.count), served, 'the pooled figures count the served versions’ scores only');
      assert.notEqual(side.champion!.maeReturn, side.challenger!.maeReturn);
      console.log(
        `# shadow v${v3} beside v${bed.model.version}: MAE(return) ${side.challenger!.maeReturn.toFixed(5)} vs ${side.champion!.maeReturn.toFixed(5)} over ${side.champion!.count} pairs`,
      );
    } finally {
      subscription.unsubscribe();
    }
  });
});
