/**
 * PredictionMade for every prediction, published off the request path. An RPC only appends to a
 * bounded in-memory queue; a pump publishes from it with many PubAcks outstanding at once, so the
 * events' cost is paid in batches between requests and never inside one.
 *
 * Why drop instead of wait: the events feed monitoring, they are not the product. Making an RPC
 * wait for JetStream would turn a NATS outage into a prediction outage, and buffering without
 * bound would turn it into an out-of-memory crash a little later. So when NATS is down or cannot
 * keep up, the queue fills to its bound and further events are dropped — each one counted in
 * `nepse_prediction_events_dropped_total{reason}` (queue_full, publish_failed, shutdown) so the gap
 * monitoring sees is explained and alertable. Events are never retried after a failed publish:
 * by then newer ones are waiting, and order within the bound matters more than completeness.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { PredictionMadeSchema } from '../../gen/nepse/events/v1/events_pb.js';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { EventBus } from '../../lib/events/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { PredictionMetrics } from './metrics.js';

/** Options of {@link PredictionEvents}. */
export interface PredictionEventsOptions {
  bus: EventBus;
  /** This instance's identifier, carried by every event. */
  instanceId: string;
  /** Events waiting at most; beyond it new ones are dropped. */
  queueLimit: number;
  /** Publishes awaiting their PubAck at once. */
  concurrency: number;
  /** How long one publish waits for its PubAck, in ms. Default 2 000. */
  publishTimeoutMs?: number;
  logger: Logger;
  metrics: PredictionMetrics;
}

/** Counts since start. */
export interface PredictionEventStats {
  published: number;
  dropped: number;
  queued: number;
}

interface Queued {
  prediction: Prediction;
  latencyMs: number;
}

/** The asynchronous PredictionMade publisher. */
export class PredictionEvents {
  private queue: Queued[] = [];
  /** Index of the next event to publish in `queue` (a moving head instead of shift(), which is O(n)). */
  private head = 0;
  private inFlight = 0;
  private scheduled = false;
  private stopped = false;
  private readonly counts = { published: 0, dropped: 0 };
  private idle: (() => void) | undefined;
  private lastFailureLog = 0;

  constructor(private readonly options: PredictionEventsOptions) {}

  /** Queues PredictionMade for `prediction`, served in `latencyMs`; returns at once, never throws. */
  made(prediction: Prediction, latencyMs: number): void {
    if (this.stopped) return this.drop('shutdown');
    if (this.queue.length - this.head >= this.options.queueLimit) return this.drop('queue_full');
    this.queue.push({ prediction, latencyMs });
    if (!this.scheduled) {
      this.scheduled = true;
      // Publish after the current turn: the RPC that queued it answers first.
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  /** Counts so far. */
  stats(): PredictionEventStats {
    return { ...this.counts, queued: this.queue.length - this.head };
  }

  /** Stops taking events and publishes what is queued, for up to `timeoutMs`; the rest is dropped. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    this.pump();
    if (this.queue.length - this.head + this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (this.idle = resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    const left = this.queue.length - this.head;
    for (let i = 0; i < left; i++) this.drop('shutdown');
    this.queue = [];
    this.head = 0;
  }

  private pump(): void {
    const { bus, concurrency, instanceId, publishTimeoutMs = 2_000 } = this.options;
    while (this.inFlight < concurrency && this.head < this.queue.length) {
      const { prediction: p, latencyMs } = this.queue[this.head++];
      this.inFlight++;
      const event = create(PredictionMadeSchema, {
        predictionId: p.predictionId,
        modelName: p.modelName,
        modelVersion: p.modelVersion,
        symbol: p.symbol,
        featureDate: p.featureDate,
        predictedReturn: p.predictedReturn,
        predictedClose: p.predictedClose,
        baseClose: p.baseClose,
        latencyMs,
        degraded: p.degraded,
        instanceId,
        occurredAt: p.predictedAt ?? timestampFromMs(Date.now()),
      });
      bus
        .publish(MeshEvents.predictionMade, p.symbol, event, { msgId: `predictions.made:${p.predictionId}`, timeoutMs: publishTimeoutMs })
        .then(
          () => this.counts.published++,
          (error: unknown) => {
            this.drop('publish_failed');
            // One line per 10 s at most: during an outage every event fails the same way.
            if (Date.now() - this.lastFailureLog > 10_000) {
              this.lastFailureLog = Date.now();
              this.options.logger.warn({ err: error, dropped: this.counts.dropped }, 'PredictionMade not published; dropping events');
            }
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
    // Compact once the consumed head is large, so the array does not grow without bound.
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.options.metrics.eventsQueued.set(this.queue.length - this.head);
    if (this.inFlight === 0 && this.head >= this.queue.length) this.idle?.();
  }

  private drop(reason: 'queue_full' | 'publish_failed' | 'shutdown'): void {
    this.counts.dropped++;
    this.options.metrics.eventsDropped.inc({ reason });
  }
}
