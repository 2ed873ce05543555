/**
 * Ridge regression in closed form on standardised features. Standardising first makes one λ mean
 * the same shrinkage for every feature whatever its unit (RSI in 0–100, returns in 0.01s), and
 * keeps the normal equations well conditioned.
 */
import { assertTrainingData, assertWidth, InvalidTrainingDataError } from './dataset.js';

/** Options of {@link trainRidge}. */
export interface RidgeOptions {
  /** L2 penalty λ on the standardised weights (not on the intercept), ≥ 0; absolute, not per row. Default 1. */
  lambda?: number;
}

/** A fitted ridge model: ŷ = intercept + Σ_j weights_j · (x_j − means_j) / scales_j. */
export interface RidgeModel {
  kind: 'ridge';
  /** Feature count F the model was trained on. */
  featureCount: number;
  /** Per-feature training mean μ_j, feature units. */
  means: number[];
  /** Per-feature training standard deviation σ_j (population), feature units; 1 for a constant feature. */
  scales: number[];
  /** Weights on the standardised features, target units (log return) per standard deviation. */
  weights: number[];
  /** Intercept: mean training label, target units (log return). */
  intercept: number;
  /** Predicted targets (log returns), one per row; throws on a row of the wrong width. */
  predict(x: readonly (readonly number[])[]): Float64Array;
}

/** Raised when the penalised normal equations are not positive definite (λ = 0 with collinear features). */
export class RidgeSolveError extends Error {
  override readonly name = 'RidgeSolveError';
}

/**
 * Fits ridge regression: standardises each feature with the training rows' mean and standard
 * deviation, then solves (ZᵀZ + λI) w = Zᵀ(y − ȳ) by Cholesky; the intercept is ȳ, unpenalised.
 * O(n·F²) time, O(F²) extra memory: 400k × 25 rows take well under a second.
 */
export function trainRidge(x: readonly (readonly number[])[], y: ArrayLike<number>, options: RidgeOptions = {}): RidgeModel {
  const { lambda = 1.0 } = options;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new InvalidTrainingDataError(`lambda must be finite and ≥ 0, got ${lambda}`);
  const f = assertTrainingData(x, y);
  const n = x.length;
  const { means, scales, constant } = standardisation(x, f);

  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += y[i];
  yMean /= n;

  // Upper triangle of ZᵀZ row by row: one pass over the data, F(F+1)/2 multiply-adds per row.
  const gram = new Float64Array(f * f);
  const rhs = new Float64Array(f);
  const z = new Float64Array(f);
  for (let i = 0; i < n; i++) {
    const row = x[i];
    for (let j = 0; j < f; j++) z[j] = (row[j] - means[j]) / scales[j];
    const r = y[i] - yMean;
    for (let j = 0; j < f; j++) {
      const zj = z[j];
      rhs[j] += zj * r;
      const base = j * f;
      for (let k = j; k < f; k++) gram[base + k] += zj * z[k];
    }
  }
  for (let j = 0; j < f; j++) {
    // A constant column is all zeros once standardised; a unit diagonal pins its weight to 0, so
    // λ = 0 still solves when the rest of the features are independent.
    gram[j * f + j] += constant[j] ? 1 : lambda;
    for (let k = 0; k < j; k++) gram[j * f + k] = gram[k * f + j];
  }
  const weights = Array.from(choleskySolve(gram, rhs, f));
  return createRidgeModel({ featureCount: f, means, scales, weights, intercept: yMean });
}

/** Rebuilds a ridge model (e.g. from stored parameters), attaching `predict`. */
export function createRidgeModel(params: Omit<RidgeModel, 'kind' | 'predict'>): RidgeModel {
  const { featureCount, means, scales, weights, intercept } = params;
  return {
    kind: 'ridge',
    featureCount,
    means,
    scales,
    weights,
    intercept,
    predict(rows) {
      assertWidth(rows, featureCount);
      const out = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        let sum = intercept;
        for (let j = 0; j < featureCount; j++) sum += (weights[j] * (row[j] - means[j])) / scales[j];
        out[i] = sum;
      }
      return out;
    },
  };
}

/**
 * Mean and population standard deviation per column, two-pass for accuracy. A constant column is
 * detected by min = max rather than by σ = 0: its floating-point mean can differ from the value
 * in the last bit, which would leave a σ of ~1e-17 and turn rounding noise into a huge feature.
 */
function standardisation(x: readonly (readonly number[])[], f: number): { means: number[]; scales: number[]; constant: boolean[] } {
  const n = x.length;
  const means = new Array<number>(f).fill(0);
  const min = new Float64Array(f).fill(Infinity);
  const max = new Float64Array(f).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const row = x[i];
    for (let j = 0; j < f; j++) {
      const v = row[j];
      means[j] += v;
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
    }
  }
  for (let j = 0; j < f; j++) means[j] /= n;
  const squares = new Float64Array(f);
  for (let i = 0; i < n; i++) {
    const row = x[i];
    for (let j = 0; j < f; j++) {
      const d = row[j] - means[j];
      squares[j] += d * d;
    }
  }
  const scales = new Array<number>(f);
  const constant = new Array<boolean>(f).fill(false);
  for (let j = 0; j < f; j++) {
    if (min[j] === max[j]) {
      constant[j] = true;
      means[j] = min[j];
      scales[j] = 1;
    } else {
      const sd = Math.sqrt(squares[j] / n);
      scales[j] = sd > 0 ? sd : 1;
    }
  }
  return { means, scales, constant };
}

/**
 * Solves A w = b for a symmetric positive-definite A (row-major f×f) by Cholesky A = L Lᵀ, then
 * forward and back substitution. Throws {@link RidgeSolveError} when A is not positive definite.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, f: number): Float64Array {
  const l = new Float64Array(f * f);
  for (let j = 0; j < f; j++) {
    let diag = a[j * f + j];
    for (let k = 0; k < j; k++) diag -= l[j * f + k] * l[j * f + k];
    // Relative tolerance: a pivot lost to cancellation is as singular as a zero one.
    if (!(diag > 1e-12 * Math.max(1, Math.abs(a[j * f + j])))) {
      throw new RidgeSolveError(`normal equations are singular at feature ${j}; use lambda > 0`);
    }
    const ljj = Math.sqrt(diag);
    l[j * f + j] = ljj;
    for (let i = j + 1; i < f; i++) {
      let s = a[i * f + j];
      for (let k = 0; k < j; k++) s -= l[i * f + k] * l[j * f + k];
      l[i * f + j] = s / ljj;
    }
  }
  const w = new Float64Array(f);
  for (let i = 0; i < f; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * f + k] * w[k];
    w[i] = s / l[i * f + i];
  }
  for (let i = f - 1; i >= 0; i--) {
    let s = w[i];
    for (let k = i + 1; k < f; k++) s -= l[k * f + i] * w[k];
    w[i] = s / l[i * f + i];
  }
  return w;
}
