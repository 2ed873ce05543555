import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import {
  JobState,
  JobTrigger,
  ListJobsResponseSchema,
  type GetJobRequest,
  type GetJobResponse,
  type Job,
  type ListJobsRequest,
  type ListJobsResponse,
  type StartTrainingRequest,
  type StartTrainingResponse,
  type WatchJobRequest,
  type WatchJobResponse,
} from '../../gen/nepse/training/v1/training_pb.js';
import { InvalidArgumentError, NotFoundError, type CallContext, type ServiceClient } from '../../lib/grpc/index.js';
import { decodePageToken, encodePageToken, isModelName, pageSize } from '../../lib/market/index.js';
import type { CallPolicy } from '../../lib/resilience/index.js';
import type { JobQueue } from './job-queue.js';
import type { JobStore } from './job-store.js';
import { requireKnownSymbols } from './known-symbols.js';
import { resolveSpec } from './spec.js';

/** Longest pause between two messages of a WatchJob stream, in milliseconds (market.proto). */
export const HEARTBEAT_MS = 15_000;

const terminal = (job: Job) => job.state === JobState.SUCCEEDED || job.state === JobState.FAILED;

/** What StartTraining needs: the jobs, the queue, and the feature service to check symbols with. */
export interface StartTrainingDeps {
  jobs: JobStore;
  queue: JobQueue;
  features: ServiceClient<typeof FeatureService>;
  featurePolicy: CallPolicy;
}

/**
 * StartTraining: validates the spec, asks the feature service whether it knows the symbols, and
 * queues a job; a repeated request_id returns the first job.
 */
export async function startTraining(deps: StartTrainingDeps, request: StartTrainingRequest): Promise<StartTrainingResponse> {
  const { jobs, queue } = deps;
  if (request.requestId.length > 100) throw new InvalidArgumentError({ field: 'request_id', description: 'at most 100 characters' });
  const previous = request.requestId ? jobs.byRequest(request.requestId) : undefined;
  if (previous) return { $typeName: 'nepse.training.v1.StartTrainingResponse', job: previous };
  const resolved = resolveSpec(request.spec);
  await requireKnownSymbols(deps.features, deps.featurePolicy, resolved);
  // Checked while the call waited: a repeat of the same request_id may have queued the job meanwhile.
  const raced = request.requestId ? jobs.byRequest(request.requestId) : undefined;
  if (raced) return { $typeName: 'nepse.training.v1.StartTrainingResponse', job: raced };
  const job = queue.submit(request.spec!, resolved, JobTrigger.MANUAL, request.requestedBy || 'anonymous', request.requestId || undefined);
  return { $typeName: 'nepse.training.v1.StartTrainingResponse', job };
}

/** Longest job id accepted: ids are UUIDs, so anything longer names no job. */
const MAX_JOB_ID_LENGTH = 100;

function requireJob(jobs: JobStore, jobId: string): Job {
  if (!jobId) throw new InvalidArgumentError({ field: 'job_id', description: 'a job id is required' });
  if (jobId.length > MAX_JOB_ID_LENGTH)
    throw new InvalidArgumentError({ field: 'job_id', description: `at most ${MAX_JOB_ID_LENGTH} characters, got ${jobId.length}` });
  const job = jobs.get(jobId);
  if (!job) throw new NotFoundError('training job', jobId);
  return job;
}

/** GetJob. */
export function getJob(jobs: JobStore, request: GetJobRequest): GetJobResponse {
  return { $typeName: 'nepse.training.v1.GetJobResponse', job: requireJob(jobs, request.jobId) };
}

/** ListJobs: newest first, optionally of one state. */
export function listJobs(jobs: JobStore, request: ListJobsRequest): ListJobsResponse {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(request.pageToken);
  if (!(request.state in JobState)) throw new InvalidArgumentError({ field: 'state', description: `${request.state} is not a JobState` });
  if (request.modelName !== '' && !isModelName(request.modelName)) {
    throw new InvalidArgumentError({
      field: 'model_name',
      description: 'lower-case letters, digits, "_" or "-", starting with a letter, at most 63',
    });
  }
  const all = jobs
    .list()
    .filter(
      (job) =>
        (request.state === JobState.UNSPECIFIED || job.state === request.state) &&
        (request.modelName === '' || job.spec?.modelName === request.modelName),
    );
  const start = after ? all.findIndex((job) => job.jobId === after) + 1 : 0;
  const page = all.slice(start, start + size);
  return create(ListJobsResponseSchema, {
    jobs: page,
    nextPageToken: start + size < all.length ? encodePageToken(page[page.length - 1].jobId) : '',
  });
}

/** WatchJob: the job now, then every change, with heartbeats, until it finishes. */
export async function* watchJob(jobs: JobStore, request: WatchJobRequest, context: CallContext): AsyncIterable<WatchJobResponse> {
  const first = requireJob(jobs, request.jobId);
  const pending: Job[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = jobs.watch(first.jobId, (job) => {
    pending.push(job);
    wake?.();
  });
  const abort = () => wake?.();
  context.signal.addEventListener('abort', abort);
  try {
    yield { $typeName: 'nepse.training.v1.WatchJobResponse', kind: { case: 'job', value: first } };
    if (terminal(first)) return;
    while (!context.signal.aborted) {
      if (pending.length === 0) {
        const timer = new Promise<'heartbeat'>((resolve) => {
          const t = setTimeout(() => resolve('heartbeat'), HEARTBEAT_MS);
          wake = () => {
            clearTimeout(t);
            resolve('heartbeat');
          };
        });
        await timer;
        wake = undefined;
        if (pending.length === 0 && !context.signal.aborted) {
          yield {
            $typeName: 'nepse.training.v1.WatchJobResponse',
            kind: { case: 'heartbeat', value: { $typeName: 'nepse.market.v1.Heartbeat', sentAt: timestampFromDate(new Date()) } },
          };
        }
        continue;
      }
      const job = pending.shift() as Job;
      yield { $typeName: 'nepse.training.v1.WatchJobResponse', kind: { case: 'job', value: job } };
      if (terminal(job)) return;
    }
  } finally {
    unsubscribe();
    context.signal.removeEventListener('abort', abort);
  }
}
