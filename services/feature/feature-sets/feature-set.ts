/**
 * The contract every feature set implements, and the checks its input must pass. A feature set is
 * versioned code: names, order, formulas and warm-ups of a version never change once a model has
 * been trained on it; a different definition is a new version.
 */

import type { DailyBar } from '../../../lib/market/index.js';

/** One daily bar of a symbol, as the feature service keeps it (the kit's one bar shape). */
export type { DailyBar };

/** One feature of a set: the part of the definition that travels in ListFeatureSets. */
export interface FeatureDefinition {
  /** lower_snake_case, unique within its set. */
  name: string;
  /** What the feature is, its exact formula and its unit. */
  description: string;
  /** Bars of history the feature needs, day t included, before its first value exists. */
  warmUpDays: number;
}

/** The feature vector of one trading day. */
export interface FeatureRow {
  /** The trading day the vector describes, ISO `YYYY-MM-DD`; computed from bars up to and including it. */
  date: string;
  /** Close of `date`, currency units per share: the base a predicted next-day return applies to. */
  close: number;
  /** Feature values in definition order, all finite. */
  values: number[];
}

/** A versioned feature set: the exact input contract of the models trained on it. */
export interface FeatureSetDefinition {
  /** lower_snake_case set name, e.g. `ohlcv`. */
  name: string;
  /** Version, >= 1. */
  version: number;
  /** What the set is for. */
  description: string;
  /** Features in vector order. */
  features: readonly FeatureDefinition[];
  /** Bars needed before the first vector exists: the largest warm-up of any feature. */
  warmUpDays: number;
  /**
   * Vectors for every bar from index warmUpDays-1 on, history sorted by date ascending (strictly
   * increasing dates). Throws {@link InvalidHistoryError} for input it cannot turn into finite values.
   */
  compute(history: readonly DailyBar[]): FeatureRow[];
  /**
   * The vectors of the bars from index `from` of `history` on (none inside the warm-up), each bit
   * for bit what compute(history) gives, and the state to go on from after the last bar. With
   * `resume`, the state a computation over exactly history[0..from) returned, only the bars that
   * the windows reach are read again, so appending a day costs that day, not the history; with a
   * missing or stale state it computes from the first bar. Same validation as compute.
   */
  computeFrom(history: readonly DailyBar[], from: number, resume?: unknown): Computation;
  /**
   * Bars before `from` that computeFrom reads when it resumes: given a state it accepts and
   * `from` >= this, it reads no bar before history[from - resumeLookback]. Lets a caller that keeps
   * histories compactly hand over only those bars. Undefined: the whole history may be read.
   */
  resumeLookback?: number;
}

/** What {@link FeatureSetDefinition.computeFrom} gives. */
export interface Computation {
  /** Vectors of the bars from the asked index on, in date order. */
  rows: FeatureRow[];
  /** Opaque state after the last bar, to resume from when bars are appended; undefined when none is kept. */
  state: unknown;
}

/**
 * Largest price accepted, currency units per share. Bounds keep every intermediate (price
 * products, squared deviations of turnover) far from float overflow, so finiteness of the output
 * follows from validation instead of being hoped for.
 */
export const MAX_PRICE = 1e15;
/** Smallest price accepted, currency units per share: keeps price ratios below ~1e27. */
export const MIN_PRICE = 1e-12;
/** Largest volume (shares) or turnover (currency units) accepted. */
export const MAX_QUANTITY = 1e18;

/** Field of a bar that failed validation. */
export type BarField = keyof DailyBar;

/**
 * A history that no feature set can compute from: a non-finite, non-positive or out-of-range
 * value, a malformed date, or dates that are not strictly increasing. Ingestion refuses all of these
 * except prices or quantities beyond the MIN/MAX bounds below, so this means absurd data, a bug or
 * a corrupted copy upstream; the vectors are never silently skipped,
 * because one bad close would poison every later return, average and Wilder state.
 */
export class InvalidHistoryError extends Error {
  override readonly name = 'InvalidHistoryError';
  constructor(
    /** Position of the offending bar in the history. */
    readonly index: number,
    /** Its date, as given. */
    readonly date: string,
    /** The field at fault. */
    readonly field: BarField,
    /** What is wrong, for people. */
    readonly reason: string,
  ) {
    super(`bar ${index} (${date}): ${reason}`);
  }
}

/**
 * A computed value was NaN or infinite although the history passed validation: a defect in the
 * feature code, never a property of the data. Thrown rather than emitted so no such value leaves.
 */
export class NonFiniteFeatureError extends Error {
  override readonly name = 'NonFiniteFeatureError';
  constructor(
    /** The feature whose value was not finite. */
    readonly feature: string,
    /** The date of the vector. */
    readonly date: string,
    /** The value itself. */
    readonly value: number,
  ) {
    super(`feature ${feature} is ${value} on ${date}`);
  }
}

/** A validated history as columns: index t is bar t. */
export interface BarColumns {
  /** Number of bars. */
  length: number;
  /** Opening prices, currency units per share. */
  open: Float64Array;
  /** Session highs, currency units per share. */
  high: Float64Array;
  /** Session lows, currency units per share. */
  low: Float64Array;
  /** Closing prices, currency units per share. */
  close: Float64Array;
  /** Shares traded. */
  volume: Float64Array;
  /** Value traded, currency units; NaN where the bar has none (each set decides what stands in). */
  turnover: Float64Array;
  /** Gregorian day of week of the date: 0 = Sunday … 6 = Saturday. */
  dayOfWeek: Uint8Array;
  /** Gregorian month of the date, 1–12. */
  month: Uint8Array;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
// Sakamoto's month offsets: day of week by arithmetic, since building a Date per bar costs more
// than all the indicators of the bar together.
const MONTH_OFFSET = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];

function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * An ISO `YYYY-MM-DD` day packed as (year·16 + month)·32 + day, which orders like the dates
 * themselves, or -1 when the text is malformed or not a real day. Packed into one number so the
 * per-bar check allocates nothing and compares numbers instead of strings.
 */
function packedDay(date: string): number {
  if (typeof date !== 'string' || date.length !== 10 || date.charCodeAt(4) !== 45 || date.charCodeAt(7) !== 45) return -1;
  const year = digits(date, 0, 4);
  const month = digits(date, 5, 7);
  const day = digits(date, 8, 10);
  if (year < 1 || month < 1 || month > 12 || day < 1) return -1;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1])) return -1;
  return (year * 16 + month) * 32 + day;
}

/** Gregorian day of week, 0 = Sunday … 6 = Saturday (Sakamoto's method). */
function weekday(year: number, month: number, day: number): number {
  const y = month < 3 ? year - 1 : year;
  return (y + Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400) + MONTH_OFFSET[month - 1] + day) % 7;
}

function outside(value: unknown, min: number, max: number): boolean {
  // Written so NaN counts as outside (every comparison with NaN is false); the type check stops
  // a numeric string from a loosely typed caller passing by coercion.
  return typeof value !== 'number' || !(value >= min && value <= max);
}

function rangeProblem(bar: DailyBar, index: number, field: BarField, min: number, max: number): InvalidHistoryError {
  const value = bar[field];
  const reason =
    typeof value !== 'number' || !Number.isFinite(value)
      ? `${field} is not a finite number (${String(value)})`
      : `${field} ${value} is outside [${min}, ${max}]`;
  return new InvalidHistoryError(index, bar.date, field, reason);
}

/**
 * Checks what every feature set relies on and returns the history as columns: dates real
 * `YYYY-MM-DD` days, strictly increasing (so neither unsorted nor duplicated); open, high, low,
 * close finite in [MIN_PRICE, MAX_PRICE] with low <= high; volume and turnover (when given; null
 * counts as not given) finite in [0, MAX_QUANTITY].
 * @throws InvalidHistoryError naming the first offending bar and field.
 */
export function readHistory(history: readonly DailyBar[]): BarColumns {
  const length = history.length;
  const columns: BarColumns = {
    length,
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
    turnover: new Float64Array(length),
    dayOfWeek: new Uint8Array(length),
    month: new Uint8Array(length),
  };
  let previous = -1;
  for (let i = 0; i < length; i++) {
    const bar = history[i];
    const { date, open, high, low, close, volume, turnover } = bar;
    const packed = packedDay(date);
    if (packed < 0) throw new InvalidHistoryError(i, String(date), 'date', `date ${JSON.stringify(date)} is not a real YYYY-MM-DD day`);
    if (packed <= previous) {
      const before = history[i - 1].date;
      throw new InvalidHistoryError(i, date, 'date', `date ${date} is not after the previous bar's ${before} (unsorted or duplicate)`);
    }
    previous = packed;
    if (outside(open, MIN_PRICE, MAX_PRICE)) throw rangeProblem(bar, i, 'open', MIN_PRICE, MAX_PRICE);
    if (outside(high, MIN_PRICE, MAX_PRICE)) throw rangeProblem(bar, i, 'high', MIN_PRICE, MAX_PRICE);
    if (outside(low, MIN_PRICE, MAX_PRICE)) throw rangeProblem(bar, i, 'low', MIN_PRICE, MAX_PRICE);
    if (outside(close, MIN_PRICE, MAX_PRICE)) throw rangeProblem(bar, i, 'close', MIN_PRICE, MAX_PRICE);
    if (low > high) throw new InvalidHistoryError(i, date, 'low', `low ${low} is above high ${high}`);
    if (outside(volume, 0, MAX_QUANTITY)) throw rangeProblem(bar, i, 'volume', 0, MAX_QUANTITY);
    // null counts as missing too: it is how SQL and JSON say "not given".
    const given = turnover !== undefined && turnover !== null;
    if (given && outside(turnover, 0, MAX_QUANTITY)) throw rangeProblem(bar, i, 'turnover', 0, MAX_QUANTITY);
    columns.open[i] = open;
    columns.high[i] = high;
    columns.low[i] = low;
    columns.close[i] = close;
    columns.volume[i] = volume;
    columns.turnover[i] = given ? turnover : Number.NaN;
    const month = (packed >> 5) & 15;
    columns.month[i] = month;
    columns.dayOfWeek[i] = weekday(packed >> 9, month, packed & 31);
  }
  return columns;
}
