import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidBackoff, retryDelayMs } from './backoff.js';

describe('retryDelayMs', () => {
  it('follows the schedule and repeats its last entry', () => {
    const none = () => 0.5; // the middle of the jitter range: exactly the scheduled delay
    assert.equal(retryDelayMs(1, [100, 200, 400], 0.2, none), 100);
    assert.equal(retryDelayMs(2, [100, 200, 400], 0.2, none), 200);
    assert.equal(retryDelayMs(3, [100, 200, 400], 0.2, none), 400);
    assert.equal(retryDelayMs(9, [100, 200, 400], 0.2, none), 400);
    assert.equal(retryDelayMs(0, [100, 200], 0.2, none), 100);
    assert.equal(retryDelayMs(3, [], 0.2, none), 0);
  });

  it('spreads delays within ±jitter', () => {
    assert.equal(
      retryDelayMs(1, [1000], 0.2, () => 0),
      800,
    );
    assert.equal(
      retryDelayMs(1, [1000], 0.2, () => 0.999999),
      1200,
    );
    for (let i = 0; i < 200; i++) {
      const d = retryDelayMs(1, [1000]);
      assert.ok(d >= 800 && d <= 1200, String(d));
    }
    assert.equal(
      retryDelayMs(1, [1000], 0, () => 0.9),
      1000,
    );
  });

  it('validates schedules', () => {
    assert.ok(isValidBackoff([0, 10]));
    assert.equal(isValidBackoff([-1]), false);
    assert.equal(isValidBackoff([Number.NaN]), false);
  });
});
