/**
 * Training distributions of the features, stored with a model so monitoring can measure drift of
 * live feature vectors (population stability index) against what the model was trained on.
 * Bins follow the nepse.registry.v1.FeatureDistribution contract: `binEdges` are the ascending
 * interior cut points e_0 < … < e_{n−2} of n bins; bin 0 is (−∞, e_0), bin i is [e_{i−1}, e_i),
 * the last bin is [e_{n−2}, +∞). Open outer bins keep live values beyond the training range countable.
 */
import { binIndex } from '../../../lib/market/index.js';

/** The training distribution of one feature. */
export interface FeatureDistribution {
  /** Feature name, as in the feature set. */
  feature: string;
  /** Strictly ascending interior cut points, feature units; n bins have n − 1 edges (none for a constant feature). */
  binEdges: number[];
  /** Fraction of training rows in each bin; sums to 1 (a single 0 when there were no finite values). */
  binFractions: number[];
  /** Training rows the bins were computed from (non-finite values are left out). */
  sampleCount: number;
}

/**
 * Quantile bins per feature: cut points at the k/bins quantiles (k = 1..bins−1, linear
 * interpolation between order statistics), with coinciding cut points merged, so heavy ties (a
 * feature that is often exactly 0) or a constant feature give fewer, never empty-by-construction, bins.
 * A constant feature gets no edges and a single bin holding everything.
 *
 * @param x training rows (n×F); @param names the F feature names; @param bins target bin count ≥ 1. Default 10.
 */
export function featureDistributions(x: readonly (readonly number[])[], names: readonly string[], bins = 10): FeatureDistribution[] {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be an integer ≥ 1, got ${bins}`);
  const n = x.length;
  const column = new Float64Array(n);
  return names.map((feature, j) => {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i][j];
      // A non-finite value has no bin; it is left out of the sample rather than breaking the sort.
      if (Number.isFinite(v)) column[m++] = v;
    }
    const sorted = column.slice(0, m).sort();
    const binEdges: number[] = [];
    for (let k = 1; k < bins && m > 0; k++) {
      const edge = quantile(sorted, k / bins);
      if (edge > sorted[0] && (binEdges.length === 0 || edge > binEdges[binEdges.length - 1])) binEdges.push(edge);
    }
    const counts = new Array<number>(binEdges.length + 1).fill(0);
    for (let i = 0; i < m; i++) counts[binIndex(binEdges, sorted[i])]++;
    return { feature, binEdges, binFractions: counts.map((c) => (m > 0 ? c / m : 0)), sampleCount: m };
  });
}

/** Quantile q of ascending values by linear interpolation between order statistics (numpy's default). */
function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}
