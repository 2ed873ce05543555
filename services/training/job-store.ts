import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { clone, fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { JobSchema, JobState, type Job } from '../../gen/nepse/training/v1/training_pb.js';

/** How long a StartTraining request_id is remembered (training.proto). */
const REQUEST_ID_TTL_MS = 24 * 60 * 60 * 1000;

/** Jobs kept at most; the oldest finished ones are forgotten first. */
const MAX_JOBS = 1000;

/**
 * The training service's small state: its jobs, kept in memory and written to one JSON file after
 * every change (atomically, by rename), so a restart keeps the job history. A job that was running
 * when the process stopped is marked failed on load: its work is gone.
 */
export class JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly byRequestId = new Map<string, { jobId: string; at: number }>();
  private readonly changes = new EventEmitter();

  constructor(private readonly file?: string) {
    this.changes.setMaxListeners(0);
    if (file) this.load(file);
  }

  private load(file: string): void {
    let saved: { jobs: JsonValue[] };
    try {
      saved = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return;
    }
    for (const json of saved.jobs ?? []) {
      const job = fromJson(JobSchema, json, { ignoreUnknownFields: true });
      if (job.state === JobState.RUNNING || job.state === JobState.QUEUED) {
        job.state = JobState.FAILED;
        job.error = 'the training service stopped while the job was running';
      }
      this.jobs.set(job.jobId, job);
    }
  }

  private persist(): void {
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, JSON.stringify({ jobs: [...this.jobs.values()].map((job) => toJson(JobSchema, job)) }));
    renameSync(temporary, this.file);
  }

  /** The job a request id started within the last 24 hours, if any. */
  byRequest(requestId: string): Job | undefined {
    const seen = this.byRequestId.get(requestId);
    if (!seen || Date.now() - seen.at > REQUEST_ID_TTL_MS) return undefined;
    return this.get(seen.jobId);
  }

  /** Adds a new job (remembering its request id) and announces it. */
  add(job: Job, requestId?: string): void {
    if (requestId) this.byRequestId.set(requestId, { jobId: job.jobId, at: Date.now() });
    this.jobs.set(job.jobId, job);
    this.trim();
    this.changed(job);
  }

  /** Applies a change to a job, saves and announces it. */
  update(jobId: string, change: (job: Job) => void): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    change(job);
    this.changed(job);
    return job;
  }

  /** A snapshot of a job. */
  get(jobId: string): Job | undefined {
    const job = this.jobs.get(jobId);
    return job && clone(JobSchema, job);
  }

  /** Snapshots of every job, newest first. */
  list(): Job[] {
    return [...this.jobs.values()]
      .sort((a, b) => Number((b.createdAt?.seconds ?? 0n) - (a.createdAt?.seconds ?? 0n)) || (a.jobId < b.jobId ? 1 : -1))
      .map((job) => clone(JobSchema, job));
  }

  /** Subscribes to changes of one job; returns the unsubscribe function. */
  watch(jobId: string, listener: (job: Job) => void): () => void {
    const handler = (job: Job) => {
      if (job.jobId === jobId) listener(clone(JobSchema, job));
    };
    this.changes.on('change', handler);
    return () => this.changes.off('change', handler);
  }

  private changed(job: Job): void {
    this.persist();
    this.changes.emit('change', job);
  }

  private trim(): void {
    if (this.jobs.size <= MAX_JOBS) return;
    for (const job of this.list().reverse()) {
      if (this.jobs.size <= MAX_JOBS) break;
      if (job.state === JobState.SUCCEEDED || job.state === JobState.FAILED) this.jobs.delete(job.jobId);
    }
  }
}
