import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OHLCV_V1 } from './ohlcv-v1.js';
import { randomWalkBars } from './testing.js';

/** Vectors compared bit for bit, values as their IEEE-754 bits (so -0 and 0 differ, NaN equals NaN). */
const bits = (rows: { date: string; close: number; values: number[] }[]) =>
  rows.map((r) => `${r.date} ${r.close} ${Array.from(new BigUint64Array(Float64Array.from(r.values).buffer)).join(',')}`);

describe('ohlcv_v1 resumed from a saved state', () => {
  it('appending bars a day at a time gives exactly the vectors of one computation over the whole history', () => {
    for (const turnover of ['always', 'never', 'sometimes'] as const) {
      const history = randomWalkBars(400, { seed: 7, turnover, dailyVolatility: 0.05 });
      const full = OHLCV_V1.compute(history);
      let { rows, state } = OHLCV_V1.computeFrom(history.slice(0, 120), 0);
      const appended = [...rows];
      for (let length = 121; length <= history.length; length++) {
        ({ rows, state } = OHLCV_V1.computeFrom(history.slice(0, length), length - 1, state));
        assert.equal(rows.length, 1);
        appended.push(...rows);
      }
      assert.deepEqual(bits(appended), bits(full), `turnover ${turnover}`);
    }
  });

  it('appending a block of days resumes too, and matches from the first day the history has vectors', () => {
    const history = randomWalkBars(1000, { seed: 11 });
    const full = OHLCV_V1.compute(history);
    const head = OHLCV_V1.computeFrom(history.slice(0, 30), 0);
    assert.deepEqual(head.rows, [], 'no vector inside the warm-up');
    const middle = OHLCV_V1.computeFrom(history.slice(0, 700), 30, head.state);
    const tail = OHLCV_V1.computeFrom(history, 700, middle.state);
    assert.deepEqual(bits([...middle.rows, ...tail.rows]), bits(full));
  });

  it('a state that does not cover exactly the bars before `from` is not used: the result is still exact', () => {
    const history = randomWalkBars(600, { seed: 3 });
    const full = OHLCV_V1.compute(history);
    const early = OHLCV_V1.computeFrom(history.slice(0, 300), 0);
    // Stale: covers 300 bars, asked to go on at 500.
    assert.deepEqual(bits(OHLCV_V1.computeFrom(history, 500, early.state).rows), bits(full.slice(500 - 49)));
    // A state that ended on another day than the bar before `from`: the past changed underneath.
    assert.deepEqual(
      bits(OHLCV_V1.computeFrom(history, 300, { ...(early.state as object), lastDate: 'x' }).rows),
      bits(full.slice(300 - 49)),
    );
  });

  it('a resumed computation reads no bar before from - resumeLookback', () => {
    const history = randomWalkBars(500, { seed: 13, turnover: 'sometimes' });
    const before = OHLCV_V1.computeFrom(history.slice(0, 480), 0);
    const lookback = OHLCV_V1.resumeLookback!;
    // Only the bars a resumed computation may read are there; the rest are holes.
    const sparse = new Array<(typeof history)[number]>(history.length);
    for (let t = 480 - lookback; t < history.length; t++) sparse[t] = history[t];
    const resumed = OHLCV_V1.computeFrom(sparse, 480, before.state);
    assert.deepEqual(bits(resumed.rows), bits(OHLCV_V1.compute(history).slice(480 - 49)));
    assert.deepEqual(resumed.state, OHLCV_V1.computeFrom(history, 480, before.state).state);
  });
});
