import { Worker } from 'node:worker_threads';
import { findFeatureSet, type FeatureSetDefinition } from './feature-sets/index.js';
import { failureError, type JobResult, type PackedBars, type SetOutcome, type VectorJob } from './vector-job.js';

interface Pending {
  job: VectorJob;
  resolve: (outcomes: SetOutcome[]) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** The jobs it is computing; empty when free. */
  busy: Pending[];
}

/**
 * Worker threads that compute whole histories' vectors side by side, one symbol per job. Jobs
 * asked for together (a batch's symbols, in one synchronous loop) are shared out evenly, one
 * message per thread: a round trip per symbol cost more in thread wake-ups on a busy machine
 * than the symbol's computation. The engine (chdb) stays on the main thread: it allows one per
 * process, and its inserts run on their own threads anyway.
 */
export class VectorPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private dispatchQueued = false;

  /** @param size worker threads, >= 1. */
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a VectorPool needs at least one worker, not ${size}`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /** Whether a worker can compute this set: it has its own copy only of the registered sets. */
  static handles(set: FeatureSetDefinition): boolean {
    return findFeatureSet(set.name, set.version) === set;
  }

  /**
   * The vectors of `sets` for bars `from` on of a packed history, per set in order, as
   * FeatureSetDefinition.computeFrom gives them without a state to resume from, encoded as rows
   * of `features` stamped `computedAt`. Rejects with the error the computation threw
   * (InvalidHistoryError as such). The packed columns are moved to the worker, not copied.
   */
  compute(symbol: string, sets: readonly FeatureSetDefinition[], bars: PackedBars, from: number, computedAt: Date): Promise<SetOutcome[]> {
    if (this.closed) return Promise.reject(new Error('the vector pool is closed'));
    return new Promise((resolve, reject) => {
      const job: VectorJob = {
        id: this.nextId++,
        symbol,
        sets: sets.map(({ name, version }) => ({ name, version })),
        bars,
        from,
        computedAt: computedAt.getTime(),
      };
      this.queue.push({ job, resolve, reject });
      // Once the caller's loop has asked for all its jobs, so that they can be shared out.
      if (!this.dispatchQueued) {
        this.dispatchQueued = true;
        queueMicrotask(() => {
          this.dispatchQueued = false;
          this.dispatch();
        });
      }
    });
  }

  /** Stops the threads; jobs not finished are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const stopped = new Error('the vector pool is closed');
    for (const pending of this.queue.splice(0)) pending.reject(stopped);
    await Promise.all(
      this.slots.map(async (slot) => {
        for (const pending of slot.busy.splice(0)) pending.reject(stopped);
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    // Beside this module: the TypeScript source when run through tsx, the bundled worker in an image.
    const file = import.meta.url.endsWith('.ts') ? './vector-worker.ts' : './vector-worker.js';
    const worker = new Worker(new URL(file, import.meta.url));
    const slot: Slot = { worker, busy: [] };
    worker.on('message', (results: JobResult[]) => {
      const answered = new Map(results.map((result) => [result.id, result]));
      for (const pending of slot.busy.splice(0)) {
        const result = answered.get(pending.job.id);
        if (!result) pending.reject(new Error('a vector worker answered without this job'));
        else if ('failure' in result) pending.reject(failureError(result.failure));
        else pending.resolve(result.sets);
      }
      this.dispatch();
    });
    // A thread that dies takes only its own jobs with it; a new one takes its place.
    const replace = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      for (const pending of slot.busy.splice(0)) pending.reject(error);
      if (this.closed) return;
      this.slots[index] = this.spawn();
      this.dispatch();
    };
    worker.on('error', replace);
    worker.on('exit', (code) => replace(new Error(`a vector worker exited with code ${code}`)));
    return slot;
  }

  /** Shares the queued jobs out evenly among the free threads, one message each. */
  private dispatch(): void {
    let free = this.slots.filter((slot) => slot.busy.length === 0).length;
    for (const slot of this.slots) {
      if (this.queue.length === 0 || free === 0) return;
      if (slot.busy.length > 0) continue;
      slot.busy = this.queue.splice(0, Math.ceil(this.queue.length / free--));
      const jobs = slot.busy.map((pending) => pending.job);
      const transfer = jobs.flatMap((job) => [job.bars.values.buffer as ArrayBuffer, job.bars.hasTurnover.buffer as ArrayBuffer]);
      slot.worker.postMessage(jobs, transfer);
    }
  }
}
