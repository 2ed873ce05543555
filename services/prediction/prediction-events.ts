/**
 * PredictionMade for every prediction, published off the request path and in batches. An RPC only
 * appends to a bounded in-memory queue; once per event-loop turn a pump sends what is queued.
 *
 * Why not `EventBus.publish`: it is a request per event (nats.js builds a request object, a timer
 * and an error with a captured stack for each), which costs more than the whole prediction —
 * measured here, about 60 % of the CPU of a micro-batched prediction. So events are published the
 * way JetStream's asynchronous publishers do it: plain publishes whose reply subject is one inbox
 * of ours, one batch per pump, and the PubAcks (JSON on that inbox) are counted as they come back.
 * Each event still carries `Nats-Msg-Id`, so JetStream deduplicates a re-send, and the kit's
 * `nepse_events_published_total` counts the acknowledged ones like any other event.
 *
 * Why drop instead of wait: the events feed monitoring, they are not the product. Making an RPC
 * wait for JetStream would turn a NATS outage into a prediction outage, and buffering without
 * bound would turn it into an out-of-memory crash a little later. So at most `concurrency` events
 * are awaiting their PubAck; while NATS is down or slow the queue fills to its bound and further
 * events are dropped, each one counted in `nepse_prediction_events_dropped_total{reason}`
 * (queue_full; publish_failed for a negative or missing PubAck; shutdown) so the gap monitoring
 * sees is explained and alertable. Nothing is retried: by then newer events are waiting.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createInbox, headers, type Msg, type Subscription } from 'nats';
import { PredictionMadeSchema } from '../../gen/nepse/events/v1/events_pb.js';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EventHeaders, eventSubject, PROTOBUF_CONTENT_TYPE, type EventBus } from '../../lib/events/index.js';
import { eventMetrics, type Logger } from '../../lib/telemetry/index.js';
import type { PredictionMetrics } from './metrics.js';

/** Options of {@link PredictionEvents}. */
export interface PredictionEventsOptions {
  bus: EventBus;
  /** This instance's identifier, carried by every event. */
  instanceId: string;
  /** Events waiting at most; beyond it new ones are dropped. */
  queueLimit: number;
  /** Events published and awaiting their PubAck at most. */
  concurrency: number;
  /** How long a batch waits for its PubAcks before the missing ones count as failed, in ms. Default 5 000. */
  ackTimeoutMs?: number;
  logger: Logger;
  metrics: PredictionMetrics;
}

/** Counts since start. */
export interface PredictionEventStats {
  /** Acknowledged by JetStream (duplicates included). */
  published: number;
  dropped: number;
  queued: number;
  /** Published, PubAck not yet received. */
  awaiting: number;
}

interface Queued {
  prediction: Prediction;
  latencyMs: number;
}

/** One pump's worth of events, answered on `<inbox>.<id>`. */
interface Batch {
  expected: number;
  answered: number;
  timer: NodeJS.Timeout;
}

type DropReason = 'queue_full' | 'publish_failed' | 'shutdown';

const utf8 = new TextDecoder();

/** The asynchronous, batched PredictionMade publisher. */
export class PredictionEvents {
  private queue: Queued[] = [];
  /** Index of the next event to publish in `queue` (a moving head instead of shift(), which is O(n)). */
  private head = 0;
  private awaiting = 0;
  private scheduled = false;
  private stopped = false;
  private batchId = 0;
  private readonly batches = new Map<number, Batch>();
  private readonly counts = { published: 0, dropped: 0 };
  private readonly inbox = createInbox();
  private readonly replies: Subscription;
  private readonly busMetrics = eventMetrics();
  private readonly subjectPrefix = eventSubject(MeshEvents.predictionMade, 'X').slice(0, -1);
  private idle: (() => void) | undefined;
  private lastFailureLog = 0;

  constructor(private readonly options: PredictionEventsOptions) {
    this.replies = options.bus.nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => error || this.onAck(msg) });
  }

  /** Queues PredictionMade for `prediction`, served in `latencyMs`; returns at once, never throws. */
  made(prediction: Prediction, latencyMs: number): void {
    if (this.stopped) return this.drop('shutdown');
    if (this.queue.length - this.head >= this.options.queueLimit) return this.drop('queue_full');
    this.queue.push({ prediction, latencyMs });
    this.schedule();
  }

  /** Pumps after the current turn: the RPCs that queued events answer first, and a burst of PubAcks frees room once. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Counts so far. */
  stats(): PredictionEventStats {
    return { ...this.counts, queued: this.queue.length - this.head, awaiting: this.awaiting };
  }

  /** Stops taking events, publishes what is queued and waits for PubAcks for up to `timeoutMs`; the rest is dropped. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    this.pump();
    if (this.queue.length - this.head + this.awaiting > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.idle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    for (const [id, batch] of this.batches) this.settle(id, batch, 'shutdown');
    for (let i = this.head; i < this.queue.length; i++) this.drop('shutdown');
    this.queue = [];
    this.head = 0;
    this.replies.unsubscribe();
  }

  /** Publishes queued events while fewer than `concurrency` await their PubAck. */
  private pump(): void {
    const { bus, concurrency, instanceId, ackTimeoutMs = 5_000 } = this.options;
    const room = Math.min(concurrency - this.awaiting, this.queue.length - this.head);
    if (room > 0 && !bus.nc.isClosed()) {
      const id = ++this.batchId;
      const reply = `${this.inbox}.${id}`;
      for (let i = 0; i < room; i++) {
        const { prediction: p, latencyMs } = this.queue[this.head];
        this.queue[this.head++] = undefined as never;
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
        const h = headers();
        h.set(EventHeaders.msgId, `predictions.made:${p.predictionId}`);
        h.set(EventHeaders.contentType, PROTOBUF_CONTENT_TYPE);
        h.set(EventHeaders.event, MeshEvents.predictionMade.name);
        // Symbols are canonical already (validated on the way in), so they are safe subject tokens.
        bus.nc.publish(this.subjectPrefix + p.symbol, toBinary(PredictionMadeSchema, event), { reply, headers: h });
      }
      this.awaiting += room;
      const batch: Batch = { expected: room, answered: 0, timer: setTimeout(() => this.settle(id, batch, 'publish_failed'), ackTimeoutMs) };
      batch.timer.unref();
      this.batches.set(id, batch);
    }
    // Compact once the consumed head is large, so the array does not grow without bound.
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.options.metrics.eventsQueued.set(this.queue.length - this.head);
    if (this.awaiting === 0 && this.head >= this.queue.length) this.idle?.();
  }

  /** A PubAck (or a JetStream error) for one event of a batch. */
  private onAck(msg: Msg): void {
    const id = Number(msg.subject.slice(this.inbox.length + 1));
    const batch = this.batches.get(id);
    if (!batch) return; // its batch timed out already and was counted as failed
    batch.answered++;
    this.awaiting--;
    let ack: { error?: { description?: string }; duplicate?: boolean } = {};
    try {
      ack = JSON.parse(utf8.decode(msg.data));
    } catch {
      ack = { error: { description: 'unreadable PubAck' } };
    }
    if (ack.error) this.failed(1, ack.error.description ?? 'JetStream refused the event');
    else {
      this.counts.published++;
      this.busMetrics.onPublished?.(MeshEvents.predictionMade.name, ack.duplicate === true);
    }
    if (batch.answered === batch.expected) {
      clearTimeout(batch.timer);
      this.batches.delete(id);
    }
    this.schedule();
  }

  /** Gives up on a batch's missing PubAcks. */
  private settle(id: number, batch: Batch, reason: DropReason): void {
    clearTimeout(batch.timer);
    this.batches.delete(id);
    const missing = batch.expected - batch.answered;
    this.awaiting -= missing;
    if (reason === 'publish_failed') this.failed(missing, `no PubAck within ${this.options.ackTimeoutMs ?? 5_000} ms`);
    else for (let i = 0; i < missing; i++) this.drop(reason);
    this.pump();
  }

  private failed(count: number, why: string): void {
    for (let i = 0; i < count; i++) this.drop('publish_failed');
    // One line per 10 s at most: during an outage every event fails the same way.
    if (Date.now() - this.lastFailureLog > 10_000) {
      this.lastFailureLog = Date.now();
      this.options.logger.warn({ why, dropped: this.counts.dropped }, 'PredictionMade not published; dropping events');
    }
  }

  private drop(reason: DropReason): void {
    this.counts.dropped++;
    this.options.metrics.eventsDropped.inc({ reason });
  }
}
