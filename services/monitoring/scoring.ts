/**
 * Scoring one prediction against the bar of its target day, in the units of
 * nepse.market.v1.ForecastMetrics, beside the NO_CHANGE baseline on the same pair.
 */

/** What scoring needs of a prediction. */
export interface ScorablePrediction {
  /** Predicted next-session log return. */
  predictedReturn: number;
  /** Predicted next-session close, price units. */
  predictedClose: number;
  /** Close of the feature date, price units. */
  baseClose: number;
}

/** Errors of one forecast of one close. */
export interface PointErrors {
  /** |predicted − actual| log return. */
  absReturn: number;
  /** (predicted − actual)² log return. */
  sqReturn: number;
  /** |predicted − actual| close, price units. */
  absClose: number;
  /** (predicted − actual)² close, price units². */
  sqClose: number;
  /** |predicted − actual| / actual close, a fraction. */
  apeClose: number;
  /**
   * 1 when the predicted return has the sign of the actual one, else 0. A realised return of
   * exactly 0 is a hit only when the prediction is exactly 0 too (market.proto's rule, also the
   * training backtest's), so NO_CHANGE scores a hit only on a day the close did not move.
   */
  hit: 0 | 1;
}

/** A scored prediction: the actual return and the errors of the model and of NO_CHANGE. */
export interface Score {
  /** ln(actual close / base close). */
  actualReturn: number;
  model: PointErrors;
  noChange: PointErrors;
}

function errors(predictedReturn: number, predictedClose: number, actualReturn: number, actualClose: number): PointErrors {
  const er = predictedReturn - actualReturn;
  const ec = predictedClose - actualClose;
  // Math.sign gives ±0 for zeros and -0 === 0, so "0 predicted for a 0 return" is a hit.
  return {
    absReturn: Math.abs(er),
    sqReturn: er * er,
    absClose: Math.abs(ec),
    sqClose: ec * ec,
    apeClose: Math.abs(ec) / actualClose,
    hit: Math.sign(predictedReturn) === Math.sign(actualReturn) ? 1 : 0,
  };
}

/** Scores a prediction against the close of its target session (> 0). */
export function scorePrediction(prediction: ScorablePrediction, actualClose: number): Score {
  const actualReturn = Math.log(actualClose / prediction.baseClose);
  return {
    actualReturn,
    model: errors(prediction.predictedReturn, prediction.predictedClose, actualReturn, actualClose),
    noChange: errors(0, prediction.baseClose, actualReturn, actualClose),
  };
}
