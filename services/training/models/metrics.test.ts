import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MissingBaselineFeatureError, noChangeForecast, sma5DriftForecast } from './baselines.js';
import type { TrainingExample } from './dataset.js';
import { forecastMetrics } from './metrics.js';

const close = (c: number) => (label: number) => c * Math.exp(label);
const example = (closeT: number, label: number, features: number[] = [0, 0]): TrainingExample => ({
  symbol: 'X',
  date: '2024-01-01',
  features,
  close: closeT,
  label,
  nextClose: close(closeT)(label),
});

describe('forecastMetrics', () => {
  it('matches figures computed by hand', () => {
    const rows = [example(100, 0.02), example(50, 0.01), example(10, 0), example(200, -0.01), example(80, 0)];
    const preds = [0.01, -0.02, 0, 0.005, 0.001];
    const m = forecastMetrics(preds, rows);
    // Return errors: −0.01, −0.03, 0, 0.015, 0.001.
    assert.equal(m.count, 5);
    assert.ok(Math.abs(m.maeReturn - 0.056 / 5) < 1e-15);
    assert.ok(Math.abs(m.rmseReturn - Math.sqrt((1e-4 + 9e-4 + 0 + 2.25e-4 + 1e-6) / 5)) < 1e-15);
    // Hits: + vs + yes; − vs + no; 0 vs 0 yes; + vs − no; + vs 0 no (a zero return needs a zero prediction).
    assert.equal(m.directionalAccuracy, 2 / 5);
    const closeErrors = [
      100 * Math.exp(0.01) - 100 * Math.exp(0.02),
      50 * Math.exp(-0.02) - 50 * Math.exp(0.01),
      0,
      200 * Math.exp(0.005) - 200 * Math.exp(-0.01),
      80 * Math.exp(0.001) - 80,
    ];
    const actual = [100 * Math.exp(0.02), 50 * Math.exp(0.01), 10, 200 * Math.exp(-0.01), 80];
    assert.ok(Math.abs(m.maeClose - closeErrors.reduce((s, e) => s + Math.abs(e), 0) / 5) < 1e-12);
    assert.ok(Math.abs(m.rmseClose - Math.sqrt(closeErrors.reduce((s, e) => s + e * e, 0) / 5)) < 1e-12);
    assert.ok(Math.abs(m.mapeClose - closeErrors.reduce((s, e, i) => s + Math.abs(e) / actual[i], 0) / 5) < 1e-15);
  });

  it('treats −0 as 0, gives NaN figures for no rows and refuses mismatched lengths', () => {
    assert.equal(forecastMetrics([-0], [example(10, 0)]).directionalAccuracy, 1);
    const empty = forecastMetrics([], []);
    assert.equal(empty.count, 0);
    assert.ok(Number.isNaN(empty.maeReturn) && Number.isNaN(empty.directionalAccuracy));
    assert.throws(() => forecastMetrics([0, 0], [example(10, 0)]), RangeError);
  });
});

describe('baselines', () => {
  it('"no change" predicts 0; "SMA-5 drift" is log_return_5d / 5 found by name', () => {
    const rows = [example(10, 0.01, [3, 0.05]), example(10, 0.01, [4, -0.1])];
    assert.deepEqual(Array.from(noChangeForecast(rows)), [0, 0]);
    assert.deepEqual(Array.from(sma5DriftForecast(rows, ['rsi_14', 'log_return_5d'])), [0.01, -0.02]);
    assert.throws(() => sma5DriftForecast(rows, ['a', 'b']), MissingBaselineFeatureError);
  });
});
