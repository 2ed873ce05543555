import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Baseline, type ForecastMetrics } from '../../gen/nepse/market/v1/market_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { grpc } from '../../lib/grpc/index.js';
import { dayOf } from '../../lib/market/index.js';
import { failure, metricValue } from '../../testing/calls.js';
import { startMonitoringBed, type MonitoringBed } from '../../testing/monitoring-bed.js';

const close = (actual: number, expected: number, what: string, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected} (±${tolerance})`);

describe('monitoring: scoring predictions against the bars that follow them', () => {
  let bed: MonitoringBed;
  const model = 'hand';
  const report = (request: { symbol?: string; modelVersion?: number; windowDays?: number } = {}) =>
    bed.client.getModelPerformance({ modelName: model, ...request }).then((r) => r.report!);
  const noChange = (metrics: { baselines: { baseline: Baseline; metrics?: ForecastMetrics }[] } | undefined) =>
    metrics?.baselines.find((b) => b.baseline === Baseline.NO_CHANGE)?.metrics;

  before(async () => {
    bed = await startMonitoringBed({}, { rules: [] });
    // Bars before the predictions: NABIL closes 100, 110, 99 on 1-3 January 2024.
    await bed.bars('NABIL', [
      { date: '2024-01-01', close: 100 },
      { date: '2024-01-02', close: 110 },
      { date: '2024-01-03', close: 99 },
    ]);
    // NICA does not move: a realised return of exactly 0.
    await bed.bars('NICA', [
      { date: '2024-01-01', close: 200 },
      { date: '2024-01-02', close: 200 },
    ]);
    await bed.predict([
      { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-01', baseClose: 100, predictedReturn: 0.05, predictedClose: 105.1271096 },
      { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-02', baseClose: 110, predictedReturn: 0.02, predictedClose: 112.2221474 },
      { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-03', baseClose: 99, predictedReturn: -0.01, predictedClose: 98.0149335 },
      { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-04', baseClose: 100, predictedReturn: 0.01 },
      { model, version: 1, symbol: 'NICA', featureDate: '2024-01-01', baseClose: 200, predictedReturn: 0.01 },
    ]);
    await waitFor(
      async () => Number((await report({ symbol: 'NABIL' })).live?.model?.count) === 2,
      'the two predictions whose bars came first to be scored',
    );
    // The bar of 4 January arrives after its prediction.
    await bed.bars('NABIL', [{ date: '2024-01-04', close: 100 }]);
    await waitFor(
      async () => Number((await report({ symbol: 'NABIL' })).live?.model?.count) === 3,
      'the third prediction to be scored once its bar came',
    );
  });

  after(async () => {
    await bed?.stop();
  });

  it('scores each prediction as computed by hand, beside NO_CHANGE on the same pairs', async () => {
    // Per prediction (actual return r = ln(next close / base close); predicted close = base · e^p):
    //   1 Jan: p  0.05, r ln(110/100) =  0.0953102: |e_r| 0.0453102, close 105.1271096 vs 110: |e_c| 4.8728904, APE 0.0442990, hit
    //          NO_CHANGE |e_r| 0.0953102, |e_c| 10, APE 10/110 = 0.0909091, miss (0 vs +)
    //   2 Jan: p  0.02, r ln(99/110)  = -0.1053605: |e_r| 0.1253605, close 112.2221474 vs 99: |e_c| 13.2221474, APE 0.1335570, miss
    //          NO_CHANGE |e_r| 0.1053605, |e_c| 11, APE 11/99 = 0.1111111, miss
    //   3 Jan: p -0.01, r ln(100/99)  =  0.0100503: |e_r| 0.0200503, close 98.0149335 vs 100: |e_c| 1.9850665, APE 0.0198507, miss
    //          NO_CHANGE |e_r| 0.0100503, |e_c| 1, APE 0.01, miss
    const r = await report({ symbol: 'NABIL' });
    const m = r.live!.model!;
    assert.equal(m.count, 3n);
    close(m.maeReturn, (0.0453102 + 0.1253605 + 0.0200503) / 3, 'MAE of the return');
    close(m.rmseReturn, Math.sqrt((0.0453102 ** 2 + 0.1253605 ** 2 + 0.0200503 ** 2) / 3), 'RMSE of the return');
    close(m.maeClose, (4.8728904 + 13.2221474 + 1.9850665) / 3, 'MAE of the close');
    close(m.rmseClose, Math.sqrt((4.8728904 ** 2 + 13.2221474 ** 2 + 1.9850665 ** 2) / 3), 'RMSE of the close', 1e-5);
    close(m.mapeClose, (0.044299 + 0.133557 + 0.0198507) / 3, 'MAPE of the close');
    close(m.directionalAccuracy, 1 / 3, 'directional accuracy');
    const b = noChange(r.live)!;
    assert.equal(b.count, 3n);
    close(b.maeReturn, (0.0953102 + 0.1053605 + 0.0100503) / 3, 'NO_CHANGE MAE of the return');
    close(b.rmseReturn, Math.sqrt((0.0953102 ** 2 + 0.1053605 ** 2 + 0.0100503 ** 2) / 3), 'NO_CHANGE RMSE of the return');
    close(b.maeClose, (10 + 11 + 1) / 3, 'NO_CHANGE MAE of the close');
    close(b.rmseClose, Math.sqrt((100 + 121 + 1) / 3), 'NO_CHANGE RMSE of the close');
    close(b.mapeClose, (10 / 110 + 11 / 99 + 0.01) / 3, 'NO_CHANGE MAPE');
    close(b.directionalAccuracy, 0, 'NO_CHANGE directional accuracy');
    // The window ends at the latest scored target day and spans 30 calendar days by default.
    assert.equal(r.windowDays, 30);
    assert.deepEqual([dayOf(r.window?.start), dayOf(r.window?.end)], ['2023-12-06', '2024-01-04']);
    assert.equal(r.pendingPredictions, 1n, 'the prediction from 4 January waits for the bar of the next session');
  });

  it('counts a realised return of exactly 0 as a hit only for a prediction of exactly 0', async () => {
    const r = await report({ symbol: 'NICA' });
    assert.equal(r.live?.model?.count, 1n);
    assert.equal(r.live?.model?.directionalAccuracy, 0, '+1 % predicted, nothing happened: a miss');
    assert.equal(noChange(r.live)?.directionalAccuracy, 1, 'NO_CHANGE predicted 0 and 0 happened: a hit');
    close(r.live!.model!.maeReturn, 0.01, 'MAE');
  });

  it('pools every symbol and version, and narrows the window on request', async () => {
    const pooled = await report();
    assert.equal(pooled.live?.model?.count, 4n);
    assert.equal(pooled.modelVersion, 0);
    const narrow = await report({ symbol: 'NABIL', windowDays: 2 });
    assert.deepEqual([dayOf(narrow.window?.start), dayOf(narrow.window?.end)], ['2024-01-03', '2024-01-04']);
    assert.equal(narrow.live?.model?.count, 2n, 'target days 3 and 4 January');
  });

  it('does not count repeated predictions, redelivered events or re-imported bars twice', async () => {
    const scoredBefore = await metricValue(bed.monitoring.metricsPort, 'nepse_monitoring_predictions_scored_total', { model });
    assert.equal(scoredBefore, 4);
    const repeat = {
      model,
      version: 1,
      symbol: 'NABIL',
      featureDate: '2024-01-02',
      baseClose: 110,
      predictedReturn: 0.02,
      predictedClose: 112.2221474,
    };
    // A streaming client asking the same thing a thousand times, in one event and in another.
    await bed.predict(Array.from({ length: 1000 }, () => repeat));
    await bed.predict([repeat, { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-04', baseClose: 100, predictedReturn: 0.01 }]);
    // A re-import of the same bars, published again under a new id (JetStream cannot drop it).
    await bed.bars('NABIL', [
      { date: '2024-01-02', close: 110 },
      { date: '2024-01-03', close: 99 },
    ]);
    const lag = async () =>
      (await bed.bus.consumerLag('monitoring-predictions')).total + (await bed.bus.consumerLag('monitoring-bars')).total;
    await waitFor(async () => (await lag()) === 0, 'both consumers to catch up');
    await bed.monitoring.evaluator.evaluate();
    const r = await report({ symbol: 'NABIL' });
    assert.equal(r.live?.model?.count, 3n);
    close(r.live!.model!.maeReturn, (0.0453102 + 0.1253605 + 0.0200503) / 3, 'MAE unchanged');
    assert.equal(r.pendingPredictions, 1n);
    assert.equal(await metricValue(bed.monitoring.metricsPort, 'nepse_monitoring_predictions_scored_total', { model }), 4);
  });

  it('keeps its figures across a restart without scoring anything again', async () => {
    await bed.restart({ rules: [] });
    const r = await report({ symbol: 'NABIL' });
    assert.equal(r.live?.model?.count, 3n);
    await bed.monitoring.evaluator.evaluate();
    assert.equal(await metricValue(bed.monitoring.metricsPort, 'nepse_monitoring_predictions_scored_total', { model }), 4);
  });

  it('reports without backtest figures when the registry does not answer, before the deadline', async () => {
    const started = Date.now();
    const r = await bed.client.getModelPerformance({ modelName: model, modelVersion: 1 }, { timeoutMs: 5_000 });
    assert.equal(r.report?.backtest, undefined);
    assert.deepEqual(r.report?.featureDrift, []);
    assert.equal(r.report?.live?.model?.count, 4n);
    assert.ok(Date.now() - started < 4_000, `answered in ${Date.now() - started} ms`);
  });

  it('answers INVALID_ARGUMENT naming the field, and NOT_FOUND for a model never seen', async () => {
    // The code and the field: the messages are the service's to word.
    const refusal = async (call: Promise<unknown>) => {
      const { code, field } = await failure(call);
      return { code, field };
    };
    const perf = (request: Record<string, unknown>) => refusal(bed.client.getModelPerformance(request));
    const invalid = grpc.status.INVALID_ARGUMENT;
    assert.deepEqual(await perf({}), { code: invalid, field: 'model_name' });
    assert.deepEqual(await perf({ modelName: 'Not A Name' }), { code: invalid, field: 'model_name' });
    assert.deepEqual(await perf({ modelName: model, modelVersion: -1 }), { code: invalid, field: 'model_version' });
    assert.deepEqual(await perf({ modelName: model, windowDays: -1 }), { code: invalid, field: 'window_days' });
    assert.deepEqual(await perf({ modelName: model, windowDays: 3651 }), { code: invalid, field: 'window_days' });
    assert.deepEqual(await perf({ modelName: model, symbol: 'no such symbol' }), { code: invalid, field: 'symbol' });
    assert.deepEqual(await perf({ modelName: 'ghost' }), { code: grpc.status.NOT_FOUND, field: 'model' });
    assert.deepEqual(await perf({ modelName: model, modelVersion: 7 }), { code: grpc.status.NOT_FOUND, field: 'model' });
    assert.equal((await bed.client.getModelPerformance({ modelName: model, windowDays: 3650 })).report?.windowDays, 3650);

    const list = (request: Record<string, unknown>) => refusal(bed.client.listAlerts(request));
    assert.deepEqual(await list({ pageSize: -1 }), { code: invalid, field: 'page_size' });
    assert.deepEqual(await list({ pageToken: 'not-a-token' }), { code: invalid, field: 'page_token' });
    assert.deepEqual(await list({ pageToken: Buffer.from(JSON.stringify({ after: 'x' })).toString('base64url') }), {
      code: invalid,
      field: 'page_token',
    });
    assert.deepEqual(await list({ state: 7 }), { code: invalid, field: 'state' });
    assert.deepEqual(await list({ minSeverity: 9 }), { code: invalid, field: 'min_severity' });
    assert.deepEqual(await list({ symbol: 'bad symbol' }), { code: invalid, field: 'symbol' });
    assert.deepEqual((await bed.client.listAlerts({ pageSize: 5000 })).alerts, []);
  });
});
