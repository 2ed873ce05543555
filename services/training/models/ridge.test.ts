import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toMatrix } from './dataset.js';
import { createRandom } from '../../../lib/random/index.js';
import { choleskySolve, createRidgeModel, RidgeSolveError, trainRidge } from './ridge.js';
import { plantedSignalDataset, randomWalkDataset } from './synthetic.js';
import { walkForward } from './walk-forward.js';

describe('trainRidge', () => {
  it('recovers planted coefficients and intercept on noiseless data (tiny λ)', () => {
    const random = createRandom(7);
    const beta = [0.5, -2, 0.001, 30, 0];
    const scales = [1, 10, 0.01, 100, 3];
    const x = Array.from({ length: 500 }, () => scales.map((s) => 5 * s + s * random.gaussian()));
    const y = x.map((row) => 0.25 + row.reduce((sum, v, j) => sum + beta[j] * v, 0));
    const model = trainRidge(x, y, { lambda: 1e-9 });
    // Raw-unit coefficient = w/σ; raw intercept = intercept − Σ w·μ/σ.
    const raw = model.weights.map((w, j) => w / model.scales[j]);
    raw.forEach((b, j) =>
      assert.ok(Math.abs(b - beta[j]) <= 1e-6 * Math.max(1, Math.abs(beta[j])), `coefficient ${j}: ${b} vs ${beta[j]}`),
    );
    const intercept = model.intercept - model.weights.reduce((s, w, j) => s + (w * model.means[j]) / model.scales[j], 0);
    assert.ok(Math.abs(intercept - 0.25) < 1e-6, `intercept ${intercept}`);
    const predicted = model.predict(x);
    predicted.forEach((p, i) => assert.ok(Math.abs(p - y[i]) < 1e-6));
  });

  it('standardises with population mean and standard deviation; intercept is the mean label', () => {
    const x = [[1], [2], [3], [4]];
    const model = trainRidge(x, [1, 2, 3, 6], { lambda: 0 });
    assert.equal(model.means[0], 2.5);
    assert.ok(Math.abs(model.scales[0] - Math.sqrt(1.25)) < 1e-15);
    assert.equal(model.intercept, 3);
  });

  it('handles a constant feature (scale 1, weight 0), even with λ = 0', () => {
    const x = [
      [0.1, 1],
      [0.1, 2],
      [0.1, 3],
      [0.1, 5],
    ];
    const model = trainRidge(x, [2, 4, 6, 10], { lambda: 0 });
    assert.equal(model.scales[0], 1);
    assert.equal(model.means[0], 0.1);
    assert.equal(model.weights[0], 0);
    assert.ok(Math.abs(model.predict([[0.1, 4]])[0] - 8) < 1e-9);
  });

  it('shrinks towards the mean as λ grows', () => {
    const { dataset } = plantedSignalDataset({ symbols: 5, days: 200 });
    const { x, y } = toMatrix(dataset.examples);
    const norm = (lambda: number) => Math.hypot(...trainRidge(x, y, { lambda }).weights);
    assert.ok(norm(1e6) < norm(1e2) && norm(1e2) < norm(1e-3));
  });

  it('refuses collinear features with λ = 0 and bad input', () => {
    const x = [
      [1, 2],
      [2, 4],
      [3, 6.0000000000000001],
      [4, 8],
    ];
    assert.throws(() => trainRidge(x, [1, 2, 3, 4], { lambda: 0 }), RidgeSolveError);
    assert.doesNotThrow(() => trainRidge(x, [1, 2, 3, 4], { lambda: 1 }));
    assert.throws(() => trainRidge([[1], [Number.NaN]], [1, 2]), /feature 0 is NaN/);
    assert.throws(() => trainRidge([[1], [2, 3]], [1, 2]), /row 1 has 2 features/);
    assert.throws(() => trainRidge([[1]], [1], { lambda: -1 }), /lambda/);
    assert.throws(() => trainRidge([[1, 2]], [1]).predict([[1]]), /expects 2/);
  });

  it('rebuilds from stored parameters with identical predictions', () => {
    const { dataset } = plantedSignalDataset({ symbols: 3, days: 100 });
    const { x, y } = toMatrix(dataset.examples);
    const model = trainRidge(x, y);
    const copy = createRidgeModel(JSON.parse(JSON.stringify(model)));
    assert.deepEqual(copy.predict(x), model.predict(x));
  });

  it('choleskySolve solves a small SPD system', () => {
    const w = choleskySolve(Float64Array.of(4, 2, 2, 3), Float64Array.of(2, 1), 2);
    assert.ok(Math.abs(w[0] - 0.5) < 1e-15 && Math.abs(w[1]) < 1e-15);
  });
});

describe('ridge walk-forward quality', () => {
  it('reaches the noise floor σ² on a planted linear signal and clearly beats "no change"', () => {
    const { dataset, noiseVariance } = plantedSignalDataset({ symbols: 20, days: 1000, features: 25, noiseStd: 0.01, seed: 3 });
    const result = walkForward(dataset, { folds: 5, train: (x, y) => trainRidge(x, y) });
    const mse = result.holdout.model.rmseReturn ** 2;
    assert.ok(Math.abs(mse / noiseVariance - 1) < 0.1, `holdout MSE ${mse} vs σ² ${noiseVariance}`);
    assert.ok(result.holdout.model.maeReturn < 0.8 * result.holdout.noChange.maeReturn, 'beats no change by > 20 %');
    assert.ok(result.overall.model.maeReturn < 0.8 * result.overall.noChange.maeReturn);
  });

  it('does not beat "no change" by a 2 % margin on a pure random walk', () => {
    const { dataset } = randomWalkDataset({ symbols: 20, days: 1000, features: 25, noiseStd: 0.01, seed: 3 });
    const result = walkForward(dataset, { folds: 5, train: (x, y) => trainRidge(x, y) });
    assert.ok(result.holdout.model.maeReturn > 0.98 * result.holdout.noChange.maeReturn);
    assert.ok(result.overall.model.maeReturn > 0.98 * result.overall.noChange.maeReturn);
  });
});
