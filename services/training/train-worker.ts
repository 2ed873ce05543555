/**
 * The CPU-heavy part of a training job, in a worker thread so the service keeps answering
 * (health checks, WatchJob progress) while it runs: walk-forward backtest, the final fit, the ONNX
 * export, the feature distributions, and the TypeScript model's predictions on the rows the main
 * thread checks the ONNX model against. One worker serves job after job: a thread made and ended
 * per job left its memory with the process (about 10 MB of RSS a job, never given back).
 */
import { parentPort } from 'node:worker_threads';
import { featureDistributions } from './models/distribution.js';
import { exportOnnx } from './models/onnx-export.js';
import { trainGbrt } from './models/gbrt.js';
import { trainRidge } from './models/ridge.js';
import { walkForward } from './models/walk-forward.js';
import type { TrainRequest, WorkerMessage } from './train-in-worker.js';

const post = (message: WorkerMessage) => parentPort!.postMessage(message);

/** One job, start to end; every message it posts belongs to it (the service runs one job at a time). */
function train(request: TrainRequest): void {
  const { spec, dataset, parityRows } = request;
  const fit = (x: number[][], y: number[]) =>
    spec.algorithm === 'ridge' ? trainRidge(x, y, { lambda: spec.ridge.lambda }) : trainGbrt(x, y, spec.gbrt);
  const backtest = walkForward(dataset, { folds: spec.folds, train: fit, onFold: (_k, _n, fold) => post({ kind: 'fold', fold }) });
  post({ kind: 'phase', phase: 'fitting' });
  const x = dataset.examples.map((e) => e.features);
  const model = fit(
    x,
    dataset.examples.map((e) => e.label),
  );
  post({ kind: 'phase', phase: 'exporting' });
  const featureSet = `${dataset.featureSet.name}_v${dataset.featureSet.version}`;
  const onnx = exportOnnx(model, {
    featureCount: dataset.featureNames.length,
    producer: 'nepse-training',
    docString: request.docString,
    featureNames: dataset.featureNames,
    metadata: { feature_set: featureSet, model_name: spec.modelName },
  });
  const holdoutStart = backtest.holdout.testRange.start;
  const rows = dataset.examples
    .filter((e) => e.date >= holdoutStart)
    .slice(-parityRows)
    .map((e) => e.features);
  post({
    kind: 'done',
    backtest,
    onnx,
    parityRows: rows,
    parityPredictions: Array.from(model.predict(rows)),
    distributions: featureDistributions(x, dataset.featureNames),
  });
}

parentPort!.on('message', (request: TrainRequest) => {
  try {
    train(request);
  } catch (error) {
    post({ kind: 'error', message: (error as Error).message ?? String(error) });
  }
});
