/**
 * Synthetic training sets with a known answer, for tests and benchmarks: a planted signal plus
 * Gaussian noise of known variance σ² (so σ² is the lowest MSE any model can reach), and a pure
 * random walk (nothing to learn: "no change" is optimal). Seeded, so every run is identical.
 */
import { LOG_RETURN_5D } from './baselines.js';
import type { Dataset, TrainingExample } from './dataset.js';
import { createRandom } from '../../../lib/random/index.js';

/** Shape and noise of a synthetic training set. */
export interface SyntheticOptions {
  /** Symbols (rows per date). Default 20. */
  symbols?: number;
  /** Trading dates (rows per symbol). Default 1000. */
  days?: number;
  /** Feature count F ≥ 2: F − 1 independent features plus `log_return_5d` last. Default 25. */
  features?: number;
  /** Standard deviation σ of the label noise, log-return units. Default 0.01. */
  noiseStd?: number;
  /** PRNG seed. Default 42. */
  seed?: number;
  /** First date, ISO `YYYY-MM-DD`; dates are consecutive calendar days. Default `2015-01-01`. */
  startDate?: string;
}

/** Options of {@link plantedSignalDataset}. */
export interface PlantedSignalOptions extends SyntheticOptions {
  /** Standard deviation of the planted linear signal, log-return units. Default = noiseStd (signal-to-noise 1). */
  signalStd?: number;
  /**
   * Replaces the linear signal: the expected label given the latent standard normals z_j behind
   * features x_j = mean_j + scale_j·z_j (j < F − 1), e.g. `(z) => 0.01 * Math.sign(z[0])`.
   */
  signal?: (z: readonly number[]) => number;
}

/** A synthetic training set and the truth behind it. */
export interface SyntheticDataset {
  dataset: Dataset;
  /** Label noise variance σ², squared log-return units: the best achievable MSE. */
  noiseVariance: number;
  /** Planted coefficients on the raw features (0 for `log_return_5d`; all 0 without a linear signal). */
  coefficients: number[];
  /** Planted intercept, so that E[label | x] = intercept + Σ coefficients_j · x_j. */
  intercept: number;
}

/**
 * Labels follow a planted signal in the features plus N(0, σ²) noise. Features have deliberately
 * different scales (0.01 to 100) and offsets, so standardisation and its folding into ONNX are
 * exercised; the last feature is the true ln(close_t / close_{t−5}) of the generated price path.
 */
export function plantedSignalDataset(options: PlantedSignalOptions = {}): SyntheticDataset {
  const { features = 25, noiseStd = 0.01, seed = 42 } = options;
  const random = createRandom(seed ^ 0x5eed);
  const scales = Array.from({ length: features - 1 }, (_, j) => 10 ** ((j % 5) - 2));
  const means = scales.map((s, j) => ((j % 3) - 1) * 3 * s);
  let coefficients = new Array<number>(features).fill(0);
  let intercept = 0;
  let signal = options.signal;
  if (!signal) {
    // Random directions in latent space, scaled so the signal's standard deviation is signalStd.
    const latent = scales.map(() => random.gaussian());
    const norm = Math.hypot(...latent);
    const signalStd = options.signalStd ?? noiseStd;
    const beta = latent.map((b) => (b / norm) * signalStd);
    coefficients = [...beta.map((b, j) => b / scales[j]), 0];
    intercept = -beta.reduce((s, b, j) => s + (b * means[j]) / scales[j], 0);
    signal = (z) => {
      let s = 0;
      for (let j = 0; j < beta.length; j++) s += beta[j] * z[j];
      return s;
    };
  }
  return generate({ ...options, features, noiseStd, seed }, scales, means, signal, coefficients, intercept);
}

/** Labels are pure N(0, σ²) noise, independent of the features: a random walk in log price. */
export function randomWalkDataset(options: SyntheticOptions = {}): SyntheticDataset {
  const { features = 25, noiseStd = 0.01, seed = 42 } = options;
  const scales = Array.from({ length: features - 1 }, (_, j) => 10 ** ((j % 5) - 2));
  const means = scales.map((s, j) => ((j % 3) - 1) * 3 * s);
  return generate({ ...options, features, noiseStd, seed }, scales, means, () => 0, new Array<number>(features).fill(0), 0);
}

function generate(
  options: SyntheticOptions & { features: number; noiseStd: number; seed: number },
  scales: number[],
  means: number[],
  signal: (z: readonly number[]) => number,
  coefficients: number[],
  intercept: number,
): SyntheticDataset {
  const { symbols = 20, days = 1000, features, noiseStd, seed, startDate = '2015-01-01' } = options;
  if (!Number.isInteger(features) || features < 2) throw new RangeError(`features must be an integer ≥ 2, got ${features}`);
  const random = createRandom(seed);
  const names = [...scales.map((_, j) => `x${j}`), LOG_RETURN_5D];
  const symbolNames = Array.from({ length: symbols }, (_, s) => `SYM${String(s).padStart(4, '0')}`);
  // Per symbol, the last six closes (ring buffer), seeded with a pure-noise warm-up so that
  // log_return_5d is defined from the first date.
  const history = symbolNames.map(() => {
    const closes = [100 * Math.exp(0.5 * random.gaussian())];
    for (let k = 0; k < 5; k++) closes.push(closes[closes.length - 1] * Math.exp(noiseStd * random.gaussian()));
    return closes;
  });
  const start = Date.parse(`${startDate}T00:00:00Z`);
  const examples: TrainingExample[] = [];
  const z = new Array<number>(features - 1);
  for (let d = 0; d < days; d++) {
    const date = new Date(start + d * 86_400_000).toISOString().slice(0, 10);
    for (let s = 0; s < symbols; s++) {
      const closes = history[s];
      const close = closes[5];
      const row = new Array<number>(features);
      for (let j = 0; j < features - 1; j++) {
        z[j] = random.gaussian();
        row[j] = means[j] + scales[j] * z[j];
      }
      row[features - 1] = Math.log(close / closes[0]);
      const label = signal(z) + noiseStd * random.gaussian();
      const nextClose = close * Math.exp(label);
      examples.push({ symbol: symbolNames[s], date, features: row, close, label, nextClose });
      closes.shift();
      closes.push(nextClose);
    }
  }
  return { dataset: { featureNames: names, examples }, noiseVariance: noiseStd * noiseStd, coefficients, intercept };
}
