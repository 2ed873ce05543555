import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noChangeForecast, sma5DriftForecast } from './baselines.js';
import type { Dataset, TrainingExample } from './dataset.js';
import { forecastMetrics } from './metrics.js';
import { trainRidge } from './ridge.js';
import { plantedSignalDataset } from './synthetic.js';
import { walkForward, type FoldResult } from './walk-forward.js';

/** Predicts the mean training label for every row: simple enough to score by hand. */
const meanModel = (_x: number[][], y: number[]) => {
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  return { predict: (x: number[][]) => new Float64Array(x.length).fill(mean) };
};

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);

describe('walkForward', () => {
  it('scores a tiny example exactly as computed by hand', () => {
    const labels = [
      [0.01, -0.01],
      [0.02, 0],
      [0.03, -0.02],
      [0.01, 0.01],
      [-0.01, 0.02],
      [0, 0.04],
    ];
    const examples: TrainingExample[] = labels.flatMap((pair, d) =>
      pair.map((label, s) => ({
        symbol: `S${s}`,
        date: `2024-01-0${d + 1}`,
        features: [0.05, d],
        close: 100,
        label,
        nextClose: 100 * Math.exp(label),
      })),
    );
    const result = walkForward({ featureNames: ['log_return_5d', 'day'], examples }, { folds: 2, train: meanModel });

    const [first, second] = result.folds;
    assert.deepEqual(
      [first.trainRange, first.testRange, first.trainCount],
      [{ start: '2024-01-01', end: '2024-01-02' }, { start: '2024-01-03', end: '2024-01-04' }, 4],
    );
    assert.deepEqual(
      [second.trainRange, second.testRange, second.trainCount],
      [{ start: '2024-01-01', end: '2024-01-04' }, { start: '2024-01-05', end: '2024-01-06' }, 8],
    );
    assert.equal(result.holdout, second);

    // Fold 1: mean of 0.01, −0.01, 0.02, 0 = 0.005 against 0.03, −0.02, 0.01, 0.01.
    near(first.model.maeReturn, (0.025 + 0.025 + 0.005 + 0.005) / 4, 'fold 1 MAE');
    assert.equal(first.model.directionalAccuracy, 3 / 4);
    // Fold 2: mean of the first eight labels = 0.05 / 8 = 0.00625 against −0.01, 0.02, 0, 0.04.
    const errors = [0.01625, 0.01375, 0.00625, 0.03375];
    near(second.model.maeReturn, 0.07 / 4, 'holdout MAE');
    near(second.model.rmseReturn, Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / 4), 'holdout RMSE');
    assert.equal(second.model.directionalAccuracy, 2 / 4);
    // No change: MAE is the mean |label|; only the zero return is a hit.
    near(second.noChange.maeReturn, (0.01 + 0.02 + 0 + 0.04) / 4, 'no change MAE');
    assert.equal(second.noChange.directionalAccuracy, 1 / 4);
    // SMA-5 drift: 0.05 / 5 = 0.01 everywhere.
    near(second.sma5Drift.maeReturn, (0.02 + 0.01 + 0.01 + 0.03) / 4, 'SMA-5 MAE');
    // Pooled over both test windows, not averaged over folds (equal sizes here, so both agree).
    near(result.overall.model.maeReturn, (0.06 + 0.07) / 8, 'overall MAE');
    assert.equal(result.overall.model.count, 8);
  });

  it('cuts contiguous, expanding, non-overlapping date blocks and trains only on earlier dates', () => {
    const { dataset } = plantedSignalDataset({ symbols: 7, days: 103, features: 6, seed: 1 });
    const dates = [...new Set(dataset.examples.map((e) => e.date))];
    const testRowsOf = (f: FoldResult) => dataset.examples.filter((e) => e.date >= f.testRange.start && e.date <= f.testRange.end);
    const trainedOn: Set<number[]>[] = [];
    const progress: [number, number, number][] = [];
    const result = walkForward(dataset, {
      folds: 4,
      train: (x, y) => {
        trainedOn.push(new Set(x));
        return trainRidge(x, y);
      },
      onFold: (k, n, fold) => progress.push([k, n, fold.fold]),
    });
    assert.deepEqual(progress, [
      [1, 4, 1],
      [2, 4, 2],
      [3, 4, 3],
      [4, 4, 4],
    ]);
    assert.equal(result.folds.length, 4);
    let testedRows = 0;
    result.folds.forEach((fold, i) => {
      assert.equal(fold.fold, i + 1);
      assert.equal(fold.trainRange.start, dates[0]);
      // The test window starts on the date right after training ends; the next fold's window right after this one.
      assert.equal(dates.indexOf(fold.testRange.start), dates.indexOf(fold.trainRange.end) + 1);
      if (i > 0) {
        assert.equal(fold.trainRange.end, result.folds[i - 1].testRange.end);
        assert.ok(fold.trainCount > result.folds[i - 1].trainCount);
      }
      const testRows = testRowsOf(fold);
      assert.equal(fold.trainCount, dataset.examples.filter((e) => e.date <= fold.trainRange.end).length);
      assert.equal(trainedOn[i].size, fold.trainCount);
      for (const row of testRows) assert.ok(!trainedOn[i].has(row.features), `fold ${fold.fold} trained on test date ${row.date}`);
      // Model and baselines are scored on exactly the same rows.
      assert.equal(fold.model.count, testRows.length);
      assert.deepEqual(fold.noChange, forecastMetrics(noChangeForecast(testRows), testRows));
      assert.deepEqual(fold.sma5Drift, forecastMetrics(sma5DriftForecast(testRows, dataset.featureNames), testRows));
      testedRows += testRows.length;
    });
    assert.equal(result.folds[3].testRange.end, dates[dates.length - 1]);
    // Block sizes differ by at most one date: 103 dates into 5 blocks.
    const sizes = [
      dates.indexOf(result.folds[0].testRange.start),
      ...result.folds.map((f) => dates.indexOf(f.testRange.end) - dates.indexOf(f.testRange.start) + 1),
    ];
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `block sizes ${sizes}`);
    assert.equal(result.overall.model.count, testedRows);
    assert.equal(result.overall.noChange.count, testedRows);
    // Plain data: survives structured cloning (worker threads) unchanged.
    assert.deepEqual(structuredClone(result), result);
  });

  it('refuses unsorted examples and too few dates', () => {
    const row = (date: string): TrainingExample => ({ symbol: 'A', date, features: [0], close: 1, label: 0, nextClose: 1 });
    const data = (dates: string[]): Dataset => ({ featureNames: ['log_return_5d'], examples: dates.map(row) });
    assert.throws(() => walkForward(data(['2024-01-02', '2024-01-01', '2024-01-03']), { folds: 1, train: meanModel }), /not sorted/);
    assert.throws(() => walkForward(data(['2024-01-01', '2024-01-01', '2024-01-02']), { folds: 2, train: meanModel }), /need at least 3/);
    assert.throws(() => walkForward(data(['2024-01-01', '2024-01-02']), { folds: 0, train: meanModel }), /folds/);
  });
});
