import { Algorithm, type TrainingSpec } from '../../gen/nepse/training/v1/training_pb.js';
import { InvalidArgumentError, type FieldViolation } from '../../lib/grpc/index.js';
import { isModelName, rangeBounds, requireSymbol } from '../../lib/market/index.js';

/** A training spec with every default applied, checked field by field. */
export interface ResolvedSpec {
  modelName: string;
  algorithm: 'ridge' | 'gbrt';
  ridge: { lambda: number };
  gbrt: { trees: number; maxDepth: number; learningRate: number; minSamplesLeaf: number; subsample: number };
  symbols: string[];
  from: string;
  to: string;
  folds: number;
  featureSet: { name: string; version: number };
  autoPromote: boolean;
  promotionMargin: number;
}

/** Checks a spec and applies its defaults; INVALID_ARGUMENT lists every offending field. */
export function resolveSpec(spec: TrainingSpec | undefined, field = 'spec'): ResolvedSpec {
  if (!spec) throw new InvalidArgumentError({ field, description: 'a training spec is required' });
  const problems: FieldViolation[] = [];
  const check = (ok: boolean, name: string, description: string) => {
    if (!ok) problems.push({ field: `${field}.${name}`, description });
  };
  check(isModelName(spec.modelName), 'model_name', 'lower-case letters, digits, "_" or "-", starting with a letter, at most 63');
  check(
    spec.algorithm === Algorithm.RIDGE || spec.algorithm === Algorithm.GRADIENT_BOOSTED_TREES,
    'algorithm',
    'RIDGE or GRADIENT_BOOSTED_TREES is required',
  );
  const params = spec.hyperparameters;
  if (params.case === 'ridge') check(spec.algorithm === Algorithm.RIDGE, 'ridge', 'ridge parameters need algorithm RIDGE');
  if (params.case === 'gradientBoostedTrees')
    check(
      spec.algorithm === Algorithm.GRADIENT_BOOSTED_TREES,
      'gradient_boosted_trees',
      'tree parameters need algorithm GRADIENT_BOOSTED_TREES',
    );
  const ridge = params.case === 'ridge' ? params.value : undefined;
  const trees = params.case === 'gradientBoostedTrees' ? params.value : undefined;
  const lambda = ridge?.alpha ?? 1.0;
  check(Number.isFinite(lambda) && lambda >= 0, 'ridge.alpha', 'must be a finite number >= 0');
  const gbrt = {
    trees: trees?.numTrees ?? 200,
    maxDepth: trees?.maxDepth ?? 3,
    learningRate: trees?.learningRate ?? 0.05,
    minSamplesLeaf: trees?.minSamplesLeaf ?? 20,
    subsample: trees?.subsample ?? 1,
  };
  check(Number.isInteger(gbrt.trees) && gbrt.trees >= 1 && gbrt.trees <= 2000, 'gradient_boosted_trees.num_trees', '1 to 2000');
  check(Number.isInteger(gbrt.maxDepth) && gbrt.maxDepth >= 1 && gbrt.maxDepth <= 10, 'gradient_boosted_trees.max_depth', '1 to 10');
  check(gbrt.learningRate > 0 && gbrt.learningRate <= 1, 'gradient_boosted_trees.learning_rate', 'in (0, 1]');
  check(Number.isInteger(gbrt.minSamplesLeaf) && gbrt.minSamplesLeaf >= 1, 'gradient_boosted_trees.min_samples_leaf', '>= 1');
  check(gbrt.subsample > 0 && gbrt.subsample <= 1, 'gradient_boosted_trees.subsample', 'in (0, 1]');
  const folds = spec.foldCount || 5;
  check(Number.isInteger(folds) && folds >= 2 && folds <= 20, 'fold_count', '2 to 20 (0 means 5)');
  check(spec.promotionMargin >= 0 && spec.promotionMargin < 1, 'promotion_margin', 'a fraction in [0, 1)');
  check(spec.symbols.length <= 1000, 'symbols', 'at most 1000');
  const symbols: string[] = [];
  spec.symbols.forEach((raw, i) => {
    try {
      symbols.push(requireSymbol(raw, `${field}.symbols[${i}]`));
    } catch (error) {
      if (error instanceof InvalidArgumentError) problems.push(...error.violations);
      else throw error;
    }
  });
  let bounds = { from: '1970-01-01', to: '2149-06-06' };
  try {
    bounds = rangeBounds(spec.dateRange, `${field}.date_range`);
  } catch (error) {
    if (error instanceof InvalidArgumentError) problems.push(...error.violations);
    else throw error;
  }
  if (problems.length > 0) throw new InvalidArgumentError(problems);
  return {
    modelName: spec.modelName,
    algorithm: spec.algorithm === Algorithm.RIDGE ? 'ridge' : 'gbrt',
    ridge: { lambda },
    gbrt,
    symbols,
    from: bounds.from,
    to: bounds.to,
    folds,
    featureSet: { name: spec.featureSet?.name ?? '', version: spec.featureSet?.version ?? 0 },
    autoPromote: spec.autoPromote,
    promotionMargin: spec.promotionMargin,
  };
}
