import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ema, logReturns, rollingMean, rollingStd, rollingZScore, rsi, trueRange, wilderSmooth } from './indicators.js';
import { randomWalkBars, seededRandom } from './testing.js';

/** Asserts |actual − expected| <= tolerance at every index where expected is a number, NaN where it is null. */
function assertColumn(actual: Float64Array, expected: readonly (number | null)[], tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  expected.forEach((want, t) => {
    if (want === null) assert.ok(Number.isNaN(actual[t]), `${label}[${t}] should not exist yet, got ${actual[t]}`);
    else assert.ok(Math.abs(actual[t] - want) <= tolerance, `${label}[${t}] = ${actual[t]}, published ${want} (±${tolerance})`);
  });
}

const none = (count: number): null[] => new Array<null>(count).fill(null);

// StockCharts ChartSchool worked examples (cs-rsi.xls, cs-atr.xls, cs-bbands.xls), as published.
// The RSI sheet's closes carry 4 decimals; rounded to 2 (44.34, 44.09 …) they give a first RSI of
// 70.47, not the published 70.53, so the sheet's own closes are used.
const RSI_CLOSES = [
  44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931, 46.0328, 45.614, 46.282, 46.282,
  46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672,
  43.4205, 42.6628, 43.1314,
];
/** Published RSI 14 from bar 14 on, rounded to 2 decimals as the chart page shows them. */
const RSI_PUBLISHED = [
  70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.3, 33.08, 37.77,
];

const ATR_HIGH = [
  48.7, 48.72, 48.9, 48.87, 48.82, 49.05, 49.2, 49.35, 49.92, 50.19, 50.12, 49.66, 49.88, 50.19, 50.36, 50.57, 50.65, 50.43, 49.63, 50.33,
  50.29, 50.17, 49.32, 48.5, 48.3201, 46.8, 47.8, 48.39, 48.66, 48.79,
];
const ATR_LOW = [
  47.79, 48.14, 48.39, 48.37, 48.24, 48.635, 48.94, 48.86, 49.5, 49.87, 49.2, 48.9, 49.43, 49.725, 49.26, 50.09, 50.3, 49.21, 48.98, 49.61,
  49.2, 49.43, 48.08, 47.64, 41.55, 44.2833, 47.31, 47.2, 47.9, 47.7301,
];
const ATR_CLOSE = [
  48.16, 48.61, 48.75, 48.63, 48.74, 49.03, 49.07, 49.32, 49.91, 50.13, 49.53, 49.5, 49.75, 50.03, 50.31, 50.52, 50.41, 49.34, 49.37, 50.23,
  49.2375, 49.93, 48.43, 48.18, 46.57, 45.41, 47.77, 47.72, 48.62, 47.85,
];
const TR_PUBLISHED = [
  0.91, 0.58, 0.51, 0.5, 0.58, 0.415, 0.26, 0.49, 0.6, 0.32, 0.93, 0.76, 0.45, 0.465, 1.1, 0.48, 0.35, 1.22, 0.65, 0.96, 1.09, 0.9325, 1.85,
  0.86, 6.7701, 2.5167, 2.39, 1.19, 0.94, 1.0599,
];
/** Published ATR 14 (StockCharts seeds with the first 14 ranges, bar 0's high − low included), 6 decimals. */
const ATR_PUBLISHED = [
  0.555, 0.593929, 0.585791, 0.568949, 0.615452, 0.61792, 0.642354, 0.674329, 0.69277, 0.775429, 0.78147, 1.209229, 1.30262, 1.38029,
  1.366698, 1.336219, 1.316482,
];

const BB_CLOSES = [
  86.1557, 89.0867, 88.7829, 90.3228, 89.0671, 91.1453, 89.4397, 89.175, 86.9302, 87.6752, 86.9596, 89.4299, 89.3221, 88.7241, 87.4497,
  87.2634, 89.4985, 87.9006, 89.126, 90.7043, 92.9001, 92.9784, 91.8021, 92.6647, 92.6843, 92.3021, 92.7725, 92.5373, 92.949, 93.2039,
  91.0669, 89.8318, 89.7435, 90.3994, 90.7387, 88.0177, 88.0867, 88.8439, 90.7781, 90.5416, 91.3894, 90.65,
];
/** Published middle band (SMA 20) and population standard deviation from bar 19 on. */
const BB_MIDDLE = [
  88.70794, 89.04516, 89.239745, 89.390705, 89.5078, 89.68866, 89.7465, 89.91314, 90.081255, 90.382195, 90.65863, 90.863995, 90.88409,
  90.90516, 90.988925, 91.153375, 91.19109, 91.1205, 91.167665, 91.25027, 91.242135, 91.1666, 91.05018,
];
const BB_SIGMA = [
  1.291961, 1.452054, 1.686425, 1.771747, 1.902075, 2.019895, 2.076546, 2.176557, 2.241921, 2.202359, 2.192185, 2.021805, 2.009411, 1.99508,
  1.936044, 1.760127, 1.682751, 1.779126, 1.70406, 1.642001, 1.645086, 1.601325, 1.549162,
];

describe('published worked examples', () => {
  it("RSI 14 reproduces StockCharts' Wilder example to the published 0.01", () => {
    assertColumn(rsi(RSI_CLOSES, 14), [...none(14), ...RSI_PUBLISHED], 0.005 + 1e-9, 'rsi');
  });

  it('true range and ATR 14 reproduce the StockCharts example', () => {
    const range = trueRange(ATR_HIGH, ATR_LOW, ATR_CLOSE);
    assertColumn(range, TR_PUBLISHED, 1e-9, 'true range');
    // StockCharts' ATR includes bar 0's high − low in its seed: smoothing from index 0.
    assertColumn(wilderSmooth(range, 14), [...none(13), ...ATR_PUBLISHED], 5e-7 + 1e-9, 'atr');
  });

  it('Bollinger middle band and population deviation reproduce the StockCharts example', () => {
    assertColumn(rollingMean(BB_CLOSES, 20), [...none(19), ...BB_MIDDLE], 5e-6, 'sma 20');
    assertColumn(rollingStd(BB_CLOSES, 20, 0), [...none(19), ...BB_SIGMA], 5e-7 + 1e-9, 'population sd 20');
  });
});

describe('hand-computed values', () => {
  it('log returns over k steps', () => {
    assertColumn(logReturns([100, 110, 121], 1), [null, Math.log(1.1), Math.log(1.1)], 1e-15, 'k=1');
    assertColumn(logReturns([100, 110, 121], 2), [null, null, Math.log(1.21)], 1e-15, 'k=2');
  });

  it('moving average, with the window held back by `from`', () => {
    assertColumn(rollingMean([1, 2, 3, 4, 5], 3), [null, null, 2, 3, 4], 0, 'sma 3');
    assertColumn(rollingMean([99, 1, 2, 3], 2, 1), [null, null, 1.5, 2.5], 0, 'sma 2 from 1');
  });

  it('standard deviation and z-score on 1…5', () => {
    assertColumn(rollingStd([1, 2, 3, 4, 5], 5, 0), [null, null, null, null, Math.sqrt(2)], 1e-15, 'population');
    assertColumn(rollingStd([1, 2, 3, 4, 5], 5, 1), [null, null, null, null, Math.sqrt(2.5)], 1e-15, 'sample');
    assertColumn(rollingZScore([1, 2, 3, 4, 5], 5, 0), [null, null, null, null, 2 / Math.sqrt(2)], 1e-15, 'z');
  });

  it('flat windows have exactly zero deviation and a zero z-score, at any level', () => {
    for (const level of [0, 0.1, 1e4 + 0.1, 1e15 / 3]) {
      const flat = new Array(30).fill(level);
      assert.ok(
        rollingStd(flat, 20, 1)
          .slice(19)
          .every((v) => v === 0),
        `sd at ${level}`,
      );
      assert.ok(
        rollingZScore(flat, 20, 0)
          .slice(19)
          .every((v) => v === 0),
        `z at ${level}`,
      );
    }
  });

  it('EMA is seeded with the simple mean of the first n values', () => {
    // alpha = 2/(3+1) = 0.5: 2, then 0.5*4 + 0.5*2 = 3, then 0.5*5 + 0.5*3 = 4.
    assertColumn(ema([1, 2, 3, 4, 5], 3), [null, null, 2, 3, 4], 0, 'ema 3');
    assertColumn(ema([50, 1, 2, 3, 4, 5], 3, 1), [null, null, null, 2, 3, 4], 0, 'ema 3 from 1');
  });

  it("Wilder's smoothing is (previous*(n-1) + x)/n after a simple-mean seed", () => {
    assertColumn(wilderSmooth([1, 2, 3, 4], 3), [null, null, 2, 8 / 3], 1e-15, 'wilder 3');
  });

  it('true range reaches back to the previous close across gaps', () => {
    // Gap up: previous close 10, today 13–15 → 5. Gap down: previous close 15, today 9–11 → 6.
    assertColumn(trueRange([12, 15, 11], [9, 13, 9], [10, 15, 10]), [3, 5, 6], 0, 'tr');
  });

  it('RSI is 100 when prices only rise, 0 when they only fall, 50 when they never move', () => {
    const up = Array.from({ length: 20 }, (_, i) => 100 + i);
    const down = Array.from({ length: 20 }, (_, i) => 100 - i);
    assert.ok(
      rsi(up, 14)
        .slice(14)
        .every((v) => v === 100),
    );
    assert.ok(
      rsi(down, 14)
        .slice(14)
        .every((v) => v === 0),
    );
    assert.ok(
      rsi(new Array(20).fill(7), 14)
        .slice(14)
        .every((v) => v === 50),
    );
  });

  it('refuses windows that make no sense', () => {
    assert.throws(() => rollingMean([1, 2], 0), RangeError);
    assert.throws(() => rollingStd([1, 2], 1, 1), RangeError);
    assert.throws(() => ema([1, 2], 2.5), RangeError);
  });
});

describe('accuracy and causality at scale', () => {
  const closes = randomWalkBars(5000, { startPrice: 1e4, dailyVolatility: 0.005, seed: 7 }).map((bar) => bar.close);

  it('running and windowed sums stay within 1e-9 of direct sums over 5,000 values near 1e4', () => {
    const mean = rollingMean(closes, 50);
    const sd = rollingStd(closes, 20, 1);
    for (let t = 0; t < closes.length; t++) {
      if (t >= 49) {
        let sum = 0;
        for (let i = t - 49; i <= t; i++) sum += closes[i];
        assert.ok(Math.abs(mean[t] - sum / 50) <= 1e-9, `mean at ${t}`);
      }
      if (t >= 19) {
        const window = closes.slice(t - 19, t + 1);
        const m = window.reduce((a, b) => a + b, 0) / 20;
        const variance = window.reduce((a, b) => a + (b - m) ** 2, 0) / 19;
        assert.ok(Math.abs(sd[t] - Math.sqrt(variance)) <= 1e-9, `sd at ${t}`);
      }
    }
  });

  it('the moving average survives a huge value leaving the window (no cancellation to zero)', () => {
    // A plain running sum gives (1e15 + 5e-12) − 1e15 = 0 here, and close / SMA = Infinity.
    const values = [1e15, ...new Array<number>(10).fill(1e-12), 1e15, 3e-12, 3e-12, 3e-12, 3e-12, 3e-12];
    const mean = rollingMean(values, 5);
    for (let t = 4; t < values.length; t++) {
      const direct = values.slice(t - 4, t + 1).reduce((a, b) => a + b, 0) / 5;
      assert.ok(Math.abs(mean[t] - direct) <= 1e-13 * direct, `t=${t}: ${mean[t]} vs ${direct}`);
    }
  });

  it('a value at t is bit-identical whatever follows t', () => {
    const random = seededRandom(3);
    const blocks = [
      (v: number[]) => logReturns(v, 5),
      (v: number[]) => rollingMean(v, 50),
      (v: number[]) => rollingStd(v, 20, 1),
      (v: number[]) => rollingZScore(v, 20, 0),
      (v: number[]) => ema(v, 12),
      (v: number[]) => wilderSmooth(v, 14),
      (v: number[]) => rsi(v, 14),
      (v: number[]) => trueRange(v, v, v),
    ];
    for (let trial = 0; trial < 10; trial++) {
      const t = 60 + Math.floor(random() * 400);
      const changed = closes.slice(0, 600).map((v, i) => (i > t ? v * (0.5 + random()) : v));
      for (const block of blocks) {
        assert.deepEqual(block(changed).slice(0, t + 1), block(closes.slice(0, t + 1)));
      }
    }
  });
});
