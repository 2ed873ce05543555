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
  /** The job it is computing, if any. */
  busy: Pending | undefined;
}

/**
 * Worker threads that compute whole histories' vectors side by side, one symbol per job, each
 * job to the next free thread. The engine (chdb) stays on the main thread: it allows one per
 * process, and its inserts run on their own threads anyway.
 */
export class VectorPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

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
   * FeatureSetDefinition.computeFrom gives them without a state to resume from. Rejects with the
   * error the computation threw (InvalidHistoryError as such).
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
      this.dispatch();
    });
  }

  /** Stops the threads; jobs not finished are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const stopped = new Error('the vector pool is closed');
    for (const pending of this.queue.splice(0)) pending.reject(stopped);
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.busy?.reject(stopped);
        slot.busy = undefined;
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    // Beside this module: the TypeScript source when run through tsx, the bundled worker in an image.
    const file = import.meta.url.endsWith('.ts') ? './vector-worker.ts' : './vector-worker.js';
    const worker = new Worker(new URL(file, import.meta.url));
    const slot: Slot = { worker, busy: undefined };
    worker.on('message', (result: JobResult) => {
      const pending = slot.busy;
      slot.busy = undefined;
      if (pending && pending.job.id === result.id) {
        if ('failure' in result) pending.reject(failureError(result.failure));
        else pending.resolve(result.sets);
      }
      this.dispatch();
    });
    // A thread that dies takes only its own job with it; a new one takes its place.
    const replace = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      slot.busy?.reject(error);
      slot.busy = undefined;
      if (this.closed) return;
      this.slots[index] = this.spawn();
      this.dispatch();
    };
    worker.on('error', replace);
    worker.on('exit', (code) => replace(new Error(`a vector worker exited with code ${code}`)));
    return slot;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const pending = this.queue.shift()!;
      slot.busy = pending;
      // The packed columns move to the worker instead of being copied.
      slot.worker.postMessage(pending.job, [
        pending.job.bars.values.buffer as ArrayBuffer,
        pending.job.bars.hasTurnover.buffer as ArrayBuffer,
      ]);
    }
  }
}
