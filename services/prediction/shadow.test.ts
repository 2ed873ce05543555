import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../lib/events/testing.js';
import { metricValue } from '../../testing/calls.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';
import { startPredictionBed, WIDTH, type PredictionBed } from '../../testing/prediction-bed.js';

const SYMBOLS = ['NABIL', 'NICA', 'SCB', 'HBL', 'EBL', 'SBI'];

describe('shadow work is bounded', () => {
  let bed: PredictionBed;

  before(async () => {
    // Room for one shadow prediction waiting: a batch of several overflows it at once.
    bed = await startPredictionBed({ symbols: SYMBOLS, env: { PREDICTION_SHADOW_QUEUE: '1' } });
    const weights = Array.from({ length: WIDTH }, (_, i) => 0.0002 * ((i % 3) - 1));
    const { modelVersion } = await bed.registry.registerModel(
      registerRequests(registrationFor(bed.model.name, WIDTH), linearModel({ width: WIDTH, weights, bias: -0.0001 })),
    );
    await bed.registry.setAlias({
      name: bed.model.name,
      alias: 'challenger',
      version: modelVersion!.version,
      actor: 'test',
      reason: 'shadow',
    });
    await waitFor(() => bed.prediction.aliases.get(bed.model.name, 'challenger'), 'the challenger to be loaded');
  });

  after(async () => {
    await bed?.stop();
  });

  it('answers every request while shadow work that does not fit the queue is dropped and counted', async () => {
    const port = bed.network.service('prediction').metricsPort!;
    const dropped = () => metricValue(port, 'nepse_prediction_shadow_dropped_total', { reason: 'queue_full' });
    const made = () => metricValue(port, 'nepse_prediction_shadow_total', { model: bed.model.name });
    const [droppedBefore, madeBefore] = [await dropped(), await made()];

    // One PredictBatch serves every symbol in one turn: the first shadow prediction takes the one
    // place in the queue, the others find it full.
    const { results } = await bed.client.predictBatch({ symbols: SYMBOLS });
    assert.deepEqual(
      results.map((r) => r.outcome.case),
      SYMBOLS.map(() => 'prediction'),
      'every symbol is answered',
    );
    assert.ok(results.every((r) => r.outcome.case === 'prediction' && r.outcome.value.modelVersion === bed.model.version));
    await bed.prediction.shadow.drain();

    assert.equal((await dropped()) - droppedBefore, SYMBOLS.length - 1, 'the shadow work that did not fit is counted as dropped');
    assert.equal((await made()) - madeBefore, 1, 'the shadow work that fit is made');
  });
});
