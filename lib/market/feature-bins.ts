/**
 * The bin rule of nepse.registry.v1.FeatureDistribution, shared by the side that bins training
 * values (training) and the side that bins live values against them (monitoring): were they to
 * differ, values equal to an edge would land in different bins and show as drift.
 */

/**
 * The bin of `value` among ascending interior cut points `edges`: bin 0 is (−∞, e_0), bin i is
 * [e_{i−1}, e_i), the last is [e_{n−2}, +∞); that is, the number of edges ≤ value (binary search).
 */
export function binIndex(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
