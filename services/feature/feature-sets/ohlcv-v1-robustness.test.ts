import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidHistoryError, MAX_PRICE, MAX_QUANTITY, MIN_PRICE, type DailyBar } from './feature-set.js';
import { OHLCV_V1 } from './ohlcv-v1.js';
import { addDays, randomWalkBars, seededRandom } from './testing.js';

const NAMES = OHLCV_V1.features.map((f) => f.name);

function assertAllFinite(bars: readonly DailyBar[], label: string): ReturnType<typeof OHLCV_V1.compute> {
  const rows = OHLCV_V1.compute(bars);
  assert.equal(rows.length, Math.max(0, bars.length - 49), label);
  for (const row of rows) {
    row.values.forEach((value, i) => assert.ok(Number.isFinite(value), `${label}: ${NAMES[i]} is ${value} on ${row.date}`));
  }
  return rows;
}

/** `count` sessions whose OHLCV come from `make(i)`, on consecutive calendar days. */
function series(count: number, make: (i: number) => Omit<DailyBar, 'date'>): DailyBar[] {
  return Array.from({ length: count }, (_, i) => ({ date: addDays('2023-01-01', i), ...make(i) }));
}

describe('ohlcv_v1 never emits NaN or Infinity', () => {
  it('flat prices give the neutral value of every feature', () => {
    const rows = assertAllFinite(
      series(60, () => ({ open: 100.1, high: 100.1, low: 100.1, close: 100.1, volume: 500, turnover: 50050 })),
      'flat',
    );
    const exact: Record<string, number> = { rsi_14: 50, bollinger_pct_b_20_2: 0.5, volume_zscore_20: 0, turnover_zscore_20: 0 };
    for (const row of rows) {
      row.values.forEach((value, i) => {
        const name = NAMES[i];
        if (name in exact) assert.equal(value, exact[name], name);
        else if (!name.startsWith('day_') && !name.startsWith('month_')) assert.ok(Math.abs(value) <= 1e-15, `${name} = ${value}`);
      });
    }
  });

  it('zero volume throughout, with and without turnover', () => {
    for (const turnover of [undefined, 0]) {
      const bars = randomWalkBars(80, { seed: 4, turnover: 'never' }).map((bar) => ({ ...bar, volume: 0, turnover }));
      const rows = assertAllFinite(bars, `zero volume, turnover ${turnover}`);
      const volumeZ = NAMES.indexOf('volume_zscore_20');
      const turnoverZ = NAMES.indexOf('turnover_zscore_20');
      assert.ok(rows.every((row) => row.values[volumeZ] === 0 && row.values[turnoverZ] === 0));
    }
  });

  it('extreme but accepted magnitudes: largest and smallest prices and quantities, and jumps between them', () => {
    assertAllFinite(
      series(70, () => ({ open: MAX_PRICE, high: MAX_PRICE, low: MAX_PRICE, close: MAX_PRICE, volume: MAX_QUANTITY })),
      'max',
    );
    assertAllFinite(
      series(70, () => ({ open: MIN_PRICE, high: MIN_PRICE, low: MIN_PRICE, close: MIN_PRICE, volume: 0 })),
      'min',
    );
    assertAllFinite(
      series(70, (i) => {
        const close = i % 2 ? MAX_PRICE : MIN_PRICE;
        return { open: close, high: MAX_PRICE, low: MIN_PRICE, close, volume: i % 3 ? MAX_QUANTITY : 0 };
      }),
      'alternating extremes',
    );
    // One huge close among tiny ones: a plain running sum cancels to 0 once it leaves the window.
    assertAllFinite(
      series(120, (i) => {
        const close = i === 10 ? MAX_PRICE : MIN_PRICE;
        return { open: close, high: close, low: close, close, volume: 1 };
      }),
      'one spike',
    );
    assertAllFinite(
      randomWalkBars(300, { seed: 6, startPrice: 1e6, dailyVolatility: 0.3 }).map((bar) => ({ ...bar, volume: bar.volume * 1e12 })),
      'wild random walk',
    );
  });

  it('turnover missing on every bar, or on some bars only; null counts as missing', () => {
    const never = randomWalkBars(100, { seed: 12, turnover: 'never' });
    assertAllFinite(never, 'never');
    assertAllFinite(randomWalkBars(100, { seed: 13, turnover: 'sometimes' }), 'sometimes');
    const asNull = never.map((bar) => ({ ...bar, turnover: null as unknown as undefined }));
    const asProduct = never.map((bar) => ({ ...bar, turnover: bar.close * bar.volume }));
    assert.deepEqual(OHLCV_V1.compute(asNull), OHLCV_V1.compute(never));
    assert.deepEqual(OHLCV_V1.compute(asProduct), OHLCV_V1.compute(never));
  });

  it('random histories drawn from the edges of the accepted ranges', () => {
    const random = seededRandom(77);
    const pick = <T>(choices: readonly T[]): T => choices[Math.floor(random() * choices.length)];
    const prices = [MIN_PRICE, MAX_PRICE, 1, 1e-6, 1e9, 123.45];
    for (let trial = 0; trial < 200; trial++) {
      const bars = series(50 + Math.floor(random() * 40), () => {
        const clamp = (v: number) => Math.min(MAX_PRICE, Math.max(MIN_PRICE, v));
        const close = clamp(random() < 0.3 ? pick(prices) : pick(prices) * (0.5 + random()));
        return {
          open: close,
          high: clamp(close * (1 + random())),
          low: clamp(close * random()),
          close,
          volume: pick([0, MAX_QUANTITY, 1, Math.floor(random() * 1e6)]),
          turnover: pick([undefined, 0, MAX_QUANTITY, random() * 1e9]),
        };
      });
      assertAllFinite(bars, `trial ${trial}`);
    }
  });
});

describe('ohlcv_v1 refuses a history it cannot compute from, naming the bar and field', () => {
  const good = randomWalkBars(60, { seed: 21 });
  const broken = (index: number, change: Partial<Record<keyof DailyBar, unknown>>) =>
    good.map((bar, i) => (i === index ? ({ ...bar, ...change } as DailyBar) : bar));

  const cases: [string, DailyBar[], number, keyof DailyBar][] = [
    ['close 0', broken(30, { close: 0 }), 30, 'close'],
    ['negative low', broken(5, { low: -1 }), 5, 'low'],
    ['NaN volume', broken(55, { volume: Number.NaN }), 55, 'volume'],
    ['negative volume', broken(10, { volume: -5 }), 10, 'volume'],
    ['infinite turnover', broken(3, { turnover: Number.POSITIVE_INFINITY }), 3, 'turnover'],
    ['numeric string close', broken(7, { close: '100' }), 7, 'close'],
    ['price above MAX_PRICE', broken(8, { high: MAX_PRICE * 10 }), 8, 'high'],
    ['low above high', broken(9, { low: good[9].high * 2 }), 9, 'low'],
    ['duplicate date', broken(20, { date: good[19].date }), 20, 'date'],
    ['unsorted dates', [...good.slice(0, 40), good[41], good[40], ...good.slice(42)], 41, 'date'],
    ['malformed date', broken(0, { date: '2024-1-05' }), 0, 'date'],
    ['day that does not exist', broken(0, { date: '2019-02-29' }), 0, 'date'],
  ];
  for (const [label, bars, index, field] of cases) {
    it(label, () => {
      assert.throws(
        () => OHLCV_V1.compute(bars),
        (error: unknown) => error instanceof InvalidHistoryError && error.index === index && error.field === field,
      );
    });
  }

  it('also on a history too short for any vector, so bad data is never silently accepted', () => {
    assert.throws(() => OHLCV_V1.compute(good.slice(0, 10).map((bar, i) => (i === 4 ? { ...bar, close: 0 } : bar))), InvalidHistoryError);
  });
});
