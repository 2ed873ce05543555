/**
 * Gradient-boosted regression trees for squared loss, histogram-based: rows are binned once
 * (feature-bins.ts), each node's split comes from per-feature histograms of residual sums, and a
 * sibling's histogram is its parent's minus the smaller child's, so each level costs at most
 * half a pass over the rows. Thresholds and leaf values are float32 so the ONNX export
 * (TreeEnsembleRegressor) branches and sums exactly like {@link GbrtModel.predict}.
 */
import { assertTrainingData, assertWidth, InvalidTrainingDataError } from './dataset.js';
import { binFeatures } from './feature-bins.js';
import { createRandom } from '../../../lib/random/index.js';
import { TreeGrower, type RegressionTree } from './tree-grower.js';

export type { RegressionTree } from './tree-grower.js';

/** Options of {@link trainGbrt}. */
export interface GbrtOptions {
  /** Boosting rounds (trees). Default 100. */
  trees?: number;
  /** Depth of each tree (a depth-d tree has at most 2^d leaves). Default 3. */
  maxDepth?: number;
  /** Shrinkage applied to each tree's leaf values, (0, 1]. Default 0.05. */
  learningRate?: number;
  /** Fewest training rows a leaf may hold. Default 20. */
  minSamplesLeaf?: number;
  /** Quantile bins per feature, 2..256. Default 64. */
  bins?: number;
  /** Share of rows drawn (each row independently, per tree) to grow each tree, (0, 1]. Default 1. */
  subsample?: number;
  /** Seed of the row subsampling. Default 1. */
  seed?: number;
  /** Called after each tree with its 1-based index and the training MSE (squared log-return units). */
  onTree?: (tree: number, trainLoss: number) => void;
}

/** A fitted boosted ensemble: ŷ = base + Σ_trees value(leaf reached). */
export interface GbrtModel {
  kind: 'gbrt';
  /** Feature count F the model was trained on. */
  featureCount: number;
  /** Starting prediction: the mean training label, float32-exact, log-return units. */
  base: number;
  /** The trees, in boosting order. */
  trees: RegressionTree[];
  /** Training MSE over all training rows after each tree, squared log-return units (diagnostics). */
  trainLoss: number[];
  /** Predicted targets (log returns), one per row; throws on a row of the wrong width. */
  predict(x: readonly (readonly number[])[]): Float64Array;
}

/**
 * Fits gradient-boosted trees to minimise squared error. Each round fits a depth-limited tree to
 * the residuals y − ŷ with leaf value = mean residual (the Newton step for squared loss) times
 * the learning rate. Cost per tree ≈ 2 passes over n×F bin codes; see the benchmark for timings.
 */
export function trainGbrt(x: readonly (readonly number[])[], y: ArrayLike<number>, options: GbrtOptions = {}): GbrtModel {
  const { trees = 100, maxDepth = 3, learningRate = 0.05, minSamplesLeaf = 20, bins = 64, subsample = 1, seed = 1, onTree } = options;
  if (!Number.isInteger(trees) || trees < 0) throw new InvalidTrainingDataError(`trees must be an integer ≥ 0, got ${trees}`);
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > 16)
    throw new InvalidTrainingDataError(`maxDepth must be in 1..16, got ${maxDepth}`);
  if (!(learningRate > 0 && learningRate <= 1)) throw new InvalidTrainingDataError(`learningRate must be in (0, 1], got ${learningRate}`);
  if (!Number.isInteger(minSamplesLeaf) || minSamplesLeaf < 1)
    throw new InvalidTrainingDataError(`minSamplesLeaf must be an integer ≥ 1, got ${minSamplesLeaf}`);
  if (!(subsample > 0 && subsample <= 1)) throw new InvalidTrainingDataError(`subsample must be in (0, 1], got ${subsample}`);
  const f = assertTrainingData(x, y);
  const n = x.length;
  const binned = binFeatures(x, bins);

  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i];
  const base = Math.fround(mean / n);
  const fitted = new Float64Array(n).fill(base);
  const residual = new Float64Array(n);
  const grower = new TreeGrower(binned.codes, binned.edges, f, maxDepth, minSamplesLeaf);
  const random = createRandom(seed);
  const rows = new Uint32Array(n);

  const out: RegressionTree[] = [];
  const trainLoss: number[] = [];
  for (let t = 0; t < trees; t++) {
    for (let i = 0; i < n; i++) residual[i] = y[i] - fitted[i];
    // Bernoulli sampling keeps rows in ascending order, so histogram passes read memory in sequence
    // (a shuffled sample made subsample = 0.5 slower than no sampling at all).
    let sampleSize = 0;
    for (let i = 0; i < n; i++) if (subsample === 1 || random.uniform() < subsample) rows[sampleSize++] = i;
    if (sampleSize === 0) rows[sampleSize++] = Math.floor(random.uniform() * n);
    const tree = grower.grow(residual, rows.subarray(0, sampleSize), learningRate);
    out.push(tree.tree);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      fitted[i] += tree.tree.values[tree.leafOf(i)];
      const e = y[i] - fitted[i];
      loss += e * e;
    }
    trainLoss.push(loss / n);
    onTree?.(t + 1, loss / n);
  }
  return createGbrtModel({ featureCount: f, base, trees: out, trainLoss });
}

/** Rebuilds a boosted ensemble (e.g. from stored parameters), attaching `predict`. */
export function createGbrtModel(params: Omit<GbrtModel, 'kind' | 'predict'>): GbrtModel {
  const { featureCount, base, trees, trainLoss } = params;
  let flat: ReturnType<typeof flatten> | undefined;
  return {
    kind: 'gbrt',
    featureCount,
    base,
    trees,
    trainLoss,
    predict(x) {
      assertWidth(x, featureCount);
      flat ??= flatten(trees);
      const { roots, feature, threshold, left, right, value } = flat;
      const out = new Float64Array(x.length);
      // onnxruntime sees float32 inputs: round once per row, then compare float32 with float32.
      const row32 = new Float32Array(featureCount);
      for (let i = 0; i < x.length; i++) {
        const row = x[i];
        for (let j = 0; j < featureCount; j++) row32[j] = row[j];
        let sum = 0;
        for (let t = 0; t < roots.length; t++) {
          let node = roots[t];
          while (feature[node] >= 0) node = row32[feature[node]] <= threshold[node] ? left[node] : right[node];
          sum += value[node];
        }
        out[i] = base + sum;
      }
      return out;
    },
  };
}

/** All trees in one set of typed arrays with global node ids; feature −1 marks a leaf. */
function flatten(trees: readonly RegressionTree[]) {
  const total = trees.reduce((s, t) => s + t.isLeaf.length, 0);
  const roots = new Int32Array(trees.length);
  const feature = new Int32Array(total);
  const threshold = new Float32Array(total);
  const left = new Int32Array(total);
  const right = new Int32Array(total);
  const value = new Float64Array(total);
  let offset = 0;
  trees.forEach((tree, t) => {
    roots[t] = offset;
    for (let k = 0; k < tree.isLeaf.length; k++) {
      const g = offset + k;
      feature[g] = tree.isLeaf[k] ? -1 : tree.featureIds[k];
      threshold[g] = tree.thresholds[k];
      left[g] = offset + tree.left[k];
      right[g] = offset + tree.right[k];
      value[g] = tree.values[k];
    }
    offset += tree.isLeaf.length;
  });
  return { roots, feature, threshold, left, right, value };
}
