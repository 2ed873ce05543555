import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binIndex } from '../../../lib/market/index.js';
import { featureDistributions } from './distribution.js';
import { createRandom } from '../../../lib/random/index.js';

const sum = (values: number[]) => values.reduce((s, v) => s + v, 0);

describe('featureDistributions', () => {
  const random = createRandom(3);
  const x = Array.from({ length: 5000 }, (_, i) => [random.gaussian(), 42, i % 2 === 0 ? 0 : random.uniform(), i % 7]);
  const names = ['normal', 'constant', 'half_zero', 'weekday'];
  const result = featureDistributions(x, names, 10);

  it('gives quantile bins whose fractions sum to 1', () => {
    assert.deepEqual(
      result.map((d) => d.feature),
      names,
    );
    for (const d of result) {
      assert.equal(d.sampleCount, 5000);
      assert.equal(d.binFractions.length, d.binEdges.length + 1);
      assert.ok(Math.abs(sum(d.binFractions) - 1) < 1e-12, `${d.feature}: ${sum(d.binFractions)}`);
      for (let k = 1; k < d.binEdges.length; k++) assert.ok(d.binEdges[k] > d.binEdges[k - 1], `${d.feature} edges ascend`);
    }
    const normal = result[0];
    assert.equal(normal.binEdges.length, 9);
    for (const f of normal.binFractions) assert.ok(Math.abs(f - 0.1) < 0.002, `decile fraction ${f}`);
    assert.ok(Math.abs(normal.binEdges[4]) < 0.05, 'median of N(0,1) near 0');
  });

  it('handles a constant feature with a single bin holding everything', () => {
    assert.deepEqual(result[1].binEdges, []);
    assert.deepEqual(result[1].binFractions, [1]);
  });

  it('merges tied cut points instead of making empty bins', () => {
    const halfZero = result[2];
    assert.ok(halfZero.binFractions.every((f) => f > 0));
    assert.ok(halfZero.binFractions[0] >= 0.5, 'the zeros share one bin');
    const weekday = result[3];
    assert.ok(weekday.binEdges.length <= 6);
    assert.ok(weekday.binFractions.every((f) => f > 0));
  });

  it('bins by the contract: (−∞, e0), [e0, e1), …, [e_last, +∞)', () => {
    const edges = [1, 2, 3];
    assert.deepEqual(
      [-5, 0.999, 1, 1.5, 2, 3, 99].map((v) => binIndex(edges, v)),
      [0, 0, 1, 1, 2, 3, 3],
    );
    assert.equal(binIndex([], 7), 0);
  });

  it('skips non-finite values and validates the bin count', () => {
    const [d] = featureDistributions([[1], [Number.NaN], [2], [Infinity]], ['f'], 2);
    assert.equal(d.sampleCount, 2);
    assert.ok(Math.abs(sum(d.binFractions) - 1) < 1e-12);
    assert.throws(() => featureDistributions([[1]], ['f'], 0), RangeError);
  });
});
