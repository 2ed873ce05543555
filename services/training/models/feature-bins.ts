/**
 * Quantile binning of the training matrix for histogram-based tree learning, done once per
 * training run. Edges are float32 values and rows are binned by their float32 value, so the split
 * "bin ≤ b" a tree learns is exactly "Math.fround(x) ≤ edges[b]", which is how onnxruntime's
 * TreeEnsembleRegressor (BRANCH_LEQ, float32 input and thresholds) will branch at serving time.
 */

/** The binned training matrix. */
export interface FeatureBins {
  /** Row count n. */
  rows: number;
  /** Feature count F. */
  features: number;
  /** Per feature, ascending float32-exact split thresholds; feature j has `edges[j].length + 1` bins. */
  edges: Float32Array[];
  /** Row-major n×F bin codes: code c means edges[c−1] < fround(x) ≤ edges[c] (open-ended at both ends). */
  codes: Uint8Array;
}

/** Most bins per feature: codes are stored in one byte. */
export const MAX_BINS = 256;

/**
 * Computes at most `maxBins` quantile bins per feature and bins every row. A feature with at most
 * `maxBins` distinct (float32) values gets one bin per value, so day-of-week style features split
 * exactly; otherwise edges sit at the k/maxBins quantiles, merged where ties make them coincide.
 * Edges come from at most 100k evenly spaced rows (the data arrive sorted by date, so a stride
 * spans the whole period); every row is binned.
 *
 * @param maxBins bins per feature, 2..256.
 */
export function binFeatures(x: readonly (readonly number[])[], maxBins: number): FeatureBins {
  if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > MAX_BINS) {
    throw new RangeError(`bins must be an integer in 2..${MAX_BINS}, got ${maxBins}`);
  }
  const n = x.length;
  const f = n > 0 ? x[0].length : 0;
  // One row-major pass into float32 columns: reading x column by column would chase n row
  // pointers per feature, which costs more than the sorting.
  const columns = new Float32Array(n * f);
  for (let i = 0; i < n; i++) {
    const row = x[i];
    for (let j = 0; j < f; j++) columns[j * n + i] = row[j];
  }
  const edges: Float32Array[] = [];
  for (let j = 0; j < f; j++) edges.push(quantileEdges(sampleSorted(columns.subarray(j * n, (j + 1) * n)), maxBins));
  // Row by row, so the 10 MB of codes are written in order (column by column was 2× slower).
  const codes = new Uint8Array(n * f);
  for (let i = 0, k = 0; i < n; i++) {
    for (let j = 0; j < f; j++, k++) codes[k] = binOf(edges[j], columns[j * n + i]);
  }
  return { rows: n, features: f, edges, codes };
}

/** The bin of a float32 value: the number of edges strictly below it (binary search). */
export function binOf(edges: Float32Array, value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Rows sampled for quantile edges at most; the k/64 quantiles of 100k sampled rows are within ~0.2 % of the full data's. */
const EDGE_SAMPLE = 100_000;

/** The column's values sorted ascending, or an evenly strided sample of EDGE_SAMPLE of them. */
function sampleSorted(column: Float32Array): Float32Array {
  if (column.length <= EDGE_SAMPLE) return column.slice().sort();
  const sample = new Float32Array(EDGE_SAMPLE);
  const step = column.length / EDGE_SAMPLE;
  for (let k = 0; k < EDGE_SAMPLE; k++) sample[k] = column[Math.floor(k * step)];
  return sample.sort();
}

/** Split thresholds from a sorted float32 column; the largest value is never an edge (nothing would go right). */
function quantileEdges(sorted: Float32Array, maxBins: number): Float32Array {
  const n = sorted.length;
  const distinct: number[] = [];
  for (let i = 0; i < n && distinct.length <= maxBins; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]);
  }
  if (distinct.length <= maxBins) return Float32Array.from(distinct.slice(0, -1));
  const max = sorted[n - 1];
  const out: number[] = [];
  for (let k = 1; k < maxBins; k++) {
    // The value below which k/maxBins of the rows lie; "≤ edge" then sends that share left.
    const edge = sorted[Math.ceil((k * n) / maxBins) - 1];
    if (edge < max && (out.length === 0 || edge > out[out.length - 1])) out.push(edge);
  }
  return Float32Array.from(out);
}
