import { Worker } from 'node:worker_threads';
import type { LoadedDataset } from './load-dataset.js';
import type { featureDistributions } from './models/distribution.js';
import type { FoldResult, WalkForwardResult } from './models/walk-forward.js';
import type { ResolvedSpec } from './spec.js';

/** What the worker is given. */
export interface TrainRequest {
  spec: ResolvedSpec;
  dataset: LoadedDataset;
  /** Holdout rows to predict for the ONNX parity check, at most. */
  parityRows: number;
  docString: string;
}

/** What the worker produced. */
export interface TrainResult {
  backtest: WalkForwardResult;
  onnx: Uint8Array;
  parityRows: number[][];
  parityPredictions: number[];
  distributions: ReturnType<typeof featureDistributions>;
}

/** Messages from the worker, in order: folds, phases, then done or error. */
export type WorkerMessage =
  | { kind: 'fold'; fold: FoldResult }
  | { kind: 'phase'; phase: 'fitting' | 'exporting' }
  | ({ kind: 'done' } & TrainResult)
  | { kind: 'error'; message: string };

/**
 * Trains in a worker thread and reports progress through `onProgress`. The worker runs the same
 * TypeScript through the loader this process runs with (its exec arguments are inherited).
 */
export function trainInWorker(
  request: TrainRequest,
  onProgress: (message: Exclude<WorkerMessage, { kind: 'done' } | { kind: 'error' }>) => void,
): Promise<TrainResult> {
  return new Promise((resolve, reject) => {
    // Beside this module: the TypeScript source when run through tsx, the bundled worker in an image.
    const file = import.meta.url.endsWith('.ts') ? './train-worker.ts' : './train-worker.js';
    const worker = new Worker(new URL(file, import.meta.url), { workerData: request });
    let settled = false;
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'done') {
        settled = true;
        resolve(message);
        void worker.terminate();
      } else if (message.kind === 'error') {
        settled = true;
        reject(new Error(message.message));
        void worker.terminate();
      } else {
        onProgress(message);
      }
    });
    worker.on('error', (error) => {
      if (!settled) reject(error);
      settled = true;
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the training worker exited with code ${code}`));
      settled = true;
    });
  });
}
