import type { DailyBar } from './feature-sets/index.js';
import type { PackedBars } from './vector-job.js';

/** Values per bar in `values`: open, high, low, close, volume, turnover. */
const FIELDS = 6;

/** The arrays behind one or more histories, and how many bars of them are written. */
interface Storage {
  values: Float64Array;
  hasTurnover: Uint8Array;
  written: number;
}

/**
 * A symbol's history kept compactly: the numbers in typed arrays and the days in one string,
 * instead of an object per bar. Thousands of symbols of thousands of bars held as objects made the
 * heap hundreds of megabytes that every full garbage collection walked again; these arrays sit
 * outside the collected heap.
 *
 * Immutable to its readers: appending gives a new history that shares the arrays when this one is
 * the longest written into them (their spare room takes the new bars) and copies otherwise, so a
 * batch that fails leaves the history it started from intact.
 */
export class PackedHistory {
  private constructor(
    private readonly storage: Storage,
    /** Number of bars. */
    readonly length: number,
    /** Every bar's `YYYY-MM-DD` day, ten characters each, run together. */
    private readonly dates: string,
  ) {}

  /** The empty history. */
  static readonly EMPTY = new PackedHistory({ values: new Float64Array(0), hasTurnover: new Uint8Array(0), written: 0 }, 0, '');

  /**
   * A history of these bars, or undefined when one holds something other than a number or a
   * ten-character day: such bars never pass the feature sets' validation, so they are never kept.
   */
  static of(bars: readonly DailyBar[]): PackedHistory | undefined {
    return PackedHistory.EMPTY.append(bars);
  }

  /** The day of bar `t`. */
  date(t: number): string {
    return this.dates.slice(10 * t, 10 * t + 10);
  }

  /** The day of the last bar; undefined when empty. */
  lastDate(): string | undefined {
    return this.length > 0 ? this.date(this.length - 1) : undefined;
  }

  /**
   * This history followed by `bars` (which must come after its last day, in order), or undefined
   * when a bar cannot be kept (see {@link of}).
   */
  append(bars: readonly DailyBar[]): PackedHistory | undefined {
    const length = this.length + bars.length;
    let storage = this.storage;
    if (storage.written !== this.length || length > storage.hasTurnover.length) {
      // Shared arrays are only written past the longest history that uses them; otherwise a copy,
      // with room for days to come.
      const capacity = Math.max(16, length + (length >> 3));
      const values = new Float64Array(FIELDS * capacity);
      values.set(storage.values.subarray(0, FIELDS * this.length));
      const hasTurnover = new Uint8Array(capacity);
      hasTurnover.set(storage.hasTurnover.subarray(0, this.length));
      storage = { values, hasTurnover, written: this.length };
    }
    const { values, hasTurnover } = storage;
    const dates = new Array<string>(bars.length);
    for (let i = 0; i < bars.length; i++) {
      const { date, open, high, low, close, volume, turnover } = bars[i];
      if (typeof date !== 'string' || date.length !== 10) return undefined;
      if (typeof open !== 'number' || typeof high !== 'number' || typeof low !== 'number') return undefined;
      if (typeof close !== 'number' || typeof volume !== 'number') return undefined;
      const given = turnover !== undefined && turnover !== null;
      if (given && typeof turnover !== 'number') return undefined;
      const t = this.length + i;
      const at = FIELDS * t;
      values[at] = open;
      values[at + 1] = high;
      values[at + 2] = low;
      values[at + 3] = close;
      values[at + 4] = volume;
      values[at + 5] = given ? turnover : 0;
      hasTurnover[t] = given ? 1 : 0;
      dates[i] = date;
    }
    storage.written = length;
    return new PackedHistory(storage, length, this.dates + dates.join(''));
  }

  /** Bar `t` as the feature sets read it. */
  bar(t: number): DailyBar {
    const at = FIELDS * t;
    const { values, hasTurnover } = this.storage;
    return {
      date: this.date(t),
      open: values[at],
      high: values[at + 1],
      low: values[at + 2],
      close: values[at + 3],
      volume: values[at + 4],
      turnover: hasTurnover[t] === 1 ? values[at + 5] : undefined,
    };
  }

  /**
   * The bars as an array of this history's length. With `from`, only positions from `from` on hold
   * bars (the rest are holes): for a computation known to read no further back.
   */
  bars(from = 0): DailyBar[] {
    const bars = new Array<DailyBar>(this.length);
    for (let t = Math.max(0, from); t < this.length; t++) bars[t] = this.bar(t);
    return bars;
  }

  /** A copy of the bars in the form a worker thread takes (the copy is moved there; these arrays stay). */
  packed(): PackedBars {
    return {
      length: this.length,
      dates: this.dates,
      values: this.storage.values.slice(0, FIELDS * this.length),
      hasTurnover: this.storage.hasTurnover.slice(0, this.length),
    };
  }
}
