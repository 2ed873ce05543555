/**
 * The training data the models see: one labelled row per (symbol, trading date), as the feature
 * service's GetTrainingSet streams them, plus the checks every trainer runs before doing any math.
 */

/** One labelled row: what was known at the close of `date`, and what happened the next session. */
export interface TrainingExample {
  /** Exchange symbol, e.g. `NABIL`. */
  symbol: string;
  /** Trading date t as ISO `YYYY-MM-DD`; features use bars up to and including t only. */
  date: string;
  /** Feature values of day t, in the feature set's order (length F). */
  features: number[];
  /** Close of day t, price units. */
  close: number;
  /** Target: next-session log return ln(close_{t+1} / close_t), natural-log units. */
  label: number;
  /** Close of the next session t+1, price units (= close · exp(label)). */
  nextClose: number;
}

/** A training set: the feature names (defining column order) and rows sorted by date, then symbol. */
export interface Dataset {
  /** Feature names in column order, e.g. the 25 names of `ohlcv` v1. */
  featureNames: string[];
  /** Rows sorted by date, then symbol; every `features` array has `featureNames.length` values. */
  examples: TrainingExample[];
}

/** Raised when training input is empty, ragged, non-finite or mismatched; names what is wrong. */
export class InvalidTrainingDataError extends Error {
  override readonly name = 'InvalidTrainingDataError';
}

/**
 * Checks a design matrix and its targets before training: at least one row, every row of the same
 * width, every value finite (one NaN would silently poison every coefficient or split).
 *
 * @returns the feature count F.
 */
export function assertTrainingData(x: readonly (readonly number[])[], y: ArrayLike<number>): number {
  if (x.length === 0) throw new InvalidTrainingDataError('no training rows');
  if (y.length !== x.length) throw new InvalidTrainingDataError(`${x.length} feature rows but ${y.length} labels`);
  const width = x[0].length;
  if (width === 0) throw new InvalidTrainingDataError('rows have no features');
  for (let i = 0; i < x.length; i++) {
    const row = x[i];
    if (row.length !== width) throw new InvalidTrainingDataError(`row ${i} has ${row.length} features, expected ${width}`);
    for (let j = 0; j < width; j++) {
      if (!Number.isFinite(row[j])) throw new InvalidTrainingDataError(`row ${i} feature ${j} is ${row[j]}`);
    }
    if (!Number.isFinite(y[i])) throw new InvalidTrainingDataError(`label ${i} is ${y[i]}`);
  }
  return width;
}

/** Checks that rows to predict have the width the model was trained on. */
export function assertWidth(x: readonly (readonly number[])[], featureCount: number): void {
  for (let i = 0; i < x.length; i++) {
    if (x[i].length !== featureCount) {
      throw new InvalidTrainingDataError(`row ${i} has ${x[i].length} features, the model expects ${featureCount}`);
    }
  }
}

/** Splits examples into the design matrix (shared row arrays, not copies) and the label vector. */
export function toMatrix(examples: readonly TrainingExample[]): { x: number[][]; y: Float64Array } {
  const x = new Array<number[]>(examples.length);
  const y = new Float64Array(examples.length);
  for (let i = 0; i < examples.length; i++) {
    x[i] = examples[i].features;
    y[i] = examples[i].label;
  }
  return { x, y };
}
