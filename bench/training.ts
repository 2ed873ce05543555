/**
 * Training time on 200 symbols x 2,000 days x 25 features (400k rows): one fit of ridge and of
 * gradient-boosted trees, and a full 5-fold walk-forward backtest of each (what a training job
 * runs before its final fit). Run: `make bench ONLY=training`.
 */
import { performance } from 'node:perf_hooks';
import { trainGbrt } from '../services/training/models/gbrt.js';
import { trainRidge } from '../services/training/models/ridge.js';
import { plantedSignalDataset } from '../services/training/models/synthetic.js';
import { benchmarkTraining } from '../services/training/models/training-benchmark.js';
import { walkForward } from '../services/training/models/walk-forward.js';
import { printTable, rate } from './format.js';

const SYMBOLS = 200;
const DAYS = 2000;

export async function benchTraining(): Promise<void> {
  const fit = benchmarkTraining({ symbols: SYMBOLS, days: DAYS });
  const { dataset } = plantedSignalDataset({ symbols: SYMBOLS, days: DAYS, features: 25 });
  const timed = (train: Parameters<typeof walkForward>[1]['train']) => {
    const start = performance.now();
    const result = walkForward(dataset, { folds: 5, train });
    return { seconds: (performance.now() - start) / 1000, result };
  };
  const ridge = timed((x, y) => trainRidge(x, y));
  const trees = timed((x, y) => trainGbrt(x, y));
  const s = (ms: number) => (ms / 1000).toFixed(2);
  printTable(`training: ${rate(fit.rows)} rows x ${fit.features} features (${SYMBOLS} symbols x ${DAYS} days), one thread`, [
    ['model', 'one fit, s', '5-fold walk-forward, s', 'rows/s (fit)', 'holdout MAE vs no change'],
    [
      'ridge (closed form, standardised)',
      s(fit.ridgeMs),
      ridge.seconds.toFixed(2),
      rate(fit.rows / (fit.ridgeMs / 1000)),
      (ridge.result.holdout.model.maeReturn / ridge.result.holdout.noChange.maeReturn).toFixed(3),
    ],
    [
      'gradient-boosted trees (100 x depth 3, 64 bins)',
      s(fit.gbrtMs),
      trees.seconds.toFixed(2),
      rate(fit.rows / (fit.gbrtMs / 1000)),
      (trees.result.holdout.model.maeReturn / trees.result.holdout.noChange.maeReturn).toFixed(3),
    ],
  ]);
  console.log(
    `  tree predict over all rows ${s(fit.gbrtPredictMs)} s; both ONNX exports ${fit.exportMs.toFixed(0)} ms; tree model ${rate(fit.gbrtOnnxBytes)} bytes`,
  );
}
