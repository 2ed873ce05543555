/**
 * Dynamic micro-batching, as Triton's dynamic batcher does it: single-row requests for the same
 * loaded model that arrive close together are gathered, up to a maximum batch size or a maximum
 * queue delay, and run as one inference; each caller gets its own row's output back.
 *
 * Why it pays off here: onnxruntime-node runs a session synchronously on the event loop (its
 * `run` only defers the call by a setImmediate), and each run has a fixed cost — tensor
 * wrapping, the N-API crossing, the session's own bookkeeping — of about 10 µs on this machine
 * whether it holds 1 row or 64. Gathering turns 64 such costs into one.
 *
 * The delay. Concurrent gRPC requests reach the handlers in bursts: every request decoded from one
 * socket read, and every caller resumed by one feature-service answer, runs before the event loop
 * moves on. Waiting one event-loop turn (setImmediate) therefore already gathers everything that
 * is concurrent, at a cost of microseconds, while a 1 ms timer would add a full millisecond to
 * every request at concurrency 1 (5x a raw gRPC round trip here) for little more gathering. So
 * delays below 1 ms mean "one turn" and that is the default; a timer is used for 1 ms and up, for
 * models whose runs are expensive enough that waiting for a fuller batch is worth it.
 *
 * Even a request for an idle model waits its turn. Run at once, the first request of every burst
 * went alone while the rest of the burst gathered behind it: at concurrency 16 and 64 the batches
 * shrank to about 6 and 23 rows and Predict cost a quarter more CPU, and concurrency 1 gained
 * nothing measurable, since onnxruntime-node defers the run by a turn anyway.
 */

import { detached } from '../../lib/grpc/index.js';

/** Runs a model on `count` rows, row-major in `rows`; resolves with one output per row. */
export type InferFunction<M> = (model: M, rows: Float32Array, count: number) => Promise<Float32Array>;

/** Options of {@link Batcher}. */
export interface BatcherOptions<M> {
  /** The inference itself (model-cache.ts `infer` in the service; a fake in unit tests of this logic). */
  infer: InferFunction<M>;
  /** Largest number of rows in one run; 1 switches batching off. */
  maxBatch: number;
  /** Longest a request waits for others, in ms; 0 switches batching off, below 1 means one event-loop turn. */
  maxQueueDelayMs: number;
  /** Called after every run with its row count and duration in seconds (metrics). Must not throw. */
  onRun?: (model: M, rows: number, seconds: number) => void;
}

/** Counts since the batcher was created. */
export interface BatcherStats {
  /** Single-row requests received by {@link Batcher.predict}. */
  requests: number;
  /** Inference runs made (batched, unbatched and {@link Batcher.run} alike). */
  runs: number;
  /** Rows run in total. */
  rows: number;
}

interface Waiter {
  values: ArrayLike<number>;
  resolve(value: number): void;
  reject(error: unknown): void;
}

interface Queue {
  waiters: Waiter[];
  /** Cancels the pending flush; undefined until one is scheduled. */
  cancel: (() => void) | undefined;
}

/** A row of the wrong width reached the batcher: a bug of the caller, which checks widths first. */
export class RowWidthError extends Error {
  override readonly name = 'RowWidthError';
}

/**
 * Gathers single-row inference requests per loaded model. Queues are keyed by the model object,
 * so after a hot swap the requests already bound to the old version finish on it while new ones
 * queue for the new one: nothing is re-routed or dropped mid-flight.
 */
export class Batcher<M extends { readonly inputWidth: number }> {
  /** Whether requests are gathered at all (false when maxBatch is 1 or the delay 0). */
  readonly enabled: boolean;
  private readonly queues = new Map<M, Queue>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly counts: BatcherStats = { requests: 0, runs: 0, rows: 0 };

  constructor(private readonly options: BatcherOptions<M>) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1)
      throw new RangeError(`maxBatch must be a positive integer, got ${options.maxBatch}`);
    if (!(options.maxQueueDelayMs >= 0)) throw new RangeError(`maxQueueDelayMs must be ≥ 0, got ${options.maxQueueDelayMs}`);
    this.enabled = options.maxBatch > 1 && options.maxQueueDelayMs > 0;
  }

  /**
   * Predicts one row (`model.inputWidth` values), joining whatever batch is forming for `model`.
   * @throws RowWidthError when the row does not have the model's input width.
   */
  predict(model: M, values: ArrayLike<number>): Promise<number> {
    if (values.length !== model.inputWidth) {
      return Promise.reject(new RowWidthError(`row of ${values.length} values for a model of input width ${model.inputWidth}`));
    }
    this.counts.requests++;
    if (!this.enabled) return this.run(model, Float32Array.from(values), 1).then((out) => out[0]);
    return new Promise<number>((resolve, reject) => {
      let queue = this.queues.get(model);
      if (!queue) this.queues.set(model, (queue = { waiters: [], cancel: undefined }));
      queue.waiters.push({ values, resolve, reject });
      if (queue.waiters.length >= this.options.maxBatch) this.flush(model);
      else queue.cancel ??= this.schedule(() => this.flush(model));
    });
  }

  /** Runs `count` rows as one inference of their own, outside any queue (PredictBatch is a batch already). */
  run(model: M, rows: Float32Array, count: number): Promise<Float32Array> {
    if (rows.length !== count * model.inputWidth) {
      return Promise.reject(new RowWidthError(`${rows.length} values for ${count} rows of width ${model.inputWidth}`));
    }
    const started = performance.now();
    this.counts.runs++;
    this.counts.rows += count;
    const work = this.options.infer(model, rows, count).then((out) => {
      if (out.length < count) throw new Error(`model returned ${out.length} outputs for ${count} rows`);
      this.options.onRun?.(model, count, (performance.now() - started) / 1e3);
      return out;
    });
    const tracked = work.then(
      () => {},
      () => {},
    );
    this.running.add(tracked);
    void tracked.then(() => this.running.delete(tracked));
    return work;
  }

  /** Counts of requests, runs and rows so far. */
  stats(): BatcherStats {
    return { ...this.counts };
  }

  /** Runs every queued request now and waits for all runs in flight (graceful shutdown). */
  async drain(): Promise<void> {
    for (const model of [...this.queues.keys()]) this.flush(model);
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Schedules `fn` after the queue delay; returns its cancel function. */
  private schedule(fn: () => void): () => void {
    // The first request's call only opens the batch; the batch serves every request that joins it.
    if (this.options.maxQueueDelayMs < 1) {
      const immediate = detached(() => setImmediate(fn));
      return () => clearImmediate(immediate);
    }
    const timer = detached(() => setTimeout(fn, this.options.maxQueueDelayMs));
    return () => clearTimeout(timer);
  }

  /** Takes the model's whole queue (never more than maxBatch, see predict) and runs it as one batch. */
  private flush(model: M): void {
    const queue = this.queues.get(model);
    if (!queue) return;
    this.queues.delete(model);
    queue.cancel?.();
    const { waiters } = queue;
    const width = model.inputWidth;
    const rows = new Float32Array(waiters.length * width);
    for (let i = 0; i < waiters.length; i++) rows.set(waiters[i].values, i * width);
    this.run(model, rows, waiters.length).then(
      (out) => {
        for (let i = 0; i < waiters.length; i++) waiters[i].resolve(out[i]);
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }
}
