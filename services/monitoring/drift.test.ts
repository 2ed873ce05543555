/**
 * Drift and live error against what the registry holds: the real registry (PGlite) and feature
 * service run beside monitoring in a test network, a model version is registered with its
 * backtest and training distributions, and live predictions come from a shifted distribution.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Baseline } from '../../gen/nepse/market/v1/market_pb.js';
import { AlertKind, AlertState } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { metricValue } from '../../testing/calls.js';
import { DEFAULT_FEATURE_SET } from '../../testing/market.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';
import { startMonitoringBed, type MonitoringBed, type TestPrediction } from '../../testing/monitoring-bed.js';
import { PSI_EPSILON } from './psi.js';
import { parseRules } from './rules.js';

const FEATURES = DEFAULT_FEATURE_SET.features.map((f) => f.name);
const SYMBOLS = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF'];
/** Ten NEPSE sessions and the one after them (the target of the last). */
const DAYS = [
  '2024-03-03',
  '2024-03-04',
  '2024-03-05',
  '2024-03-06',
  '2024-03-07',
  '2024-03-10',
  '2024-03-11',
  '2024-03-12',
  '2024-03-13',
  '2024-03-14',
  '2024-03-17',
];
/** Training distribution of every feature: four bins of a quarter each, cut at -1, 0 and 1. */
const TRAINING = { binEdges: [-1, 0, 1], binFractions: [0.25, 0.25, 0.25, 0.25], sampleCount: 4000n };
const BACKTEST = {
  model: { count: 500n, maeReturn: 0.01, rmseReturn: 0.013, maeClose: 5, rmseClose: 6.5, mapeClose: 0.01, directionalAccuracy: 0.53 },
  baselines: [
    {
      baseline: Baseline.NO_CHANGE,
      metrics: {
        count: 500n,
        maeReturn: 0.0105,
        rmseReturn: 0.0135,
        maeClose: 5.2,
        rmseClose: 6.8,
        mapeClose: 0.0105,
        directionalAccuracy: 0,
      },
    },
  ],
};

describe('monitoring: drift and live error against the registry', () => {
  let bed: MonitoringBed;
  const shifted = FEATURES[0];

  before(async () => {
    const rules = parseRules({
      rules: [
        { name: 'drift', kind: 'feature_drift', severity: 'warning', max_psi: 0.2, min_samples: 50 },
        { name: 'live_error', kind: 'live_error', severity: 'critical', k: 1.5, min_count: 20 },
      ],
    }).rules;
    bed = await startMonitoringBed(
      {},
      { rules },
      {
        services: ['feature', 'registry'],
        async beforeStart(network) {
          const registry = network.client('registry');
          await registry.registerModel(
            registerRequests(
              registrationFor('drifty', FEATURES.length, {
                backtest: { foldCount: 1, overall: BACKTEST },
                featureDistributions: FEATURES.map((feature) => ({ feature, ...TRAINING })),
              }),
              linearModel({ width: FEATURES.length }),
            ),
          );
          // The rules judge the registry's Production version of each model.
          await registry.transitionStage({ name: 'drifty', version: 1, targetStage: Stage.PRODUCTION, actor: 'test', reason: 'served' });
        },
      },
    );
  });

  after(async () => {
    await bed?.stop();
  });

  it('reports the backtest and the PSI of each feature, and fires drift and live-error alerts', async () => {
    // Closes never move, so every actual return is 0; the model predicts +5 % each time.
    for (const symbol of SYMBOLS)
      await bed.bars(
        symbol,
        DAYS.map((date) => ({ date, close: 50 })),
      );
    const live: TestPrediction[] = [];
    SYMBOLS.forEach((symbol, s) =>
      DAYS.slice(0, 10).forEach((featureDate, d) => {
        const i = s * 10 + d;
        // The shifted feature lands above 1 every time (training put a quarter there); the
        // others cycle through the four training bins, a quarter each.
        const features = FEATURES.map((_, j) => (j === 0 ? 1.5 + (i % 3) * 0.5 : [-1.5, -0.5, 0.5, 1.5][i % 4]));
        live.push({ model: 'drifty', version: 1, symbol, featureDate, baseClose: 50, predictedReturn: 0.05, features });
      }),
    );
    await bed.predict(live);
    const report = await waitFor(
      async () => {
        const r = (await bed.client.getModelPerformance({ modelName: 'drifty', modelVersion: 1 })).report!;
        return r.live?.model?.count === 60n && r.featureDrift.length > 0 ? r : undefined;
      },
      'scores and drift',
      { timeoutMs: 20_000 },
    );

    assert.equal(report.backtest?.model?.maeReturn, 0.01, 'the backtest as registered');
    assert.equal(report.backtest?.baselines[0]?.metrics?.maeReturn, 0.0105);
    assert.ok(Math.abs(report.live!.model!.maeReturn - 0.05) < 1e-12);
    assert.equal(report.featureDrift.length, FEATURES.length);
    const drift = new Map(report.featureDrift.map((d) => [d.feature, d]));
    // 60 live values all in the top bin: a = (0, 0, 0, 1) against e = (¼, ¼, ¼, ¼), the empty
    // live bins counted as ε: PSI = (1 − ¼)·ln(1/¼) + 3·(ε − ¼)·ln(ε/¼).
    const expected = 0.75 * Math.log(4) + 3 * (PSI_EPSILON - 0.25) * Math.log(PSI_EPSILON / 0.25);
    assert.ok(Math.abs(drift.get(shifted)!.psi - expected) < 1e-9, `PSI ${drift.get(shifted)!.psi} vs ${expected}`);
    assert.equal(drift.get(shifted)!.sampleCount, 60n);
    for (const name of FEATURES.slice(1))
      assert.ok(Math.abs(drift.get(name)!.psi) < 1e-12, `${name} did not move: PSI ${drift.get(name)!.psi}`);

    await bed.monitoring.evaluator.evaluate();
    const firing = (await bed.client.listAlerts({ state: AlertState.FIRING })).alerts;
    const driftAlerts = firing.filter((a) => a.kind === AlertKind.FEATURE_DRIFT);
    assert.deepEqual(
      driftAlerts.map((a) => ({ ...a.labels })),
      [{ model_name: 'drifty', model_version: '1', feature: shifted }],
    );
    assert.equal(driftAlerts[0].threshold, 0.2);
    const [errorAlert] = firing.filter((a) => a.kind === AlertKind.LIVE_ERROR);
    assert.ok(Math.abs(errorAlert.value - 5) < 1e-9, 'live MAE 0.05 is five times the backtest 0.01');
    assert.equal(errorAlert.threshold, 1.5);
    const psiGauge = await metricValue(bed.monitoring.metricsPort, 'nepse_model_feature_psi', {
      model: 'drifty',
      version: '1',
      feature: shifted,
    });
    assert.ok(Math.abs(psiGauge - expected) < 1e-6);
    assert.ok(
      Math.abs((await metricValue(bed.monitoring.metricsPort, 'nepse_model_live_mae', { model: 'drifty', version: '1' })) - 0.05) < 1e-12,
    );
    assert.equal(await metricValue(bed.monitoring.metricsPort, 'nepse_model_baseline_mae', { model: 'drifty', version: '1' }), 0);
  });

  it('keeps the cached backtest and drift when the registry goes away', async () => {
    await bed.network.service('registry').stop();
    const r = (await bed.client.getModelPerformance({ modelName: 'drifty', modelVersion: 1 }, { timeoutMs: 5_000 })).report!;
    assert.equal(r.backtest?.model?.maeReturn, 0.01);
    assert.equal(r.featureDrift.length, FEATURES.length);
  });
});
