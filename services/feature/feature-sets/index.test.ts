import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FEATURE_SET, DEFAULT_FEATURE_SET_NAME, FEATURE_SETS, OHLCV_V1, featureSetKey, findFeatureSet } from './index.js';

describe('feature set registry', () => {
  it("resolves '' to the default set and version 0 to the latest", () => {
    assert.equal(DEFAULT_FEATURE_SET_NAME, 'ohlcv');
    assert.equal(findFeatureSet('', 0), OHLCV_V1);
    assert.equal(findFeatureSet('ohlcv', 0), OHLCV_V1);
    assert.equal(findFeatureSet('ohlcv', 1), OHLCV_V1);
    assert.equal(findFeatureSet('', 1), OHLCV_V1);
    assert.equal(DEFAULT_FEATURE_SET, OHLCV_V1);
  });

  it('finds nothing for unknown names, versions, or versions that are not whole and >= 0', () => {
    assert.equal(findFeatureSet('ohlcv', 2), undefined);
    assert.equal(findFeatureSet('OHLCV', 1), undefined);
    assert.equal(findFeatureSet('nope', 0), undefined);
    assert.equal(findFeatureSet('ohlcv', -1), undefined);
    assert.equal(findFeatureSet('ohlcv', 1.5), undefined);
  });

  it('lists sets ordered by name then version, each with unique feature names and its largest warm-up', () => {
    const keys = FEATURE_SETS.map((set) => [set.name, set.version] as const);
    const sorted = [...keys].sort(([a, x], [b, y]) => (a === b ? x - y : a < b ? -1 : 1));
    assert.deepEqual(keys, sorted);
    assert.equal(new Set(keys.map(([name, version]) => `${name}@${version}`)).size, keys.length);
    for (const set of FEATURE_SETS) {
      assert.match(set.name, /^[a-z][a-z0-9_]*$/);
      assert.ok(Number.isInteger(set.version) && set.version >= 1);
      assert.equal(new Set(set.features.map((f) => f.name)).size, set.features.length);
      assert.equal(set.warmUpDays, Math.max(...set.features.map((f) => f.warmUpDays)));
    }
  });

  it('names a set version ohlcv_v1 style', () => {
    assert.equal(featureSetKey(OHLCV_V1), 'ohlcv_v1');
  });
});
