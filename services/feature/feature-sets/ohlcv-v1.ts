/**
 * Feature set `ohlcv` version 1 ("ohlcv_v1"): technical features of daily bars. Every feature is
 * defined once below, with its formula, unit and warm-up; the description string is what
 * ListFeatureSets publishes. "Bar t" is the t-th trading session of the symbol, so windows count
 * sessions, not calendar days. All features are scale-free (returns, ratios, z-scores, 0–100 or
 * bounded encodings) so one model can serve symbols at any price level.
 *
 * Frozen: models are trained against these exact names, order and formulas. Change anything and
 * it is `ohlcv` version 2, defined in its own file beside this one.
 */
import {
  NonFiniteFeatureError,
  readHistory,
  type BarColumns,
  type Computation,
  type DailyBar,
  type FeatureDefinition,
  type FeatureRow,
  type FeatureSetDefinition,
} from './feature-set.js';
import {
  ema,
  logReturns,
  rollingMean,
  rollingStd,
  rollingZScore,
  rsi,
  trueRange,
  wilderSmooth,
  type RsiState,
  type RunningMean,
} from './indicators.js';

/**
 * What a computation leaves to resume from after its last bar: the value of every recursive
 * series (EMAs, Wilder averages) and the running sums of the moving averages. Everything else is
 * a function of a window of bars, which the history itself holds.
 */
interface OhlcvV1State {
  /** Bars covered: a computation resumes at this index. */
  length: number;
  /** Date of the last bar covered, so a history that changed underneath is not resumed. */
  lastDate: string;
  ema: Map<number, number>;
  macdSignal: number;
  rsi: RsiState;
  atr: number;
  means: Map<number, RunningMean>;
}

/**
 * Bars read again before the first new one when resuming: enough for the longest window (SMA 50
 * subtracts the value 50 bars back) and the longest lookback (20-session returns and volatility).
 */
const LOOKBACK = 64;

/** The bar columns of one history and the intermediates several features share, each built once. */
class Inputs {
  readonly length: number;
  readonly close: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly volume: Float64Array;
  /** Turnover, close × volume where the bar has none. */
  readonly turnover: Float64Array;
  readonly dayOfWeek: Uint8Array;
  readonly month: Uint8Array;
  private readonly cache = new Map<string, Float64Array>();
  /** Running states handed to the indicators: in, the state to resume from; out, the state after the last bar. */
  private readonly means = new Map<number, RunningMean>();
  private readonly rsiState: RsiState;

  /**
   * `resume`, when given: the state before position `at` of these columns, which then computes
   * only from `at` on (earlier positions hold NaN or are left to the windows).
   */
  constructor(
    bars: BarColumns,
    private readonly resume?: { state: OhlcvV1State; at: number },
  ) {
    this.rsiState = resume ? { ...resume.state.rsi, index: resume.at } : { index: 0, gain: Number.NaN, loss: Number.NaN };
    this.length = bars.length;
    this.close = bars.close;
    this.high = bars.high;
    this.low = bars.low;
    this.volume = bars.volume;
    this.dayOfWeek = bars.dayOfWeek;
    this.month = bars.month;
    this.turnover = bars.turnover;
    for (let t = 0; t < this.length; t++) {
      if (Number.isNaN(this.turnover[t])) this.turnover[t] = this.close[t] * this.volume[t];
    }
  }

  shared(key: string, make: () => Float64Array): Float64Array {
    let column = this.cache.get(key);
    if (!column) {
      column = make();
      this.cache.set(key, column);
    }
    return column;
  }

  logReturn(k: number): Float64Array {
    return this.shared(`log_return_${k}`, () => logReturns(this.close, k));
  }

  ema(n: number): Float64Array {
    return this.shared(`ema_${n}`, () => ema(this.close, n, 0, this.resumeOf(this.resume?.state.ema.get(n))));
  }

  /** Simple moving average of the close over n sessions, its running sum carried across computations. */
  mean(n: number): Float64Array {
    return this.shared(`sma_${n}`, () => {
      const previous = this.resume?.state.means.get(n);
      const state: RunningMean = previous && this.resume ? { ...previous, index: this.resume.at } : { index: 0, sum: 0, error: 0 };
      this.means.set(n, state);
      return rollingMean(this.close, n, 0, state);
    });
  }

  /** Wilder's RSI over 14 sessions, its averages carried across computations. */
  rsi14(): Float64Array {
    return this.shared('rsi_14', () => rsi(this.close, 14, this.rsiState));
  }

  /** ATR14 in price units: Wilder's smoothing of the true ranges from bar 1 on. */
  atr14(): Float64Array {
    return this.shared('atr_14', () =>
      wilderSmooth(trueRange(this.high, this.low, this.close), 14, 1, this.resumeOf(this.resume?.state.atr)),
    );
  }

  /** Where a recursive series resumes, given its value before the first new bar. */
  private resumeOf(value: number | undefined): { index: number; value: number } | undefined {
    return this.resume && value !== undefined ? { index: this.resume.at, value } : undefined;
  }

  /** The state after the last bar, once every feature's column is computed. */
  endState(length: number, lastDate: string): OhlcvV1State {
    const last = this.length - 1;
    return {
      length,
      lastDate,
      ema: new Map([12, 26].map((n) => [n, this.ema(n)[last]])),
      macdSignal: this.macdSignal()[last],
      rsi: { ...this.rsiState, index: 0 },
      atr: this.atr14()[last],
      means: new Map([...this.means].map(([n, state]) => [n, { ...state, index: 0 }])),
    };
  }

  /** Raw MACD line EMA12 − EMA26, price units, defined from bar 25. */
  macdLine(): Float64Array {
    return this.shared('macd_line', () => {
      const fast = this.ema(12);
      const slow = this.ema(26);
      const line = new Float64Array(this.length);
      for (let t = 0; t < this.length; t++) line[t] = fast[t] - slow[t];
      return line;
    });
  }

  /** Raw MACD signal line, EMA9 of the MACD line seeded with its first 9 values, price units, defined from bar 33. */
  macdSignal(): Float64Array {
    return this.shared('macd_signal', () => ema(this.macdLine(), 9, 25, this.resumeOf(this.resume?.state.macdSignal)));
  }
}

// Element-wise helpers as plain loops: a generic "map with a callback" is a megamorphic call per
// element and cost more than the indicators themselves. NaN inside a warm-up propagates.

/** a_t / b_t. */
function quotient(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let t = 0; t < a.length; t++) out[t] = a[t] / b[t];
  return out;
}

/** a_t / b_t − 1. */
function ratioMinusOne(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let t = 0; t < a.length; t++) out[t] = a[t] / b[t] - 1;
  return out;
}

/** A feature's published definition and how its column is computed (NaN inside its warm-up). */
interface Feature extends FeatureDefinition {
  column(inputs: Inputs): Float64Array;
}

/**
 * `log_return_{k}d`, warm-up k+1: ln(close_t / close_{t−k}), the log return over the last k
 * sessions, natural-log units (0.01 ≈ +1%). Taken as one logarithm of the price ratio, not a sum
 * of daily logs, so it carries one rounding.
 */
function logReturn(k: number): Feature {
  return {
    name: `log_return_${k}d`,
    description: `Log return over ${k} trading session${k > 1 ? 's' : ''}: ln(close_t / close_t-${k}); natural-log units.`,
    warmUpDays: k + 1,
    column: (inputs) => inputs.logReturn(k),
  };
}

/**
 * `close_sma_{n}_ratio`, warm-up n: close_t / SMA_n_t − 1, where SMA_n_t is the arithmetic mean
 * of the n closes t−n+1 … t; dimensionless (0.02 = close 2% above its average).
 */
function closeSmaRatio(n: number): Feature {
  return {
    name: `close_sma_${n}_ratio`,
    description: `Close relative to its ${n}-session simple moving average: close_t / mean(close_t-${n - 1}..close_t) - 1; dimensionless.`,
    warmUpDays: n,
    column: (inputs) => ratioMinusOne(inputs.close, inputs.mean(n)),
  };
}

/**
 * `close_ema_{n}_ratio`, warm-up n: close_t / EMA_n_t − 1, dimensionless. EMA_n uses α = 2/(n+1)
 * and is seeded with the simple mean of the first n closes (its value at bar n−1); from then on
 * EMA_t = α·close_t + (1−α)·EMA_t−1. Because of the seed, values depend on where the history
 * starts: the service computes from a symbol's first bar.
 */
function closeEmaRatio(n: number): Feature {
  return {
    name: `close_ema_${n}_ratio`,
    description:
      `Close relative to its ${n}-session EMA: close_t / EMA${n}_t - 1; EMA alpha = 2/${n + 1}, seeded with the ` +
      `simple mean of the first ${n} closes of the history; dimensionless.`,
    warmUpDays: n,
    column: (inputs) => ratioMinusOne(inputs.close, inputs.ema(n)),
  };
}

/**
 * `macd_12_26_norm`, warm-up 26: (EMA12_t − EMA26_t) / close_t, the textbook MACD line divided by
 * the day's close so it reads as a fraction of price and compares across price levels.
 */
const MACD: Feature = {
  name: 'macd_12_26_norm',
  description: 'MACD line over close: (EMA12_t - EMA26_t) / close_t, EMAs as in close_ema_*_ratio; fraction of price.',
  warmUpDays: 26,
  column: (inputs) => quotient(inputs.macdLine(), inputs.close),
};

/**
 * `macd_signal_9_norm`, warm-up 34 (= 26 + 9 − 1): signal_t / close_t, where signal is the
 * textbook signal line: EMA9 (α = 2/10) of the raw MACD line in price units, seeded with the mean
 * of its first 9 values (bars 25–33). Normalised after smoothing so macd − signal = histogram
 * still holds exactly as in the textbook, only divided by close_t.
 */
const MACD_SIGNAL: Feature = {
  name: 'macd_signal_9_norm',
  description:
    'MACD signal line over close: EMA9(EMA12 - EMA26)_t / close_t, the EMA9 over the raw MACD line seeded with ' +
    'the mean of its first 9 values; fraction of price.',
  warmUpDays: 34,
  column: (inputs) => quotient(inputs.macdSignal(), inputs.close),
};

/** `macd_hist_norm`, warm-up 34: (MACD_t − signal_t) / close_t, the MACD histogram as a fraction of price. */
const MACD_HISTOGRAM: Feature = {
  name: 'macd_hist_norm',
  description: 'MACD histogram over close: (MACD_t - signal_t) / close_t with the raw lines above; fraction of price.',
  warmUpDays: 34,
  column: (inputs) => {
    const line = inputs.macdLine();
    const signal = inputs.macdSignal();
    const out = new Float64Array(inputs.length);
    for (let t = 0; t < inputs.length; t++) out[t] = (line[t] - signal[t]) / inputs.close[t];
    return out;
  },
};

/**
 * `rsi_14`, warm-up 15 (14 changes need 15 closes): Wilder's RSI, 0–100. Average gain G and loss
 * L start as simple means of the first 14 gains/losses of close-to-close changes, then
 * avg_t = (avg_t−1·13 + x_t)/14; RSI = 100 − 100/(1 + G/L) = 100·G/(G+L). L = 0 gives 100;
 * G = L = 0 (no change for the whole history so far) gives 50.
 */
const RSI_14: Feature = {
  name: 'rsi_14',
  description:
    "Wilder's RSI over 14 sessions, 0-100: 100*G/(G+L) with G, L the average gain and loss of close-to-close " +
    'changes, seeded with the simple mean of the first 14 and then avg_t = (13*avg_t-1 + x_t)/14; ' +
    '100 when L = 0, 50 when G = L = 0.',
  warmUpDays: 15,
  column: (inputs) => inputs.rsi14(),
};

/**
 * `bollinger_pct_b_20_2`, warm-up 20: Bollinger %B = (close_t − lower)/(upper − lower) with
 * middle = SMA20 and bands middle ± 2σ, σ the POPULATION standard deviation (divide by 20) of the
 * same 20 closes, as Bollinger and StockCharts define it. Equals 0.5 + z/4 with z the population
 * z-score of close_t, which is how it is computed; 0 at the lower band, 1 at the upper; 0.5 when
 * the 20 closes are all equal (band width 0).
 */
const BOLLINGER_PCT_B: Feature = {
  name: 'bollinger_pct_b_20_2',
  description:
    'Bollinger %B (20, 2): (close_t - lower)/(upper - lower), bands SMA20 +/- 2 population standard deviations ' +
    'of the last 20 closes; 0 at the lower band, 1 at the upper; 0.5 when the band width is 0; dimensionless.',
  warmUpDays: 20,
  column: (inputs) => {
    const pctB = rollingZScore(inputs.close, 20, 0);
    for (let t = 0; t < pctB.length; t++) pctB[t] = 0.5 + pctB[t] / 4;
    return pctB;
  },
};

/**
 * `atr_14_ratio`, warm-up 15: ATR14_t / close_t, a fraction of price. True range
 * TR_t = max(high_t − low_t, |high_t − close_t−1|, |low_t − close_t−1|) from bar 1 on (bar 0 has
 * no previous close and is not used); ATR is Wilder's smoothing of TR: the mean of TR_1 … TR_14
 * at bar 14, then ATR_t = (ATR_t−1·13 + TR_t)/14.
 */
const ATR_RATIO: Feature = {
  name: 'atr_14_ratio',
  description:
    "Average true range over close: ATR14_t / close_t; true range uses the previous close (bars 1 on), Wilder's " +
    'smoothing seeded with the mean of the first 14 true ranges, then ATR_t = (13*ATR_t-1 + TR_t)/14; fraction of price.',
  warmUpDays: 15,
  column: (inputs) => quotient(inputs.atr14(), inputs.close),
};

/**
 * `realised_vol_{n}d`, warm-up n+1: SAMPLE standard deviation (divide by n−1) of the n daily log
 * returns ln(close_i / close_i−1), i = t−n+1 … t. Daily units, NOT annualised (multiply by
 * √(sessions per year) for that): the session count per year varies by exchange and year.
 */
function realisedVolatility(n: number): Feature {
  return {
    name: `realised_vol_${n}d`,
    description:
      `Realised volatility over ${n} sessions: sample standard deviation (n-1) of the last ${n} daily log returns ` +
      'ln(close_i / close_i-1); daily units, not annualised.',
    warmUpDays: n + 1,
    column: (inputs) => rollingStd(inputs.logReturn(1), n, 1, 1),
  };
}

/**
 * `{field}_zscore_20`, warm-up 20: (x_t − mean_20)/σ_20 over x_t−19 … x_t, σ the POPULATION
 * standard deviation (divide by 20, like the Bollinger bands); 0 when σ = 0 (e.g. no trading for
 * 20 sessions). Dimensionless.
 */
function zScore20(field: 'volume' | 'turnover', description: string): Feature {
  return {
    name: `${field}_zscore_20`,
    description:
      `${description} z-score over 20 sessions: (x_t - mean)/sd of the last 20 values, population sd (n); ` +
      '0 when sd = 0; dimensionless.',
    warmUpDays: 20,
    column: (inputs) => rollingZScore(inputs[field], 20, 0),
  };
}

/** `volume_zscore_20`: z-score of shares traded, see {@link zScore20}. */
const VOLUME_Z: Feature = zScore20('volume', 'Volume (shares traded)');

/**
 * `turnover_zscore_20`: z-score of value traded, see {@link zScore20}. A bar without turnover uses
 * close_t × volume_t in its place (per bar, so sources that give it only sometimes still work).
 */
const TURNOVER_Z: Feature = zScore20('turnover', 'Turnover (value traded; close*volume when the bar has none)');

/** `intraday_range`, warm-up 1: (high_t − low_t) / close_t, the session's range as a fraction of price. */
const INTRADAY_RANGE: Feature = {
  name: 'intraday_range',
  description: 'Intraday range: (high_t - low_t) / close_t; fraction of price.',
  warmUpDays: 1,
  column: ({ length, high, low, close }) => {
    const out = new Float64Array(length);
    for (let t = 0; t < length; t++) out[t] = (high[t] - low[t]) / close[t];
    return out;
  },
};

/**
 * Calendar of the trading day, warm-up 1, as points on a circle so that adjacent values stay
 * adjacent (Saturday next to Sunday, December next to January) in two bounded features each,
 * instead of 17 one-hot columns: `day_of_week_sin/cos` = sin/cos(2π·dow/7) with dow 0 = Sunday …
 * 6 = Saturday of the Gregorian date (NEPSE sessions fall on 0–4, Sunday–Thursday);
 * `month_of_year_sin/cos` = sin/cos(2π·(month − 1)/12), month 1–12 of the Gregorian date.
 */
function calendar(name: string, description: string, part: 'dayOfWeek' | 'month', table: readonly number[]): Feature {
  return {
    name,
    description,
    warmUpDays: 1,
    column: (inputs) => {
      const index = inputs[part];
      const out = new Float64Array(inputs.length);
      for (let t = 0; t < out.length; t++) out[t] = table[index[t]];
      return out;
    },
  };
}

const TWO_PI = 2 * Math.PI;
/** Lookup tables by day of week (0–6) and by month (index 1–12; index 0 unused). */
const WEEKDAY_SIN = Array.from({ length: 7 }, (_, dow) => Math.sin((TWO_PI * dow) / 7));
const WEEKDAY_COS = Array.from({ length: 7 }, (_, dow) => Math.cos((TWO_PI * dow) / 7));
const MONTH_SIN = Array.from({ length: 13 }, (_, month) => Math.sin((TWO_PI * (month - 1)) / 12));
const MONTH_COS = Array.from({ length: 13 }, (_, month) => Math.cos((TWO_PI * (month - 1)) / 12));

const CALENDAR: readonly Feature[] = [
  calendar(
    'day_of_week_sin',
    'Day of week on a circle: sin(2*pi*dow/7), dow 0 = Sunday .. 6 = Saturday (Gregorian).',
    'dayOfWeek',
    WEEKDAY_SIN,
  ),
  calendar(
    'day_of_week_cos',
    'Day of week on a circle: cos(2*pi*dow/7), dow 0 = Sunday .. 6 = Saturday (Gregorian).',
    'dayOfWeek',
    WEEKDAY_COS,
  ),
  calendar('month_of_year_sin', 'Month on a circle: sin(2*pi*(month-1)/12), month 1 = January (Gregorian).', 'month', MONTH_SIN),
  calendar('month_of_year_cos', 'Month on a circle: cos(2*pi*(month-1)/12), month 1 = January (Gregorian).', 'month', MONTH_COS),
];

/** The features of ohlcv_v1 in vector order. */
const FEATURES: readonly Feature[] = [
  logReturn(1),
  logReturn(5),
  logReturn(10),
  logReturn(20),
  closeSmaRatio(5),
  closeSmaRatio(10),
  closeSmaRatio(20),
  closeSmaRatio(50),
  closeEmaRatio(12),
  closeEmaRatio(26),
  MACD,
  MACD_SIGNAL,
  MACD_HISTOGRAM,
  RSI_14,
  BOLLINGER_PCT_B,
  ATR_RATIO,
  realisedVolatility(10),
  realisedVolatility(20),
  VOLUME_Z,
  TURNOVER_Z,
  INTRADAY_RANGE,
  ...CALENDAR,
];

const WARM_UP_DAYS = Math.max(...FEATURES.map((feature) => feature.warmUpDays));

/**
 * Every feature's full column over `history`, in vector order, NaN inside each feature's own
 * warm-up: for diagnostics and for tests that check each declared warm-up against the
 * computation. Validates like OHLCV_V1.compute.
 * @throws InvalidHistoryError for input that cannot give finite values.
 */
export function ohlcvV1Columns(history: readonly DailyBar[]): Float64Array[] {
  const inputs = new Inputs(readHistory(history));
  return FEATURES.map((feature) => feature.column(inputs));
}

/** The state to resume from, when `resume` is one and covers exactly history[0..from). */
function resumable(history: readonly DailyBar[], from: number, resume: unknown): OhlcvV1State | undefined {
  if (typeof resume !== 'object' || resume === null) return undefined;
  const state = resume as OhlcvV1State;
  if (state.length !== from || from < LOOKBACK || from > history.length || history[from - 1].date !== state.lastDate) return undefined;
  return state;
}

function computeFrom(history: readonly DailyBar[], from: number, resume?: unknown): Computation {
  const state = resumable(history, from, resume);
  // Resuming reads only the bars the windows reach before the first new one.
  const start = state ? from - LOOKBACK : 0;
  const bars = readHistory(start > 0 ? history.slice(start) : history);
  if (history.length < WARM_UP_DAYS) return { rows: [], state: undefined };
  const inputs = new Inputs(bars, state && { state, at: LOOKBACK });
  const columns = FEATURES.map((feature) => feature.column(inputs));
  const width = columns.length;
  const first = Math.max(WARM_UP_DAYS - 1, from);
  const rows: FeatureRow[] = new Array(Math.max(0, history.length - first));
  for (let t = first; t < history.length; t++) {
    const values = new Array<number>(width);
    for (let f = 0; f < width; f++) {
      const value = columns[f][t - start];
      // Validation bounds the inputs so this cannot fire; checked anyway because "no NaN or
      // Infinity leaves the service" is a contract, and a future edit may break the reasoning.
      if (!Number.isFinite(value)) throw new NonFiniteFeatureError(FEATURES[f].name, history[t].date, value);
      values[f] = value;
    }
    rows[t - first] = { date: history[t].date, close: history[t].close, values };
  }
  return { rows, state: inputs.endState(history.length, history[history.length - 1].date) };
}

function compute(history: readonly DailyBar[]): FeatureRow[] {
  return computeFrom(history, 0).rows;
}

/**
 * Feature set `ohlcv` version 1: 25 features of daily OHLCV bars; the first vector exists at the
 * 50th bar (SMA 50). Strictly causal: the vector of bar t reads bars 0 … t only, and is bit for
 * bit the same whatever follows t. Values of EMA- and Wilder-based features depend on the first
 * bar of the history (their seeds), so always compute from a symbol's first stored bar.
 */
export const OHLCV_V1: FeatureSetDefinition = Object.freeze({
  name: 'ohlcv',
  version: 1,
  description:
    'Technical features of daily OHLCV bars: log returns, moving-average and EMA ratios, MACD, RSI, Bollinger %B, ' +
    'ATR, realised volatility, volume and turnover z-scores, intraday range and trading-day calendar; all scale-free.',
  features: Object.freeze(FEATURES.map(({ name, description, warmUpDays }) => Object.freeze({ name, description, warmUpDays }))),
  warmUpDays: WARM_UP_DAYS,
  compute,
  computeFrom,
  resumeLookback: LOOKBACK,
});
