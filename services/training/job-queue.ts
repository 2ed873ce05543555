import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { JobPhase, JobSchema, JobState, type Job, type JobTrigger, type TrainingSpec } from '../../gen/nepse/training/v1/training_pb.js';
import { detached } from '../../lib/grpc/index.js';
import type { JobStore } from './job-store.js';
import { runJob, type JobDeps } from './run-job.js';
import type { ResolvedSpec } from './spec.js';

/**
 * Accepts jobs and runs them one at a time, in the order they came: training takes the machine's
 * cores, and two jobs at once would only both be slower.
 */
export class JobQueue {
  private tail: Promise<void> = Promise.resolve();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: JobDeps & { jobs: JobStore }) {}

  /** Creates a QUEUED job for the spec and schedules it outside the caller's call; returns the new job. */
  submit(spec: TrainingSpec, resolved: ResolvedSpec, trigger: JobTrigger, requestedBy: string, requestId?: string): Job {
    const job = create(JobSchema, {
      jobId: randomUUID(),
      spec,
      state: JobState.QUEUED,
      phase: JobPhase.UNSPECIFIED,
      foldCount: resolved.folds,
      trigger,
      requestedBy,
      createdAt: timestampFromDate(new Date()),
    });
    this.deps.jobs.add(job, requestId);
    // Queued from a StartTraining handler, the job must not inherit that call's deadline.
    const run = detached(() => this.tail.then(() => runJob(this.deps, job.jobId, resolved)));
    this.tail = run.catch(() => {});
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return this.deps.jobs.get(job.jobId) as Job;
  }

  /** Resolves once every accepted job has finished (used on shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
