import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plantedSignalDataset, randomWalkDataset } from './synthetic.js';

describe('synthetic datasets', () => {
  it('are reproducible, sorted by date then symbol, and price-consistent', () => {
    const a = plantedSignalDataset({ symbols: 4, days: 30, features: 5, seed: 9 });
    const b = plantedSignalDataset({ symbols: 4, days: 30, features: 5, seed: 9 });
    assert.deepEqual(a, b);
    const { featureNames, examples } = a.dataset;
    assert.deepEqual(featureNames, ['x0', 'x1', 'x2', 'x3', 'log_return_5d']);
    assert.equal(examples.length, 120);
    const history = new Map<string, number[]>();
    const lastNextClose = new Map<string, number>();
    examples.forEach((e, i) => {
      if (i > 0) {
        const p = examples[i - 1];
        assert.ok(p.date < e.date || (p.date === e.date && p.symbol < e.symbol));
      }
      assert.ok(Math.abs(e.nextClose - e.close * Math.exp(e.label)) < 1e-9 * e.close);
      const closes = history.get(e.symbol) ?? [];
      // Today's close is yesterday's next close: one continuous price path per symbol.
      if (lastNextClose.has(e.symbol)) assert.equal(e.close, lastNextClose.get(e.symbol));
      lastNextClose.set(e.symbol, e.nextClose);
      closes.push(e.close);
      // log_return_5d is the path's own ln(close_t / close_{t−5}).
      if (closes.length > 5) assert.ok(Math.abs(e.features[4] - Math.log(e.close / closes[closes.length - 6])) < 1e-12);
      history.set(e.symbol, closes);
    });
  });

  it('plants E[label | x] = intercept + Σ βx with noise of the stated variance', () => {
    const { dataset, coefficients, intercept, noiseVariance } = plantedSignalDataset({
      symbols: 50,
      days: 400,
      features: 8,
      noiseStd: 0.01,
      seed: 4,
    });
    let sq = 0;
    for (const e of dataset.examples) {
      const mean = intercept + e.features.reduce((s, v, j) => s + coefficients[j] * v, 0);
      sq += (e.label - mean) ** 2;
    }
    assert.ok(Math.abs(sq / dataset.examples.length / noiseVariance - 1) < 0.03);
    assert.equal(coefficients[7], 0);
  });

  it('random walk labels carry no signal', () => {
    const { coefficients, intercept, dataset } = randomWalkDataset({ symbols: 10, days: 100, features: 3 });
    assert.deepEqual(coefficients, [0, 0, 0]);
    assert.equal(intercept, 0);
    assert.equal(dataset.examples.length, 1000);
  });
});
