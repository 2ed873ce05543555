/**
 * Shadow scoring: every prediction a served version makes is made again, in the background, by
 * the version its name's shadow alias (`challenger`) points at, from the same feature vector, and
 * published in PredictionsMade marked shadow — never answered. Monitoring then scores champion and
 * challenger on the same bars.
 *
 * Never in the answer's way: offering is a map lookup and a push, the work runs after the turn
 * that answered, several predictions per inference run, one run at a time; the queue is bounded
 * and what does not fit is dropped and counted (`nepse_prediction_shadow_dropped_total`), so a
 * slow or loaded challenger costs shadow predictions, never served ones.
 *
 * Latency. A shadow prediction carries the latency it would have had if served, measured as a
 * served one is (request received to answer ready): the served request's time before its
 * inference run (validation, the feature lookup, shared by both) plus the duration of the shadow's
 * own inference run. The time it waited in this queue is left out: it is the background's, and
 * no caller would wait for it. Monitoring stores it under the challenger's version, and
 * `nepse_prediction_shadow_latency_seconds` shows it.
 */
import { create } from '@bufbuild/protobuf';
import { randomUUID } from 'node:crypto';
import { Counter, Histogram } from 'prom-client';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { PredictionSchema, type Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { detached } from '../../lib/grpc/index.js';
import { metric, type Logger } from '../../lib/telemetry/index.js';
import { acquireModel, infer, type LoadedModel } from './inference-session.js';
import { SHADOW_ALIAS, type ModelAliases } from './model-aliases.js';
import type { PredictionEvents } from './prediction-events.js';

/** Options of {@link ShadowScorer}. */
export interface ShadowOptions {
  aliases: ModelAliases;
  events: Pick<PredictionEvents, 'made'>;
  /** Shadow predictions waiting at most; beyond, new ones are dropped. Default 10 000. */
  queueLimit?: number;
  /** Rows of one shadow inference run at most. Default 256. */
  maxBatch?: number;
  logger: Logger;
}

interface Pending {
  model: LoadedModel;
  served: Prediction;
  features: readonly number[];
  /** The served request's time before its inference run, in ms. */
  preparedMs: number;
}

/** Seconds, from 50 µs to 5 s: a shadow prediction's latency as if served. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

function shadowMetrics() {
  return {
    made: metric(
      'nepse_prediction_shadow_total',
      () =>
        new Counter({
          name: 'nepse_prediction_shadow_total',
          help: 'Shadow predictions made and published, by model.',
          labelNames: ['model'],
        }),
    ),
    dropped: metric(
      'nepse_prediction_shadow_dropped_total',
      () =>
        new Counter({
          name: 'nepse_prediction_shadow_dropped_total',
          help: 'Shadow predictions not made, by reason: queue_full, width_mismatch, failed.',
          labelNames: ['reason'],
        }),
    ),
    latency: metric(
      'nepse_prediction_shadow_latency_seconds',
      () =>
        new Histogram({
          name: 'nepse_prediction_shadow_latency_seconds',
          help: 'Latency of each shadow prediction as if served (the request before inference plus the shadow run), in seconds, by model.',
          labelNames: ['model'],
          buckets: LATENCY_BUCKETS,
        }),
    ),
  };
}

/** The shadow work of one instance; see the file comment. */
export class ShadowScorer {
  private queue: Pending[] = [];
  private running = false;
  private scheduled = false;
  private readonly metrics = shadowMetrics();
  private readonly queueLimit: number;
  private readonly maxBatch: number;
  /** Counts since start (tests, logs). */
  readonly counts = { made: 0, dropped: 0 };

  constructor(private readonly options: ShadowOptions) {
    this.queueLimit = options.queueLimit ?? 10_000;
    this.maxBatch = options.maxBatch ?? 256;
  }

  /**
   * Offers a served prediction for shadowing; returns at once, never throws.
   * @param preparedMs the served request's time before its inference run, in ms (see the file comment).
   */
  offer(served: Prediction, features: readonly number[], preparedMs = 0): void {
    const model = this.options.aliases.get(served.modelName, SHADOW_ALIAS);
    if (!model || model.version === served.modelVersion) return;
    if (features.length !== model.inputWidth) return this.drop('width_mismatch');
    if (this.queue.length >= this.queueLimit) return this.drop('queue_full');
    this.queue.push({ model, served, features, preparedMs: Number.isFinite(preparedMs) && preparedMs > 0 ? preparedMs : 0 });
    this.schedule();
  }

  /** Resolves once the queue is empty (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running || this.scheduled) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private drop(reason: string, count = 1): void {
    this.counts.dropped += count;
    this.metrics.dropped.inc({ reason }, count);
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    detached(() =>
      setImmediate(() => {
        this.scheduled = false;
        void this.pump();
      }),
    );
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const model = this.queue[0].model;
        const batch: Pending[] = [];
        const rest: Pending[] = [];
        for (const p of this.queue) (p.model === model && batch.length < this.maxBatch ? batch : rest).push(p);
        this.queue = rest;
        await this.run(model, batch);
        // Yield between runs so the serving path's turns come first.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
  }

  private async run(model: LoadedModel, batch: Pending[]): Promise<void> {
    const release = acquireModel(model);
    try {
      const rows = new Float32Array(batch.length * model.inputWidth);
      batch.forEach((p, i) => rows.set(p.features, i * model.inputWidth));
      const runStarted = performance.now();
      const outputs = await infer(model, rows, batch.length);
      const runMs = performance.now() - runStarted;
      const latency = this.metrics.latency.labels({ model: model.name });
      batch.forEach((p, i) => {
        const predictedReturn = outputs[i];
        const predictedClose = p.served.baseClose * Math.exp(predictedReturn);
        if (!Number.isFinite(predictedReturn) || !Number.isFinite(predictedClose)) return this.drop('failed');
        const shadow = create(PredictionSchema, {
          predictionId: randomUUID(),
          symbol: p.served.symbol,
          featureDate: p.served.featureDate,
          predictedReturn,
          predictedClose,
          baseClose: p.served.baseClose,
          modelName: model.name,
          modelVersion: model.version,
          degraded: p.served.degraded,
          degradedReason: p.served.degradedReason,
          predictedAt: timestampNow(),
          modelAlias: SHADOW_ALIAS,
        });
        const latencyMs = p.preparedMs + runMs;
        this.options.events.made(shadow, latencyMs, p.features, true);
        latency.observe(latencyMs / 1000);
        this.counts.made++;
        this.metrics.made.inc({ model: model.name });
      });
    } catch (error) {
      this.drop('failed', batch.length);
      this.options.logger.warn({ err: error, model: model.name, version: model.version, rows: batch.length }, 'shadow inference failed');
    } finally {
      release();
    }
  }
}
