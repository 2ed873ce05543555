/**
 * Causal building blocks for feature sets. Each takes whole columns and returns a Float64Array
 * of the same length whose value at t uses only inputs at indices <= t; positions before the
 * first defined value hold NaN (feature sets never emit those, they start after the warm-up).
 *
 * `from` is the first index at which the input column is defined (1 for a column of daily
 * changes, which has no value on the first bar); windows never reach before it.
 */

/** Values a building block reads: a plain array or a typed array. */
export type Column = ArrayLike<number>;

// A running sum drifts by up to one rounding (ε·|sum|) per add and per subtract, and loses
// everything when a value much larger than the rest leaves the window (1e15 + 1e-12 − 1e15 = 0).
// rollingMean therefore carries a bound on its accumulated rounding error and re-sums the window
// from scratch once that bound passes RESUM_TOLERANCE of the sum: about every thousand bars on
// ordinary data, at once after such a cancellation. The decision depends only on bars <= t, so a
// value at t stays independent of what follows it, bit for bit.
const UNIT_ROUNDOFF = Number.EPSILON / 2;
const RESUM_TOLERANCE = 1e-13;

function checkWindow(n: number, from: number, minimum = 1): void {
  if (!Number.isInteger(n) || n < minimum) throw new RangeError(`window ${n} must be an integer >= ${minimum}`);
  if (!Number.isInteger(from) || from < 0) throw new RangeError(`from ${from} must be an integer >= 0`);
}

function unavailable(length: number): Float64Array {
  return new Float64Array(length).fill(Number.NaN);
}

/**
 * Log return over k steps: ln(values_t / values_{t-k}), natural-log units; first defined at t = k.
 * Inputs must be positive.
 */
export function logReturns(values: Column, k: number): Float64Array {
  checkWindow(k, 0);
  const out = unavailable(values.length);
  for (let t = k; t < values.length; t++) out[t] = Math.log(values[t] / values[t - k]);
  return out;
}

/**
 * Where a recursive indicator picks up a computation done before: `index` is the first position to
 * compute and `value` its value at index-1. Values before `index` are not recomputed (NaN in the
 * output); those from `index` on are bit for bit what the whole column would hold, provided the
 * input up to index-1 is what the earlier computation saw and, for windows, the array still holds
 * the window's values before `index`.
 */
export interface Resume {
  index: number;
  value: number;
}

/**
 * The running state of {@link rollingMean}: pass one with `index` 0 to compute from the start and
 * receive the state after the last value; pass it back (with `index` set to where to go on) to
 * continue exactly.
 */
export interface RunningMean {
  /** First position to compute; 0 computes from `from`. */
  index: number;
  /** Running sum of the window after position index-1. */
  sum: number;
  /** Bound on the sum's accumulated rounding error. */
  error: number;
}

/**
 * Simple moving average over the last n values (t-n+1 … t), same unit as the input; first
 * defined at from+n-1. A running sum, re-summed exactly whenever its rounding-error bound exceeds
 * 1e-13 of the sum, so the relative error stays below ~1e-13 on any input. `state`, when given,
 * resumes from `state.index` (when above 0) and receives the state after the last value.
 */
export function rollingMean(values: Column, n: number, from = 0, state?: RunningMean): Float64Array {
  checkWindow(n, from);
  const out = unavailable(values.length);
  const resuming = state !== undefined && state.index > 0;
  let sum = resuming ? state.sum : 0;
  let error = resuming ? state.error : 0;
  for (let t = resuming ? state.index : from; t < values.length; t++) {
    const first = t - n + 1;
    sum += values[t];
    error += UNIT_ROUNDOFF * Math.abs(sum);
    if (first > from) {
      sum -= values[first - 1];
      error += UNIT_ROUNDOFF * Math.abs(sum);
    }
    if (first < from) continue;
    if (error > RESUM_TOLERANCE * Math.abs(sum)) {
      sum = 0;
      let magnitude = 0;
      for (let i = first; i <= t; i++) {
        sum += values[i];
        magnitude += Math.abs(values[i]);
      }
      // A fresh sum of n terms errs by at most (n−1)·ε·Σ|x|.
      error = (n - 1) * UNIT_ROUNDOFF * magnitude;
    }
    out[t] = sum / n;
  }
  if (state !== undefined) {
    state.sum = sum;
    state.error = error;
  }
  return out;
}

/**
 * Sums of deviations from a pivot inside the window (the newest value): s1 = Σ(x − x_t) and
 * s2 = Σ(x − x_t)². Shifting by a member of the window keeps s2 − s1²/n free of catastrophic
 * cancellation at any price level (it loses at most a factor n), and makes a flat window give
 * exactly zero variance, so "σ = 0" guards trigger on flat data instead of on rounding noise.
 */
function pivotSums(values: Column, t: number, n: number): [s1: number, s2: number] {
  const pivot = values[t];
  let s1 = 0;
  let s2 = 0;
  for (let i = t - n + 1; i <= t; i++) {
    const d = values[i] - pivot;
    s1 += d;
    s2 += d * d;
  }
  return [s1, s2];
}

/**
 * Standard deviation over the last n values, same unit as the input; first defined at
 * from+n-1. `ddof` 0 is the population deviation (divide by n), 1 the sample deviation (n-1).
 * Recomputed per window (O(n) per value) because running sums of squares drift badly at large
 * price levels.
 */
export function rollingStd(values: Column, n: number, ddof: 0 | 1, from = 0): Float64Array {
  checkWindow(n, from, ddof + 1);
  const out = unavailable(values.length);
  for (let t = from + n - 1; t < values.length; t++) {
    const [s1, s2] = pivotSums(values, t, n);
    out[t] = Math.sqrt(Math.max(0, s2 - (s1 * s1) / n) / (n - ddof));
  }
  return out;
}

/**
 * Z-score of the newest value against the last n values: (x_t − mean)/σ, dimensionless; first
 * defined at from+n-1. `ddof` as in {@link rollingStd}. A window with σ = 0 (all values equal)
 * gives 0, the value sitting exactly at its mean.
 */
export function rollingZScore(values: Column, n: number, ddof: 0 | 1, from = 0): Float64Array {
  checkWindow(n, from, ddof + 1);
  const out = unavailable(values.length);
  for (let t = from + n - 1; t < values.length; t++) {
    const [s1, s2] = pivotSums(values, t, n);
    const sigma = Math.sqrt(Math.max(0, s2 - (s1 * s1) / n) / (n - ddof));
    // x_t − mean = −s1/n exactly in the pivot frame.
    out[t] = sigma > 0 ? -s1 / n / sigma : 0;
  }
  return out;
}

/**
 * Where an EMA-like smoothing starts: the given resume point, or the simple mean of values
 * from … from+n-1, written to `out` at from+n-1 as the first value. Undefined when there are
 * fewer than n values from `from`.
 */
function seedSmoothing(
  values: Column,
  n: number,
  from: number,
  out: Float64Array,
  resume?: Resume,
): { value: number; start: number } | undefined {
  if (resume) return { value: resume.value, start: resume.index };
  const seedAt = from + n - 1;
  if (seedAt >= values.length) return undefined;
  let sum = 0;
  for (let i = from; i <= seedAt; i++) sum += values[i];
  out[seedAt] = sum / n;
  return { value: sum / n, start: seedAt + 1 };
}

/**
 * Exponential moving average with α = 2/(n+1), same unit as the input. Seeded with the simple
 * mean of the first n values (indices from … from+n-1), which is its first value, at from+n-1;
 * then EMA_t = α·x_t + (1−α)·EMA_{t−1}.
 */
export function ema(values: Column, n: number, from = 0, resume?: Resume): Float64Array {
  checkWindow(n, from);
  const out = unavailable(values.length);
  const seeded = seedSmoothing(values, n, from, out, resume);
  if (!seeded) return out;
  let { value } = seeded;
  const { start } = seeded;
  const alpha = 2 / (n + 1);
  for (let t = start; t < values.length; t++) {
    // α·x + (1−α)·EMA rearranged: the same number, but a constant input stays exactly constant
    // (with 1−α rounded, the textbook form can drift an ulp off a flat price).
    value += alpha * (values[t] - value);
    out[t] = value;
  }
  return out;
}

/**
 * Wilder's smoothing (his "average" in RSI and ATR), same unit as the input. Seeded with the
 * simple mean of the first n values, its first value, at from+n-1; then
 * avg_t = (avg_{t−1}·(n−1) + x_t)/n, i.e. an EMA with α = 1/n.
 */
export function wilderSmooth(values: Column, n: number, from = 0, resume?: Resume): Float64Array {
  checkWindow(n, from);
  const out = unavailable(values.length);
  const seeded = seedSmoothing(values, n, from, out, resume);
  if (!seeded) return out;
  let { value } = seeded;
  const { start } = seeded;
  for (let t = start; t < values.length; t++) {
    value = (value * (n - 1) + values[t]) / n;
    out[t] = value;
  }
  return out;
}

/**
 * True range, price units: max(high_t − low_t, |high_t − close_{t−1}|, |low_t − close_{t−1}|).
 * The first bar has no previous close, so its value is high_0 − low_0 (StockCharts' convention);
 * callers that want only true ranges with a previous close start at index 1.
 */
export function trueRange(high: Column, low: Column, close: Column): Float64Array {
  const out = new Float64Array(close.length);
  if (close.length > 0) out[0] = high[0] - low[0];
  for (let t = 1; t < close.length; t++) {
    const previous = close[t - 1];
    out[t] = Math.max(high[t] - low[t], Math.abs(high[t] - previous), Math.abs(low[t] - previous));
  }
  return out;
}

/**
 * Relative strength index with Wilder's smoothing, 0–100. Changes d_t = close_t − close_{t−1}
 * from t = 1; gains max(d, 0) and losses max(−d, 0) are smoothed with {@link wilderSmooth}
 * (seed: simple mean of the first n), first defined at t = n. RSI = 100 − 100/(1 + G/L), computed
 * as 100·G/(G + L), which is the same number and is 100 when L = 0; when G = L = 0 (no movement
 * at all) it is 50, the neutral reading.
 */
export function rsi(close: Column, n: number, state?: RsiState): Float64Array {
  checkWindow(n, 0);
  const resuming = state !== undefined && state.index > 0;
  const start = resuming ? state.index : 1;
  const gains = new Float64Array(close.length);
  const losses = new Float64Array(close.length);
  for (let t = start; t < close.length; t++) {
    const change = close[t] - close[t - 1];
    if (change > 0) gains[t] = change;
    else if (change < 0) losses[t] = -change;
  }
  const gain = wilderSmooth(gains, n, 1, resuming ? { index: start, value: state.gain } : undefined);
  const loss = wilderSmooth(losses, n, 1, resuming ? { index: start, value: state.loss } : undefined);
  const out = unavailable(close.length);
  for (let t = resuming ? start : n; t < close.length; t++) {
    const total = gain[t] + loss[t];
    out[t] = total > 0 ? (100 * gain[t]) / total : 50;
  }
  if (state !== undefined && close.length > 0) {
    state.gain = gain[close.length - 1];
    state.loss = loss[close.length - 1];
  }
  return out;
}

/**
 * The running state of {@link rsi}, like {@link RunningMean}: `index` 0 computes from the start;
 * above 0 resumes there from the average gain and loss at index-1. Receives the averages at the
 * last value.
 */
export interface RsiState {
  index: number;
  gain: number;
  loss: number;
}
