/**
 * Growing one regression tree on the binned training matrix (feature-bins.ts): depth-wise, with
 * per-node histograms of residual sums, the sibling histogram derived by subtraction, and a
 * stable in-place row partition. Used by gbrt.ts once per boosting round.
 */

/**
 * One regression tree as parallel arrays indexed by node id (root = 0), the layout of ONNX
 * TreeEnsembleRegressor. An internal node sends a row left when fround(x[featureIds]) ≤ thresholds.
 */
export interface RegressionTree {
  /** Feature index tested at each internal node; 0 at leaves. */
  featureIds: number[];
  /** Float32-exact thresholds, feature units; 0 at leaves. */
  thresholds: number[];
  /** Node id taken when x ≤ threshold; −1 at leaves. */
  left: number[];
  /** Node id taken when x > threshold (or x is NaN); −1 at leaves. */
  right: number[];
  /** Leaf outputs, already scaled by the learning rate, float32-exact, log-return units; 0 at internal nodes. */
  values: number[];
  /** Whether each node is a leaf. */
  isLeaf: boolean[];
}

/** A node waiting to be split: its rows are `rows[start, end)`, its histogram is ready. */
interface OpenNode {
  id: number;
  depth: number;
  start: number;
  end: number;
  sum: number;
  hist: Float64Array;
}

/**
 * Grows trees on one binned matrix; reused across boosting rounds (it keeps its scratch space).
 * Histograms interleave (residual sum, row count) per (feature, bin): one Float64Array of F·B·2
 * (25 × 64 × 2 doubles = 25 KB), small enough to stay in cache.
 */
export class TreeGrower {
  private readonly stride: number;
  private readonly binCount: Int32Array;
  /** Per node, the bin threshold of its split (routing training rows by code, not by value). */
  private splitBin: number[] = [];
  /** Spill space of the stable partition, one slot per training row. */
  private readonly scratch: Uint32Array;

  /**
   * @param codes row-major n×F bin codes; @param edges per-feature float32 thresholds (bin b ⇔ x ≤ edges[b]);
   * @param f feature count; @param maxDepth tree depth; @param minLeaf fewest rows per leaf.
   */
  constructor(
    private readonly codes: Uint8Array,
    private readonly edges: Float32Array[],
    private readonly f: number,
    private readonly maxDepth: number,
    private readonly minLeaf: number,
  ) {
    this.binCount = Int32Array.from(edges, (e) => e.length + 1);
    this.stride = Math.max(...this.binCount) * 2;
    this.scratch = new Uint32Array(codes.length / f);
  }

  /**
   * Fits one tree to the residuals of the sampled rows (ascending row ids; reordered in place).
   * Leaf value = learning rate × mean residual, rounded to float32. `leafOf` routes any training
   * row, sampled or not, by its bin codes, which is equivalent to routing by float32 value.
   */
  grow(residual: Float64Array, rows: Uint32Array, learningRate: number): { tree: RegressionTree; leafOf(row: number): number } {
    const tree: RegressionTree = { featureIds: [], thresholds: [], left: [], right: [], values: [], isLeaf: [] };
    this.splitBin = [];
    const addNode = (): number => {
      tree.featureIds.push(0);
      tree.thresholds.push(0);
      tree.left.push(-1);
      tree.right.push(-1);
      tree.values.push(0);
      tree.isLeaf.push(true);
      this.splitBin.push(-1);
      return tree.isLeaf.length - 1;
    };
    let rootSum = 0;
    for (let p = 0; p < rows.length; p++) rootSum += residual[rows[p]];
    const queue: OpenNode[] = [
      { id: addNode(), depth: 0, start: 0, end: rows.length, sum: rootSum, hist: this.histogram(residual, rows, 0, rows.length) },
    ];
    // Breadth-first, so node ids read level by level like a heap.
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q];
      const count = node.end - node.start;
      const split = node.depth < this.maxDepth && count >= 2 * this.minLeaf ? this.bestSplit(node.hist, node.sum, count) : undefined;
      if (!split) {
        tree.values[node.id] = Math.fround((learningRate * node.sum) / count);
        continue;
      }
      const mid = this.partition(rows, node.start, node.end, split.feature, split.bin);
      const leftId = addNode();
      const rightId = addNode();
      tree.isLeaf[node.id] = false;
      tree.featureIds[node.id] = split.feature;
      tree.thresholds[node.id] = this.edges[split.feature][split.bin];
      tree.left[node.id] = leftId;
      tree.right[node.id] = rightId;
      this.splitBin[node.id] = split.bin;
      // Only children that may split again need a histogram; build the smaller, subtract for the other.
      let leftHist = node.hist;
      let rightHist = node.hist;
      if (node.depth + 1 < this.maxDepth) {
        const leftSmaller = mid - node.start <= node.end - mid;
        const small = leftSmaller ? this.histogram(residual, rows, node.start, mid) : this.histogram(residual, rows, mid, node.end);
        const large = node.hist;
        for (let k = 0; k < large.length; k++) large[k] -= small[k];
        leftHist = leftSmaller ? small : large;
        rightHist = leftSmaller ? large : small;
      }
      queue.push({ id: leftId, depth: node.depth + 1, start: node.start, end: mid, sum: split.leftSum, hist: leftHist });
      queue.push({ id: rightId, depth: node.depth + 1, start: mid, end: node.end, sum: node.sum - split.leftSum, hist: rightHist });
    }
    const { codes, f } = this;
    const splitBin = this.splitBin;
    return {
      tree,
      leafOf(row) {
        let node = 0;
        while (!tree.isLeaf[node]) node = codes[row * f + tree.featureIds[node]] <= splitBin[node] ? tree.left[node] : tree.right[node];
        return node;
      },
    };
  }

  /** Residual sums and counts per (feature, bin) over rows[start, end). The hot loop of training. */
  private histogram(residual: Float64Array, rows: Uint32Array, start: number, end: number): Float64Array {
    const { codes, f, stride } = this;
    const hist = new Float64Array(f * stride);
    for (let p = start; p < end; p++) {
      const i = rows[p];
      const g = residual[i];
      const base = i * f;
      for (let j = 0, o = 0; j < f; j++, o += stride) {
        const k = o + (codes[base + j] << 1);
        hist[k] += g;
        hist[k + 1] += 1;
      }
    }
    return hist;
  }

  /**
   * The split maximising the squared-error reduction S_L²/n_L + S_R²/n_R − S²/n with both sides
   * holding ≥ minLeaf rows; undefined when no split reduces the error.
   */
  private bestSplit(hist: Float64Array, sum: number, count: number): { feature: number; bin: number; leftSum: number } | undefined {
    const parent = (sum * sum) / count;
    let bestGain = 0;
    let best: { feature: number; bin: number; leftSum: number } | undefined;
    for (let j = 0; j < this.f; j++) {
      const o = j * this.stride;
      let leftSum = 0;
      let leftCount = 0;
      for (let b = 0; b < this.binCount[j] - 1; b++) {
        leftSum += hist[o + 2 * b];
        leftCount += hist[o + 2 * b + 1];
        if (leftCount < this.minLeaf) continue;
        const rightCount = count - leftCount;
        if (rightCount < this.minLeaf) break;
        const rightSum = sum - leftSum;
        const gain = (leftSum * leftSum) / leftCount + (rightSum * rightSum) / rightCount - parent;
        if (gain > bestGain) {
          bestGain = gain;
          best = { feature: j, bin: b, leftSum };
        }
      }
    }
    return best;
  }

  /**
   * Reorders rows[start, end) so rows with code ≤ bin come first; returns the boundary. Stable, so
   * row ids stay ascending within every node and histogram passes keep reading memory in order.
   */
  private partition(rows: Uint32Array, start: number, end: number, feature: number, bin: number): number {
    const { codes, f, scratch } = this;
    let lo = start;
    let spilled = 0;
    for (let p = start; p < end; p++) {
      const i = rows[p];
      if (codes[i * f + feature] <= bin) rows[lo++] = i;
      else scratch[spilled++] = i;
    }
    rows.set(scratch.subarray(0, spilled), lo);
    return lo;
  }
}
