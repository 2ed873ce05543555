/**
 * Population stability index of live feature values against a training distribution stored with
 * the model (nepse.registry.v1.FeatureDistribution): PSI = Σ (a_i − e_i) · ln(a_i / e_i) over
 * the bins, a_i the live and e_i the training fraction of bin i. Common reading: below 0.1 no
 * shift, 0.1–0.2 moderate, above 0.2 significant.
 */
import { binIndex } from '../../lib/market/index.js';

/** Stands in for a fraction of 0 (a bin no live or no training value fell in): ln(0) is undefined. */
export const PSI_EPSILON = 1e-4;

/** A training distribution: n − 1 ascending interior cut points and the n bin fractions. */
export interface Bins {
  binEdges: readonly number[];
  binFractions: readonly number[];
}

/**
 * PSI of `values` against `bins`; non-finite values are left out. Undefined when no finite value
 * is left or the distribution is malformed (fractions not one per bin). Empty bins on either side
 * count as {@link PSI_EPSILON}, which bounds each bin's term instead of making it infinite.
 */
export function psi(values: readonly number[], bins: Bins): { psi: number; samples: number } | undefined {
  const n = bins.binEdges.length + 1;
  if (bins.binFractions.length !== n) return undefined;
  const counts = new Array<number>(n).fill(0);
  let samples = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    counts[binIndex(bins.binEdges, v)]++;
    samples++;
  }
  if (samples === 0) return undefined;
  let index = 0;
  for (let i = 0; i < n; i++) {
    const actual = Math.max(counts[i] / samples, PSI_EPSILON);
    const expected = Math.max(bins.binFractions[i], PSI_EPSILON);
    index += (actual - expected) * Math.log(actual / expected);
  }
  return { psi: index, samples };
}
