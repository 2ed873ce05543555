/**
 * The naive forecasts every model is judged against: a model that cannot
 * beat them on its holdout is never promoted automatically.
 */
import type { TrainingExample } from './dataset.js';

/** Name of the feature the SMA-5 drift baseline reads: ln(close_t / close_{t−5}). */
export const LOG_RETURN_5D = 'log_return_5d';

/** Raised when the feature set lacks a feature a baseline needs. */
export class MissingBaselineFeatureError extends Error {
  override readonly name = 'MissingBaselineFeatureError';
}

/** "No change": tomorrow's close equals today's, i.e. a predicted log return of 0 for every row. */
export function noChangeForecast(examples: readonly TrainingExample[]): Float64Array {
  return new Float64Array(examples.length);
}

/**
 * "SMA-5 drift": the average daily log return of the last five sessions continues, i.e.
 * ln(close_t / close_{t−5}) / 5, read from the `log_return_5d` feature (found by name, so a feature
 * set that reorders its columns still gets the right one).
 */
export function sma5DriftForecast(examples: readonly TrainingExample[], featureNames: readonly string[]): Float64Array {
  const index = featureNames.indexOf(LOG_RETURN_5D);
  if (index < 0)
    throw new MissingBaselineFeatureError(`the feature set has no ${LOG_RETURN_5D} feature, which the SMA-5 drift baseline needs`);
  const out = new Float64Array(examples.length);
  for (let i = 0; i < examples.length; i++) out[i] = examples[i].features[index] / 5;
  return out;
}
