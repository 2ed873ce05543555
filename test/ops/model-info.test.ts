/**
 * `nepse_prediction_model_info{model,version,stage} 1` follows the Prometheus info-metric
 * convention across hot swaps: exactly one series per served model name, the replaced version's
 * series gone in the same scrape that shows the new one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InferenceSession } from 'onnxruntime-node';
import { parseExposition } from '../../lib/telemetry/exposition.js';
import { metricsRegistry } from '../../lib/telemetry/index.js';
import { ModelCache, type LoadedModel } from '../../services/prediction/model-cache.js';

/** A model whose session does nothing: the cache only swaps and releases it. */
function fakeModel(name: string, version: number): LoadedModel {
  const session = { release: async () => {} } as unknown as InferenceSession;
  return {
    name,
    version,
    featureSet: { name: 'ohlcv', version: 1 },
    inputWidth: 25,
    inputName: 'features',
    outputName: 'log_return',
    sha256: `${version}`.padStart(64, '0'),
    loadedAt: new Date(),
    session,
  };
}

/** The info series of the scrape, as `model/version/stage=value`. */
async function infoSeries(): Promise<string[]> {
  const family = parseExposition(await metricsRegistry.metrics()).families.get('nepse_prediction_model_info');
  assert.equal(family?.type, 'gauge');
  return family.samples.map((s) => `${s.labels.model}/${s.labels.version}/${s.labels.stage}=${s.value}`).sort();
}

describe('nepse_prediction_model_info', () => {
  it('shows the current version of each model, replacing the old series on every swap, rollback and unload', async () => {
    const cache = new ModelCache({ releaseGraceMs: 0 });
    try {
      assert.deepEqual(await infoSeries(), []);
      cache.activate(fakeModel('nepse-ridge', 1));
      cache.activate(fakeModel('nepse-gbrt', 4));
      assert.deepEqual(await infoSeries(), ['nepse-gbrt/4/production=1', 'nepse-ridge/1/production=1']);
      cache.activate(fakeModel('nepse-ridge', 2));
      assert.deepEqual(await infoSeries(), ['nepse-gbrt/4/production=1', 'nepse-ridge/2/production=1'], 'v1 gone with the swap');
      // A rollback makes the retained v1 current again.
      cache.activate(cache.get('nepse-ridge', 1)!);
      assert.deepEqual(await infoSeries(), ['nepse-gbrt/4/production=1', 'nepse-ridge/1/production=1']);
      cache.deactivate('nepse-gbrt');
      assert.deepEqual(await infoSeries(), ['nepse-ridge/1/production=1'], 'no longer served, no series');
      cache.remove('nepse-ridge', 1);
      assert.deepEqual(await infoSeries(), []);
      cache.activate(fakeModel('nepse-ridge', 3));
    } finally {
      await cache.close();
    }
    assert.deepEqual(await infoSeries(), [], 'close() unloads everything');
  });
});
