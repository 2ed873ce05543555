import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { FeatureVectorSchema } from '../../gen/nepse/feature/v1/feature_pb.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { FeatureCache } from './feature-cache.js';
import { predictionMetrics } from './metrics.js';

const SET = { name: 'ohlcv', version: 1 };
const vector = (symbol: string, day: number, first = 0) =>
  create(FeatureVectorSchema, {
    symbol,
    date: { year: 2024, month: 5, day },
    featureSet: SET,
    names: ['a', 'b'],
    values: [first, 1],
    close: 100,
  });
const cache = (freshMs = 60_000) => new FeatureCache({ freshMs, logger: createLogger('test', 'silent'), metrics: predictionMetrics() });

describe('feature cache: which vectors Predict serves without asking the feature service', () => {
  it('an announced vector is current until bars of its symbol with a later stream sequence arrive', () => {
    const c = cache();
    c.barsSeen('NABIL', 20240502, 5);
    c.remember(vector('NABIL', 2), 10);
    assert.equal(c.fresh(SET, 'NABIL', undefined)?.values[0], 0, 'announced after its bars: current');
    c.barsSeen('NABIL', 20240502, 12); // a corrected bar of the same day
    assert.equal(c.fresh(SET, 'NABIL', undefined), undefined, 'a correction came after it');
    assert.equal(c.latest(SET, 'NABIL')?.values[0], 0, 'still held for degraded answers');
    c.remember(vector('NABIL', 2, 7), 13);
    assert.equal(c.fresh(SET, 'NABIL', undefined)?.values[0], 7, 'the recomputed vector is current');
  });

  it('whichever consumer runs ahead: bars heard after their vector do not spoil it, a vector dated before the bars seen is never current', () => {
    const c = cache();
    c.remember(vector('NICA', 3), 20);
    c.barsSeen('NICA', 20240503, 18); // the bars that caused it, heard late
    assert.ok(c.fresh(SET, 'NICA', undefined));
    c.barsSeen('NICA', 20240506, 21); // a new day
    c.remember(vector('NICA', 3, 9), 22); // an earlier batch's event, published after those bars
    assert.equal(c.fresh(SET, 'NICA', undefined), undefined, 'dated before the latest bar seen');
    assert.equal(c.remember(vector('NICA', 3, 1), 19), false, 'an older event of the same day is not kept');
    assert.equal(c.latest(SET, 'NICA')?.values[0], 9);
  });

  it('answers of the feature service are used within their window, never after bars of their symbol; as-of lookups only by their own day', async () => {
    const c = cache(200);
    c.remember(vector('SCB', 4)); // an answer, not an event
    assert.ok(c.fresh(SET, 'SCB', undefined));
    assert.ok(c.fresh(SET, 'SCB', '2024-05-04'));
    assert.equal(c.fresh(SET, 'SCB', '2024-05-03'), undefined);
    c.barsSeen('SCB', 20240505, 30);
    assert.equal(c.fresh(SET, 'SCB', undefined), undefined, 'bars since the answer');
    c.remember(vector('HBL', 4));
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(c.fresh(SET, 'HBL', undefined), undefined, 'window over');
    assert.equal(c.fresh({ name: 'ohlcv', version: 2 }, 'HBL', undefined), undefined, 'another version of the set is another vector');
  });

  it('an answer of the day a current event brought does not replace it; window 0 serves nothing from the cache', () => {
    const c = cache();
    c.remember(vector('EBL', 2, 5), 40);
    assert.equal(c.remember(vector('EBL', 2, 6)), false);
    assert.equal(c.fresh(SET, 'EBL', undefined)?.values[0], 5);
    const off = cache(0);
    off.remember(vector('EBL', 2), 40);
    assert.equal(off.fresh(SET, 'EBL', undefined), undefined);
    assert.deepEqual(c.latest(SET, 'EBL')?.names, [], 'names dropped: the set says them');
  });
});
