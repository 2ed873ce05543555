/**
 * Walk-forward backtest with an expanding window over trading dates. Folds are cut on dates, not
 * rows: every symbol's row of one date lands on the same side, so a model never trains on a day
 * it is then tested on (cross-sectional leakage through market-wide moves).
 */
import { noChangeForecast, sma5DriftForecast } from './baselines.js';
import { InvalidTrainingDataError, type Dataset, type TrainingExample } from './dataset.js';
import { forecastMetrics, type ForecastFigures } from './metrics.js';

/** Anything that predicts log returns from feature rows (RidgeModel, GbrtModel, …). */
export interface Predictor {
  /** Predicted next-session log returns, one per row. */
  predict(x: number[][]): Float64Array;
}

/** An inclusive range of trading dates, ISO `YYYY-MM-DD`. */
export interface DateRange {
  start: string;
  end: string;
}

/** The model's figures beside both baselines', all over the same rows. */
export interface Evaluation {
  model: ForecastFigures;
  noChange: ForecastFigures;
  sma5Drift: ForecastFigures;
}

/** One fold: trained on every date before `testRange`, tested on `testRange`. */
export interface FoldResult extends Evaluation {
  /** Fold number, 1-based, in time order. */
  fold: number;
  /** Dates the fold's model was trained on (always from the first date). */
  trainRange: DateRange;
  /** Dates it was tested on, strictly after trainRange. */
  testRange: DateRange;
  /** Training rows. */
  trainCount: number;
}

/** A whole backtest; plain data (no functions), so it crosses worker threads and JSON as is. */
export interface WalkForwardResult {
  /** Folds in time order. */
  folds: FoldResult[];
  /** Figures pooled over every fold's test rows (not an average of fold figures). */
  overall: Evaluation;
  /** The last fold: the most recent test window, which promotion decisions rest on. */
  holdout: FoldResult;
}

/** Options of {@link walkForward}. */
export interface WalkForwardOptions<M extends Predictor> {
  /** Number of folds K ≥ 1; the dates are cut into K + 1 blocks. Default 5. */
  folds?: number;
  /** Fits a model on the training rows of a fold. */
  train: (x: number[][], y: number[]) => M;
  /** Called after each fold with its 1-based number, the fold count and its figures (progress reporting). */
  onFold?: (fold: number, folds: number, result: FoldResult) => void;
}

/**
 * Runs the backtest: the sorted unique dates are split into folds + 1 contiguous blocks of (near)
 * equal date counts; fold k trains on blocks 0..k−1 and tests on block k, beside the "no change"
 * and "SMA-5 drift" baselines on exactly the same test rows. Synchronous and CPU-bound: run it in
 * a worker thread in a service.
 *
 * @param dataset examples sorted by date (then symbol); needs at least folds + 1 distinct dates.
 */
export function walkForward<M extends Predictor>(dataset: Dataset, options: WalkForwardOptions<M>): WalkForwardResult {
  const { folds = 5, train, onFold } = options;
  const { examples, featureNames } = dataset;
  if (!Number.isInteger(folds) || folds < 1) throw new InvalidTrainingDataError(`folds must be an integer ≥ 1, got ${folds}`);
  const { dates, firstRow } = dateIndex(examples);
  if (dates.length < folds + 1) {
    throw new InvalidTrainingDataError(`${dates.length} distinct dates cannot make ${folds} folds (need at least ${folds + 1})`);
  }
  // blockStart[b] = index into `dates` of block b's first date; blockStart[folds + 1] = dates.length.
  const blockStart = Array.from({ length: folds + 2 }, (_, b) => Math.floor((b * dates.length) / (folds + 1)));
  const rowOf = (dateIndex: number) => (dateIndex < dates.length ? firstRow[dateIndex] : examples.length);

  const results: FoldResult[] = [];
  const pooledRows: TrainingExample[] = [];
  const pooledModel: number[] = [];
  for (let k = 1; k <= folds; k++) {
    const trainEnd = rowOf(blockStart[k]);
    const testEnd = rowOf(blockStart[k + 1]);
    const trainRows = examples.slice(0, trainEnd);
    const testRows = examples.slice(trainEnd, testEnd);
    const model = train(
      trainRows.map((e) => e.features),
      trainRows.map((e) => e.label),
    );
    const predictions = model.predict(testRows.map((e) => e.features));
    const result: FoldResult = {
      fold: k,
      trainRange: { start: dates[0], end: dates[blockStart[k] - 1] },
      testRange: { start: dates[blockStart[k]], end: dates[blockStart[k + 1] - 1] },
      trainCount: trainRows.length,
      ...evaluate(predictions, testRows, featureNames),
    };
    results.push(result);
    for (let i = 0; i < testRows.length; i++) {
      pooledRows.push(testRows[i]);
      pooledModel.push(predictions[i]);
    }
    onFold?.(k, folds, result);
  }
  return { folds: results, overall: evaluate(pooledModel, pooledRows, featureNames), holdout: results[results.length - 1] };
}

/** Model and baseline figures over the same rows. */
function evaluate(predictions: ArrayLike<number>, rows: readonly TrainingExample[], featureNames: readonly string[]): Evaluation {
  return {
    model: forecastMetrics(predictions, rows),
    noChange: forecastMetrics(noChangeForecast(rows), rows),
    sma5Drift: forecastMetrics(sma5DriftForecast(rows, featureNames), rows),
  };
}

/** Distinct dates in order and the first row of each; rejects unsorted examples (folds would leak). */
function dateIndex(examples: readonly TrainingExample[]): { dates: string[]; firstRow: number[] } {
  const dates: string[] = [];
  const firstRow: number[] = [];
  for (let i = 0; i < examples.length; i++) {
    const date = examples[i].date;
    const last = dates.length > 0 ? dates[dates.length - 1] : undefined;
    if (last !== undefined && date < last) {
      throw new InvalidTrainingDataError(`examples are not sorted by date: ${date} at row ${i} follows ${last}`);
    }
    if (date !== last) {
      dates.push(date);
      firstRow.push(i);
    }
  }
  return { dates, firstRow };
}
