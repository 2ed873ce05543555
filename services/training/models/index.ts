/**
 * Model code of the training service: pure, synchronous, no I/O. Datasets and checks, ridge and
 * boosted trees, ONNX export, forecast metrics and naive baselines, walk-forward backtests,
 * feature distributions for drift monitoring, and synthetic data for tests and benchmarks.
 */
export { LOG_RETURN_5D, MissingBaselineFeatureError, noChangeForecast, sma5DriftForecast } from './baselines.js';
export { assertTrainingData, assertWidth, InvalidTrainingDataError, toMatrix, type Dataset, type TrainingExample } from './dataset.js';
export { featureDistributions, type FeatureDistribution } from './distribution.js';
export { createGbrtModel, trainGbrt, type GbrtModel, type GbrtOptions, type RegressionTree } from './gbrt.js';
export { forecastMetrics, type ForecastFigures } from './metrics.js';
export {
  exportOnnx,
  INPUT_NAME,
  ONNX_IR_VERSION,
  ONNX_ML_OPSET,
  ONNX_OPSET,
  OUTPUT_NAME,
  TARGET_DEFINITION,
  type OnnxExportOptions,
} from './onnx-export.js';
export { createRidgeModel, RidgeSolveError, trainRidge, type RidgeModel, type RidgeOptions } from './ridge.js';
export {
  plantedSignalDataset,
  randomWalkDataset,
  type PlantedSignalOptions,
  type SyntheticDataset,
  type SyntheticOptions,
} from './synthetic.js';
export {
  walkForward,
  type DateRange,
  type Evaluation,
  type FoldResult,
  type Predictor,
  type WalkForwardOptions,
  type WalkForwardResult,
} from './walk-forward.js';
