/**
 * A worker thread of the VectorPool: computes the vectors of whole histories and encodes them for
 * the insert, so the main thread keeps the event loop (consumers, gRPC, chdb calls) to itself.
 */
import { parentPort } from 'node:worker_threads';
import { findFeatureSet, type FeatureSetDefinition } from './feature-sets/index.js';
import { runJob, type JobResult, type VectorJob } from './vector-job.js';

parentPort!.on('message', (job: VectorJob) => {
  const sets: FeatureSetDefinition[] = [];
  for (const { name, version } of job.sets) {
    const set = findFeatureSet(name, version);
    if (!set) {
      const failure = { kind: 'error', name: 'Error', message: `feature set ${name} v${version} is unknown to the worker` } as const;
      parentPort!.postMessage({ id: job.id, failure } satisfies JobResult);
      return;
    }
    sets.push(set);
  }
  const result = runJob(job, sets);
  const transfer = 'sets' in result ? result.sets.flatMap((s) => s.encoded.map((piece) => piece.buffer as ArrayBuffer)) : [];
  parentPort!.postMessage(result, transfer);
});
