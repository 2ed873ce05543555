/**
 * Forecast accuracy of predicted next-session log returns, in the units of the
 * nepse.market.v1.ForecastMetrics contract: return errors in log-return units, close errors in
 * price units, MAPE and directional accuracy as fractions.
 */
import type { TrainingExample } from './dataset.js';

/** Accuracy figures of one set of predictions (a fold, a pooled backtest, a baseline). */
export interface ForecastFigures {
  /** Number of scored predictions. */
  count: number;
  /** Mean |predicted − realised| log return, log-return units (0.01 ≈ 1 %). */
  maeReturn: number;
  /** Root mean squared log-return error, log-return units. */
  rmseReturn: number;
  /** Mean |predicted − actual| next close, price units, with predicted close = close · exp(predicted return). */
  maeClose: number;
  /** Root mean squared next-close error, price units. */
  rmseClose: number;
  /** Mean |predicted − actual| / actual next close, a fraction (0.012 = 1.2 %). */
  mapeClose: number;
  /**
   * Fraction (0..1) of predictions whose sign matches the realised return's; a realised return of
   * exactly 0 is a hit only when the prediction is exactly 0 too.
   */
  directionalAccuracy: number;
}

/**
 * Scores predicted log returns against what happened. Every figure is NaN when there are no rows,
 * so an empty window is never mistaken for a perfect one.
 *
 * @param predReturns predicted next-session log returns, one per example, same order.
 */
export function forecastMetrics(predReturns: ArrayLike<number>, examples: readonly TrainingExample[]): ForecastFigures {
  if (predReturns.length !== examples.length) {
    throw new RangeError(`${predReturns.length} predictions for ${examples.length} examples`);
  }
  const n = examples.length;
  let absReturn = 0;
  let sqReturn = 0;
  let absClose = 0;
  let sqClose = 0;
  let pctClose = 0;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const { close, label, nextClose } = examples[i];
    const p = predReturns[i];
    const er = p - label;
    absReturn += Math.abs(er);
    sqReturn += er * er;
    const ec = close * Math.exp(p) - nextClose;
    absClose += Math.abs(ec);
    sqClose += ec * ec;
    pctClose += Math.abs(ec) / nextClose;
    // Math.sign maps both zeros to ±0, and -0 === 0, so "0 predicted for a 0 return" is a hit.
    if (Math.sign(p) === Math.sign(label)) hits++;
  }
  return {
    count: n,
    maeReturn: absReturn / n,
    rmseReturn: Math.sqrt(sqReturn / n),
    maeClose: absClose / n,
    rmseClose: Math.sqrt(sqClose / n),
    mapeClose: pctClose / n,
    directionalAccuracy: hits / n,
  };
}
