import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toMatrix } from './dataset.js';
import { binFeatures, binOf } from './feature-bins.js';
import { createGbrtModel, trainGbrt } from './gbrt.js';
import { forecastMetrics } from './metrics.js';
import { trainRidge } from './ridge.js';
import { plantedSignalDataset } from './synthetic.js';
import { walkForward } from './walk-forward.js';

/** label = 0.01·sign(z0) + N(0, 0.005²): a step no linear model can fit. */
const stepDataset = (seed = 5) =>
  plantedSignalDataset({ symbols: 20, days: 500, noiseStd: 0.005, seed, signal: (z) => 0.01 * Math.sign(z[0]) });

describe('trainGbrt', () => {
  it('lowers the training loss with every tree', () => {
    const { dataset } = stepDataset();
    const { x, y } = toMatrix(dataset.examples);
    const seen: number[] = [];
    const model = trainGbrt(x, y, { trees: 60, onTree: (k, loss) => seen.push(k, loss) });
    assert.equal(model.trainLoss.length, 60);
    assert.equal(seen.length, 120);
    let variance = 0;
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    for (const v of y) variance += (v - mean) ** 2;
    variance /= y.length;
    let previous = variance;
    // Each leaf takes a shrunken mean residual of its rows, which cannot raise squared error.
    for (const loss of model.trainLoss) {
      assert.ok(loss <= previous + 1e-15, `loss rose from ${previous} to ${loss}`);
      previous = loss;
    }
    assert.ok(model.trainLoss[59] < 0.5 * variance);
  });

  it('fits a nonlinear planted signal better than ridge out of sample', () => {
    const { dataset, noiseVariance } = stepDataset();
    const trees = walkForward(dataset, { folds: 3, train: (x, y) => trainGbrt(x, y, { trees: 100, learningRate: 0.1 }) });
    const ridge = walkForward(dataset, { folds: 3, train: (x, y) => trainRidge(x, y) });
    const treeMse = trees.holdout.model.rmseReturn ** 2;
    const ridgeMse = ridge.holdout.model.rmseReturn ** 2;
    assert.ok(treeMse < 0.6 * ridgeMse, `trees ${treeMse} vs ridge ${ridgeMse}`);
    assert.ok(treeMse < 1.2 * noiseVariance, `trees ${treeMse} vs σ² ${noiseVariance}`);
  });

  it('keeps thresholds and leaf values float32-exact and leaves at least minSamplesLeaf rows', () => {
    const { dataset } = plantedSignalDataset({ symbols: 10, days: 300, seed: 9 });
    const { x, y } = toMatrix(dataset.examples);
    const model = trainGbrt(x, y, { trees: 20, maxDepth: 4, minSamplesLeaf: 50 });
    assert.equal(model.base, Math.fround(model.base));
    for (const tree of model.trees) {
      assert.ok(tree.isLeaf.length <= 31);
      tree.isLeaf.forEach((leaf, k) => {
        assert.equal(tree.thresholds[k], Math.fround(tree.thresholds[k]));
        assert.equal(tree.values[k], Math.fround(tree.values[k]));
        if (!leaf) assert.ok(tree.left[k] > k && tree.right[k] > k);
      });
      // Count training rows per leaf by walking the tree exactly as predict() does.
      const counts = new Map<number, number>();
      for (const row of x) {
        let node = 0;
        while (!tree.isLeaf[node])
          node = Math.fround(row[tree.featureIds[node]]) <= tree.thresholds[node] ? tree.left[node] : tree.right[node];
        counts.set(node, (counts.get(node) ?? 0) + 1);
      }
      for (const c of counts.values()) assert.ok(c >= 50, `leaf with ${c} rows`);
    }
  });

  it('never splits on a constant feature and predicts the mean with no trees', () => {
    const { dataset } = plantedSignalDataset({ symbols: 5, days: 200, seed: 2 });
    const x = dataset.examples.map((e) => [7, ...e.features]);
    const y = dataset.examples.map((e) => e.label);
    const model = trainGbrt(x, y, { trees: 10 });
    for (const tree of model.trees) tree.isLeaf.forEach((leaf, k) => assert.ok(leaf || tree.featureIds[k] !== 0));
    const empty = trainGbrt(x, y, { trees: 0 });
    assert.equal(empty.predict([x[0]])[0], Math.fround(y.reduce((s, v) => s + v, 0) / y.length));
  });

  it('subsamples reproducibly by seed and still learns', () => {
    const { dataset } = stepDataset(8);
    const { x, y } = toMatrix(dataset.examples);
    const a = trainGbrt(x, y, { trees: 30, subsample: 0.5, seed: 4 });
    const b = trainGbrt(x, y, { trees: 30, subsample: 0.5, seed: 4 });
    const c = trainGbrt(x, y, { trees: 30, subsample: 0.5, seed: 5 });
    assert.deepEqual(a.predict(x), b.predict(x));
    assert.notDeepEqual(a.predict(x), c.predict(x));
    assert.ok(forecastMetrics(a.predict(x), dataset.examples).rmseReturn < 0.01);
  });

  it('rebuilds from stored parameters with identical predictions, and validates options', () => {
    const { dataset } = plantedSignalDataset({ symbols: 3, days: 200 });
    const { x, y } = toMatrix(dataset.examples);
    const model = trainGbrt(x, y, { trees: 5 });
    const copy = createGbrtModel(JSON.parse(JSON.stringify(model)));
    assert.deepEqual(copy.predict(x), model.predict(x));
    assert.throws(() => trainGbrt(x, y, { learningRate: 0 }), /learningRate/);
    assert.throws(() => trainGbrt(x, y, { bins: 300 }), /bins/);
    assert.throws(() => trainGbrt(x, y, { subsample: 1.5 }), /subsample/);
    assert.throws(() => model.predict([[1, 2]]), /expects 25/);
  });
});

describe('binFeatures', () => {
  it('gives one bin per value to low-cardinality features and quantile bins otherwise', () => {
    const x = Array.from({ length: 1000 }, (_, i) => [i % 5, i / 1000]);
    const bins = binFeatures(x, 8);
    assert.deepEqual(Array.from(bins.edges[0]), [0, 1, 2, 3]);
    assert.equal(bins.edges[1].length, 7);
    // Code c ⇔ edges[c−1] < fround(x) ≤ edges[c].
    for (let i = 0; i < x.length; i++) {
      for (let j = 0; j < 2; j++) {
        const c = bins.codes[i * 2 + j];
        const e = bins.edges[j];
        const v = Math.fround(x[i][j]);
        assert.ok((c === 0 || e[c - 1] < v) && (c === e.length || v <= e[c]));
      }
    }
    assert.equal(binOf(Float32Array.of(1, 2), 2), 1);
    assert.equal(binOf(Float32Array.of(1, 2), 2.5), 2);
  });
});
