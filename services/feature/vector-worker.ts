/**
 * A worker thread of the VectorPool: computes the vectors of whole histories and encodes them for
 * the insert, so the main thread keeps the event loop (consumers, gRPC, chdb calls) to itself.
 */
import { parentPort } from 'node:worker_threads';
import { findFeatureSet, type FeatureSetDefinition } from './feature-sets/index.js';
import { runJob, type JobResult, type VectorJob } from './vector-job.js';

/** One job of a message: the sets it names, resolved to this thread's copies, then computed. */
function run(job: VectorJob): JobResult {
  const sets: FeatureSetDefinition[] = [];
  for (const { name, version } of job.sets) {
    const set = findFeatureSet(name, version);
    if (!set)
      return { id: job.id, failure: { kind: 'error', name: 'Error', message: `feature set ${name} v${version} is unknown to the worker` } };
    sets.push(set);
  }
  return runJob(job, sets);
}

parentPort!.on('message', (jobs: VectorJob[]) => {
  const results = jobs.map(run);
  const transfer = results.flatMap((result) =>
    'sets' in result ? result.sets.flatMap((s) => s.encoded.map((piece) => piece.buffer as ArrayBuffer)) : [],
  );
  parentPort!.postMessage(results, transfer);
});
