import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DailyBar } from './feature-set.js';
import { OHLCV_V1, ohlcvV1Columns } from './ohlcv-v1.js';
import { addDays, randomWalkBars, seededRandom } from './testing.js';

// ---------------------------------------------------------------------------------------------
// A straightforward reference: textbook formulas in plain loops, written from the definitions
// and sharing no code with indicators.ts. Slow on purpose (windows re-summed at every bar).
// ---------------------------------------------------------------------------------------------

const mean = (xs: readonly number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
const allEqual = (xs: readonly number[]) => xs.every((x) => x === xs[0]);
function deviation(xs: readonly number[], divisor: number): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((sum, x) => sum + (x - m) * (x - m), 0) / divisor);
}

/** Textbook EMA (StockCharts form): SMA seed over xs[start … start+n-1], then (x − prev)·k + prev. */
function textbookEma(xs: readonly number[], n: number, start: number): number[] {
  const out: number[] = [];
  out[start + n - 1] = mean(xs.slice(start, start + n));
  const k = 2 / (n + 1);
  for (let i = start + n; i < xs.length; i++) out[i] = (xs[i] - out[i - 1]) * k + out[i - 1];
  return out;
}

/** Wilder average over xs[start …]: simple mean of the first n, then (prev·(n−1) + x)/n. */
function textbookWilder(xs: readonly number[], n: number, start: number): number[] {
  const out: number[] = [];
  out[start + n - 1] = mean(xs.slice(start, start + n));
  for (let i = start + n; i < xs.length; i++) out[i] = (out[i - 1] * (n - 1) + xs[i]) / n;
  return out;
}

/** Every feature of ohlcv_v1 by name for bars 49 … end. */
function reference(bars: readonly DailyBar[]): Record<string, number>[] {
  const close = bars.map((b) => b.close);
  const turnover = bars.map((b) => b.turnover ?? b.close * b.volume);
  const volume = bars.map((b) => b.volume);
  const ema12 = textbookEma(close, 12, 0);
  const ema26 = textbookEma(close, 26, 0);
  const macd: number[] = [];
  for (let i = 25; i < bars.length; i++) macd[i] = ema12[i] - ema26[i];
  const signal = textbookEma(macd, 9, 25);
  const gains: number[] = [];
  const losses: number[] = [];
  const ranges: number[] = [];
  for (let i = 1; i < bars.length; i++) {
    const change = close[i] - close[i - 1];
    gains[i] = Math.max(change, 0);
    losses[i] = Math.max(-change, 0);
    const { high, low } = bars[i];
    ranges[i] = Math.max(high - low, Math.abs(high - close[i - 1]), Math.abs(low - close[i - 1]));
  }
  const averageGain = textbookWilder(gains, 14, 1);
  const averageLoss = textbookWilder(losses, 14, 1);
  const atr = textbookWilder(ranges, 14, 1);
  const zScore = (xs: number[], t: number) => {
    const window = xs.slice(t - 19, t + 1);
    return allEqual(window) ? 0 : (xs[t] - mean(window)) / deviation(window, 20);
  };

  const rows: Record<string, number>[] = [];
  for (let t = 49; t < bars.length; t++) {
    const c = close[t];
    const row: Record<string, number> = {};
    for (const k of [1, 5, 10, 20]) row[`log_return_${k}d`] = Math.log(c / close[t - k]);
    for (const n of [5, 10, 20, 50]) row[`close_sma_${n}_ratio`] = c / mean(close.slice(t - n + 1, t + 1)) - 1;
    row.close_ema_12_ratio = c / ema12[t] - 1;
    row.close_ema_26_ratio = c / ema26[t] - 1;
    row.macd_12_26_norm = macd[t] / c;
    row.macd_signal_9_norm = signal[t] / c;
    row.macd_hist_norm = (macd[t] - signal[t]) / c;
    const [g, l] = [averageGain[t], averageLoss[t]];
    row.rsi_14 = l === 0 ? (g === 0 ? 50 : 100) : 100 - 100 / (1 + g / l);
    const window = close.slice(t - 19, t + 1);
    const middle = mean(window);
    const upper = middle + 2 * deviation(window, 20);
    const lower = middle - 2 * deviation(window, 20);
    row.bollinger_pct_b_20_2 = allEqual(window) ? 0.5 : (c - lower) / (upper - lower);
    row.atr_14_ratio = atr[t] / c;
    for (const n of [10, 20]) {
      const returns: number[] = [];
      for (let i = t - n + 1; i <= t; i++) returns.push(Math.log(close[i] / close[i - 1]));
      row[`realised_vol_${n}d`] = deviation(returns, n - 1);
    }
    row.volume_zscore_20 = zScore(volume, t);
    row.turnover_zscore_20 = zScore(turnover, t);
    row.intraday_range = (bars[t].high - bars[t].low) / c;
    const day = new Date(`${bars[t].date}T00:00:00Z`);
    row.day_of_week_sin = Math.sin((2 * Math.PI * day.getUTCDay()) / 7);
    row.day_of_week_cos = Math.cos((2 * Math.PI * day.getUTCDay()) / 7);
    row.month_of_year_sin = Math.sin((2 * Math.PI * day.getUTCMonth()) / 12);
    row.month_of_year_cos = Math.cos((2 * Math.PI * day.getUTCMonth()) / 12);
    rows.push(row);
  }
  return rows;
}

function assertMatchesReference(bars: readonly DailyBar[], tolerance: number): void {
  const names = OHLCV_V1.features.map((f) => f.name);
  const expected = reference(bars);
  const rows = OHLCV_V1.compute(bars);
  assert.equal(rows.length, expected.length);
  rows.forEach((row, j) => {
    const bar = bars[j + 49];
    assert.equal(row.date, bar.date);
    assert.equal(row.close, bar.close);
    assert.deepEqual(Object.keys(expected[j]).sort(), [...names].sort(), 'reference and set name the same features');
    names.forEach((name, i) => {
      const difference = Math.abs(row.values[i] - expected[j][name]);
      assert.ok(difference <= tolerance, `${name} on ${row.date}: ${row.values[i]} vs reference ${expected[j][name]} (Δ ${difference})`);
    });
  });
}

/** An illiquid stretch as NEPSE has them: no trade for `length` sessions, so the close stands still. */
function withFlatStretch(bars: DailyBar[], from: number, length: number): DailyBar[] {
  return bars.map((bar, i) => {
    if (i < from || i >= from + length) return bar;
    const close = bars[from - 1].close;
    return { ...bar, open: close, high: close, low: close, close, volume: 0, turnover: 0 };
  });
}

describe('ohlcv_v1 against a reference implementation', () => {
  it('matches every feature on every date of a 120-bar random walk within 1e-9', () => {
    assertMatchesReference(randomWalkBars(120, { seed: 42 }), 1e-9);
  });

  it('matches over 5,000 bars at price levels near 1e4 (no running-sum drift)', () => {
    assertMatchesReference(randomWalkBars(5000, { seed: 11, startPrice: 1e4, dailyVolatility: 0.005, turnover: 'sometimes' }), 1e-9);
  });

  it('matches through illiquid stretches (flat closes, zero volume) and out of them', () => {
    const bars = withFlatStretch(withFlatStretch(randomWalkBars(200, { seed: 5 }), 60, 30), 130, 12);
    assertMatchesReference(bars, 1e-9);
  });
});

describe('ohlcv_v1 on published and hand-computed examples', () => {
  const barsOf = (closes: readonly number[]): DailyBar[] =>
    closes.map((close, i) => ({ date: addDays('2024-01-01', i), open: close, high: close, low: close, close, volume: 1 }));

  it("rsi_14 reproduces StockCharts' Wilder example to the published 0.01", () => {
    const closes = [
      44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931, 46.0328, 45.614, 46.282, 46.282,
      46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548,
    ];
    const published = [70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42];
    const rsi = ohlcvV1Columns(barsOf(closes))[OHLCV_V1.features.findIndex((f) => f.name === 'rsi_14')];
    published.forEach((value, i) => assert.ok(Math.abs(rsi[14 + i] - value) <= 0.005 + 1e-9, `RSI at bar ${14 + i}: ${rsi[14 + i]}`));
  });

  it('SMA ratios and %B on the closes 1 … 20, by hand', () => {
    // SMA20 = 10.5; population sd of 1..20 = sqrt((20² − 1)/12) = sqrt(33.25);
    // %B = (20 − (10.5 − 2sd)) / 4sd = 0.5 + 9.5/(4·sqrt(33.25)); SMA5 = 18.
    const columns = ohlcvV1Columns(barsOf(Array.from({ length: 20 }, (_, i) => i + 1)));
    const at = (name: string) => columns[OHLCV_V1.features.findIndex((f) => f.name === name)][19];
    assert.ok(Math.abs(at('close_sma_20_ratio') - (20 / 10.5 - 1)) <= 1e-15);
    assert.ok(Math.abs(at('close_sma_5_ratio') - (20 / 18 - 1)) <= 1e-15);
    assert.ok(Math.abs(at('bollinger_pct_b_20_2') - (0.5 + 9.5 / (4 * Math.sqrt(33.25)))) <= 1e-15);
  });

  it('calendar features of known days (2024-01-14 was a Sunday; 2024-06-20 a Thursday)', () => {
    const columns = ohlcvV1Columns(barsOf([1, 1]).map((bar, i) => ({ ...bar, date: ['2024-01-14', '2024-06-20'][i] })));
    const value = (name: string, t: number) => columns[OHLCV_V1.features.findIndex((f) => f.name === name)][t];
    assert.equal(value('day_of_week_sin', 0), 0);
    assert.equal(value('day_of_week_cos', 0), 1);
    assert.equal(value('month_of_year_sin', 0), 0);
    assert.equal(value('month_of_year_cos', 0), 1);
    assert.equal(value('day_of_week_sin', 1), Math.sin((2 * Math.PI * 4) / 7));
    assert.equal(value('month_of_year_cos', 1), Math.cos((2 * Math.PI * 5) / 12));
  });
});

describe('ohlcv_v1 contract', () => {
  it('keeps its name, version, names and order', () => {
    assert.equal(OHLCV_V1.name, 'ohlcv');
    assert.equal(OHLCV_V1.version, 1);
    assert.equal(OHLCV_V1.warmUpDays, 50);
    assert.deepEqual(
      OHLCV_V1.features.map((f) => `${f.name}:${f.warmUpDays}`),
      [
        'log_return_1d:2',
        'log_return_5d:6',
        'log_return_10d:11',
        'log_return_20d:21',
        'close_sma_5_ratio:5',
        'close_sma_10_ratio:10',
        'close_sma_20_ratio:20',
        'close_sma_50_ratio:50',
        'close_ema_12_ratio:12',
        'close_ema_26_ratio:26',
        'macd_12_26_norm:26',
        'macd_signal_9_norm:34',
        'macd_hist_norm:34',
        'rsi_14:15',
        'bollinger_pct_b_20_2:20',
        'atr_14_ratio:15',
        'realised_vol_10d:11',
        'realised_vol_20d:21',
        'volume_zscore_20:20',
        'turnover_zscore_20:20',
        'intraday_range:1',
        'day_of_week_sin:1',
        'day_of_week_cos:1',
        'month_of_year_sin:1',
        'month_of_year_cos:1',
      ],
    );
    for (const feature of OHLCV_V1.features) {
      assert.match(feature.name, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      assert.ok(feature.description.length > 20, feature.name);
    }
    assert.ok(Object.isFrozen(OHLCV_V1) && Object.isFrozen(OHLCV_V1.features));
  });

  it('declares each warm-up exactly: first value at warmUpDays − 1, finite from there on', () => {
    const columns = ohlcvV1Columns(randomWalkBars(120, { seed: 3 }));
    OHLCV_V1.features.forEach((feature, i) => {
      const first = columns[i].findIndex((v) => !Number.isNaN(v));
      assert.equal(first, feature.warmUpDays - 1, feature.name);
      assert.ok(columns[i].slice(first).every(Number.isFinite), feature.name);
    });
  });

  it('gives no vector for 49 bars, exactly one for 50, dated on the 50th bar', () => {
    const bars = randomWalkBars(51, { seed: 8 });
    assert.deepEqual(OHLCV_V1.compute(bars.slice(0, 49)), []);
    assert.deepEqual(OHLCV_V1.compute([]), []);
    const one = OHLCV_V1.compute(bars.slice(0, 50));
    assert.equal(one.length, 1);
    assert.equal(one[0].date, bars[49].date);
    assert.equal(one[0].values.length, OHLCV_V1.features.length);
    assert.equal(OHLCV_V1.compute(bars).length, 2);
  });
});

describe('ohlcv_v1 is point-in-time correct', () => {
  const bars = randomWalkBars(300, { seed: 99, turnover: 'sometimes' });
  const full = OHLCV_V1.compute(bars);
  const random = seededRandom(2024);

  it('changing or appending bars after t leaves every vector at or before t bit-identical', () => {
    for (let trial = 0; trial < 25; trial++) {
      const t = 49 + Math.floor(random() * 250);
      const changed = bars.map((bar, i) => {
        if (i <= t) return bar;
        const factor = 0.5 + random();
        return {
          ...bar,
          open: bar.open * factor,
          high: bar.high * factor * 1.1,
          low: bar.low * factor * 0.9,
          close: bar.close * factor,
          volume: Math.floor(random() * 1e6),
          turnover: random() < 0.5 ? undefined : random() * 1e8,
        };
      });
      const appended = [...changed, ...randomWalkBars(30, { seed: trial, startDate: addDays(bars[bars.length - 1].date, 1) })];
      const upToT = (rows: typeof full) => rows.filter((row) => row.date <= bars[t].date);
      const expected = upToT(full);
      assert.equal(expected.length, t - 48);
      // deepEqual compares numbers with Object.is: bit-identical, -0 and 0 told apart.
      assert.deepEqual(upToT(OHLCV_V1.compute(changed)), expected, `changed after bar ${t}`);
      assert.deepEqual(upToT(OHLCV_V1.compute(appended)), expected, `appended after bar ${t}`);
    }
  });

  it('the vector of bar t from the history truncated at t is the one from the full history', () => {
    for (let trial = 0; trial < 25; trial++) {
      const t = 49 + Math.floor(random() * 250);
      const prefix = OHLCV_V1.compute(bars.slice(0, t + 1));
      assert.deepEqual(prefix[prefix.length - 1], full[t - 49]);
    }
  });
});
