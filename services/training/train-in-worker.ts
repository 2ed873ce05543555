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

/** The worker that trains, made on first use and kept while it lives; jobs take turns on it. */
let current: Worker | undefined;

function trainingWorker(): Worker {
  if (current) return current;
  // Beside this module: the TypeScript source when run through tsx, the bundled worker in an image.
  const file = import.meta.url.endsWith('.ts') ? './train-worker.ts' : './train-worker.js';
  const worker = new Worker(new URL(file, import.meta.url));
  // An idle worker must not keep the process alive; it is referenced while it trains.
  worker.unref();
  const forget = () => {
    if (current === worker) current = undefined;
  };
  worker.on('exit', forget);
  worker.on('error', forget);
  current = worker;
  return worker;
}

/**
 * Trains in the worker thread and reports progress through `onProgress`. The worker runs the same
 * TypeScript through the loader this process runs with (its exec arguments are inherited). Calls
 * must not overlap (the job queue runs one job at a time); a worker that dies fails its job, and the
 * next job gets a new one.
 */
export function trainInWorker(
  request: TrainRequest,
  onProgress: (message: Exclude<WorkerMessage, { kind: 'done' } | { kind: 'error' }>) => void,
): Promise<TrainResult> {
  const worker = trainingWorker();
  return new Promise<TrainResult>((resolve, reject) => {
    const end = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.unref();
    };
    const onMessage = (message: WorkerMessage) => {
      if (message.kind === 'done') {
        end();
        resolve(message);
      } else if (message.kind === 'error') {
        end();
        reject(new Error(message.message));
      } else {
        onProgress(message);
      }
    };
    const onError = (error: Error) => {
      end();
      reject(error);
    };
    const onExit = (code: number) => {
      end();
      reject(new Error(`the training worker exited with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.ref();
    worker.postMessage(request);
  });
}
