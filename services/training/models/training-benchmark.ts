/**
 * Training-time measurement on a synthetic set shaped like the benchmark (200 symbols ×
 * 2,000 days × 25 features = 400k rows), for bench/ to import. Not a test: it takes seconds.
 */
import { performance } from 'node:perf_hooks';
import { toMatrix } from './dataset.js';
import { trainGbrt, type GbrtOptions } from './gbrt.js';
import { exportOnnx } from './onnx-export.js';
import { trainRidge } from './ridge.js';
import { plantedSignalDataset } from './synthetic.js';

/** Wall-clock timings of one benchmark run, milliseconds. */
export interface TrainingBenchmark {
  rows: number;
  features: number;
  /** Generating the synthetic set (not training). */
  generateMs: number;
  ridgeMs: number;
  gbrtMs: number;
  /** GBRT predict() over all rows. */
  gbrtPredictMs: number;
  /** Both ONNX exports. */
  exportMs: number;
  /** Size of the exported tree ensemble, bytes. */
  gbrtOnnxBytes: number;
}

/** Times ridge and GBRT training once each on a planted-signal set of `symbols × days` rows. */
export function benchmarkTraining(
  options: { symbols?: number; days?: number; features?: number; gbrt?: GbrtOptions } = {},
): TrainingBenchmark {
  const { symbols = 200, days = 2000, features = 25, gbrt = {} } = options;
  let t = performance.now();
  const { dataset } = plantedSignalDataset({ symbols, days, features });
  const { x, y } = toMatrix(dataset.examples);
  const generateMs = performance.now() - t;
  t = performance.now();
  const ridge = trainRidge(x, y);
  const ridgeMs = performance.now() - t;
  t = performance.now();
  const trees = trainGbrt(x, y, gbrt);
  const gbrtMs = performance.now() - t;
  t = performance.now();
  trees.predict(x);
  const gbrtPredictMs = performance.now() - t;
  t = performance.now();
  exportOnnx(ridge, { featureCount: features });
  const bytes = exportOnnx(trees, { featureCount: features });
  const exportMs = performance.now() - t;
  return { rows: x.length, features, generateMs, ridgeMs, gbrtMs, gbrtPredictMs, exportMs, gbrtOnnxBytes: bytes.byteLength };
}
