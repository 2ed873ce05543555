/**
 * PredictionsMade for every prediction, published off the request path and in batches. An RPC only
 * appends its prediction, in wire format, to the event being filled (bounded in all); a pump
 * publishes the filled events of at most {@link PREDICTIONS_PER_EVENT} predictions each, `lingerMs`
 * after the first prediction of the oldest was queued (at once when a full event is waiting).
 *
 * Why batches: a streaming client draws tens of thousands of predictions a second, and one stored
 * JetStream message per prediction costs nats-server more CPU than the prediction itself (measured
 * here: about 25 µs of server CPU per message). Predictions made under different trace contexts go
 * in different events, so each event's `traceparent` is the trace of everything it carries.
 *
 * Why linger instead of one pump per event-loop turn: at low concurrency a turn holds one request,
 * so the turn-sized batch is one prediction, and its publish (a socket write) and its PubAck (a
 * message to parse) cost this process more CPU than serving the prediction (measured at
 * concurrency 1: about a quarter of the service's CPU per Predict). The cost is per event, not per
 * prediction, on both sides: nats-server spent about 6 µs per prediction at concurrency 1 with a
 * 20 ms linger and 3 µs with 100 ms, and each publish and PubAck holds up the request that arrives
 * meanwhile (with 20 ms, Predict's p99 at concurrency 1 was 1.6–1.7× the echo's; with 100 ms,
 * 1.2–1.3×). Monitoring scores predictions against closes a day later; hearing of them a tenth
 * of a second later costs it nothing.
 *
 * Why not `EventBus.publish`: it is a request per event (nats.js builds a request object, a timer
 * and an error with a captured stack for each). Events go out the way JetStream's asynchronous
 * publishers do it: plain publishes whose reply subject is an inbox of ours, and the PubAcks (JSON
 * on that inbox) are counted as they come back. Each event still carries `Nats-Msg-Id`, so
 * JetStream deduplicates a re-send, and the kit's `nepse_events_published_total` counts the
 * acknowledged ones like any other event. The payload is written by predictions-made-wire.ts,
 * not the reflective encoder, for the same reason.
 *
 * Why write each prediction as it is made, not when the event is published: writing a whole event
 * at once stalls the event loop for the requests that arrive meanwhile (at concurrency 1 with a
 * 20 ms linger, the request that met the pump was the slow one of a hundred), and the predictions kept
 * until then outlive a young-generation GC and are copied by it. Written at once, a prediction is
 * a few hundred bytes in a buffer and its objects die young.
 *
 * Why drop instead of wait: the events feed monitoring, they are not the product. Making an RPC
 * wait for JetStream would turn a NATS outage into a prediction outage, and buffering without
 * bound would turn it into an out-of-memory crash a little later. So at most `concurrency` events
 * are awaiting their PubAck; while NATS is down or slow the queue fills to its bound and further
 * predictions are dropped, each one counted in `nepse_prediction_events_dropped_total{reason}`
 * (queue_full; publish_failed for a negative or missing PubAck; shutdown) so the gap monitoring
 * sees is explained and alertable. Nothing is retried: by then newer predictions are waiting.
 */
import { context, trace, type Context } from '@opentelemetry/api';
import { createInbox, headers, type Msg, type Subscription } from 'nats';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EventHeaders, eventSubject, injectTraceContext, PROTOBUF_CONTENT_TYPE, type EventBus } from '../../lib/events/index.js';
import { detached } from '../../lib/grpc/index.js';
import { eventMetrics, type Logger } from '../../lib/telemetry/index.js';
import type { PredictionMetrics } from './metrics.js';
import { writePredictionMade } from './predictions-made-wire.js';
import { WireWriter } from './wire-writer.js';

/** Predictions one PredictionsMade carries at most (events.proto). */
export const PREDICTIONS_PER_EVENT = 1000;

/** Options of {@link PredictionEvents}. */
export interface PredictionEventsOptions {
  bus: EventBus;
  /** This instance's identifier, carried by every prediction. */
  instanceId: string;
  /** Predictions waiting at most; beyond it new ones are dropped. */
  queueLimit: number;
  /** PredictionsMade events published and awaiting their PubAck at most. */
  concurrency: number;
  /** How long an event waits for its PubAck before its predictions count as failed, in ms. Default 5 000. */
  ackTimeoutMs?: number;
  /** How long a queued prediction waits for others to share its event, in ms; 0: one pump per event-loop turn. Default 0. */
  lingerMs?: number;
  logger: Logger;
  metrics: PredictionMetrics;
}

/** Counts since start, in predictions (events awaiting a PubAck in `awaitingEvents`). */
export interface PredictionEventStats {
  /** Acknowledged by JetStream (duplicates included). */
  published: number;
  dropped: number;
  queued: number;
  /** Published, PubAck not yet received. */
  awaiting: number;
}

/** A PredictionsMade being filled: its predictions, already in wire format. */
class Filling {
  readonly bytes: WireWriter;
  predictions = 0;

  constructor(
    /** Nats-Msg-Id of the event: its first prediction's id. */
    readonly msgId: string,
    /** The trace its predictions were made in, when one is being recorded. */
    readonly trace: Context | undefined,
    readonly traceKey: string,
    capacity: number,
  ) {
    this.bytes = new WireWriter(capacity);
  }
}

/** The least a new event's buffer holds: about a hundred predictions (some 350 bytes each). */
const FILLING_BYTES = 32 * 1024;
/**
 * A traced event's first buffer: room for a few predictions. Each traced request is a trace of its
 * own, so its event usually carries its prediction alone; a buffer sized for a hundred would be
 * tens of kilobytes per request, and per queued prediction while NATS is down.
 */
const TRACED_FILLING_BYTES = 1024;

/** One published event awaiting its PubAck on `<inbox>.<id>`. */
interface Pending {
  predictions: number;
  timer: NodeJS.Timeout;
}

type DropReason = 'queue_full' | 'publish_failed' | 'shutdown';

const utf8 = new TextDecoder();

/** The asynchronous, batched PredictionsMade publisher. */
export class PredictionEvents {
  /** Events to publish, oldest first. */
  private queue: Filling[] = [];
  /** Index of the next event to publish in `queue` (a moving head instead of shift(), which is O(n)). */
  private head = 0;
  /** The event each trace context's predictions go to now: the last of its events in `queue`, until it is full. */
  private readonly filling = new Map<string, Filling>();
  /** Predictions in `queue`. */
  private queued = 0;
  /** Size of the last untraced event published: a new one starts with room for as much, so it seldom grows. */
  private lastEventBytes = FILLING_BYTES;
  private awaitingEvents = 0;
  private awaitingPredictions = 0;
  private scheduled: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private stopped = false;
  private eventId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly counts = { published: 0, dropped: 0 };
  private readonly inbox = createInbox();
  private readonly replies: Subscription;
  private readonly busMetrics = eventMetrics();
  private readonly subject = eventSubject(MeshEvents.predictionsMade, '_');
  private idle: (() => void) | undefined;
  private lastFailureLog = 0;

  constructor(private readonly options: PredictionEventsOptions) {
    this.replies = options.bus.nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => error || this.onAck(msg) });
  }

  /**
   * Queues `prediction`, served in `latencyMs` from `features`; returns at once, never throws.
   * The active trace, if any, travels with it. `shadow` marks a shadow model's prediction.
   */
  made(prediction: Prediction, latencyMs: number, features: readonly number[], shadow = false): void {
    if (this.stopped) return this.drop('shutdown');
    if (this.queued >= this.options.queueLimit) return this.drop('queue_full');
    const span = trace.getSpanContext(context.active());
    const traced = span !== undefined && trace.isSpanContextValid(span);
    const traceKey = traced ? `${span.traceId}-${span.spanId}` : '';
    let event = this.filling.get(traceKey);
    if (event === undefined) {
      const msgId = `predictions.made:${prediction.predictionId}`;
      event = traced
        ? new Filling(msgId, context.active(), traceKey, TRACED_FILLING_BYTES)
        : new Filling(msgId, undefined, traceKey, this.lastEventBytes);
      this.filling.set(traceKey, event);
      this.queue.push(event);
    }
    writePredictionMade(event.bytes, { prediction, latencyMs, features, shadow }, this.options.instanceId);
    event.predictions++;
    this.queued++;
    if (event.predictions === PREDICTIONS_PER_EVENT) this.filling.delete(traceKey);
    this.schedule();
  }

  /**
   * Pumps after the linger (or after the current turn, when a full event is waiting or there is no
   * linger): the RPCs that queued predictions answer first, and many of them share an event.
   */
  private schedule(): void {
    if (this.queued === 0) return;
    const linger = this.options.lingerMs ?? 0;
    const now = linger <= 0 || this.queued >= PREDICTIONS_PER_EVENT;
    if (this.scheduled) {
      if (!now || !('refresh' in this.scheduled)) return;
      // A full event is waiting: no reason to let it linger.
      clearTimeout(this.scheduled);
    }
    const run = () => {
      this.scheduled = undefined;
      this.pump();
    };
    // Queued by a Predict call, the pump serves many calls and outlives that call.
    this.scheduled = detached(() => (now ? setImmediate(run) : setTimeout(run, linger)));
  }

  /** Counts so far. */
  stats(): PredictionEventStats {
    return { ...this.counts, queued: this.queued, awaiting: this.awaitingPredictions };
  }

  /** Stops taking predictions, publishes what is queued and waits for PubAcks for up to `timeoutMs`; the rest is dropped. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    this.cancelScheduled();
    this.pump();
    if (this.queued + this.awaitingEvents > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.idle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    for (const [id, event] of this.pending) this.settle(id, event, 'shutdown');
    this.cancelScheduled();
    this.drop('shutdown', this.queued);
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    this.filling.clear();
    this.replies.unsubscribe();
  }

  private cancelScheduled(): void {
    if (this.scheduled === undefined) return;
    if ('refresh' in this.scheduled) clearTimeout(this.scheduled);
    else clearImmediate(this.scheduled);
    this.scheduled = undefined;
  }

  /** Publishes the queued events, oldest first, while fewer than `concurrency` await their PubAck. */
  private pump(): void {
    const { bus, concurrency } = this.options;
    if (!bus.nc.isClosed()) {
      while (this.head < this.queue.length && this.awaitingEvents < concurrency) {
        const event = this.queue[this.head];
        this.queue[this.head++] = undefined as never;
        if (this.filling.get(event.traceKey) === event) this.filling.delete(event.traceKey);
        this.queued -= event.predictions;
        this.publish(event);
      }
    }
    // Compact once the consumed head is large, so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.options.metrics.eventsQueued.set(this.queued);
    if (this.awaitingEvents === 0 && this.queued === 0) this.idle?.();
  }

  /** Publishes one PredictionsMade and waits (bounded) for its PubAck on the inbox. */
  private publish(event: Filling): void {
    const { bus, ackTimeoutMs = 5_000 } = this.options;
    const h = headers();
    h.set(EventHeaders.msgId, event.msgId);
    h.set(EventHeaders.contentType, PROTOBUF_CONTENT_TYPE);
    h.set(EventHeaders.event, MeshEvents.predictionsMade.name);
    if (event.trace) injectTraceContext(h, event.trace);
    const id = ++this.eventId;
    const payload = event.bytes.bytes();
    if (event.trace === undefined) this.lastEventBytes = Math.max(FILLING_BYTES, payload.length);
    bus.nc.publish(this.subject, payload, { reply: `${this.inbox}.${id}`, headers: h });
    const pending: Pending = {
      predictions: event.predictions,
      timer: setTimeout(() => this.settle(id, pending, 'publish_failed'), ackTimeoutMs),
    };
    pending.timer.unref();
    this.pending.set(id, pending);
    this.awaitingEvents++;
    this.awaitingPredictions += event.predictions;
  }

  /** The PubAck (or a JetStream error) of one event. */
  private onAck(msg: Msg): void {
    const id = Number(msg.subject.slice(this.inbox.length + 1));
    const event = this.pending.get(id);
    if (!event) return; // it timed out already and was counted as failed
    this.release(id, event);
    let ack: { error?: { description?: string }; duplicate?: boolean } = {};
    try {
      ack = JSON.parse(utf8.decode(msg.data));
    } catch {
      ack = { error: { description: 'unreadable PubAck' } };
    }
    if (ack.error) this.failed(event.predictions, ack.error.description ?? 'JetStream refused the event');
    else {
      this.counts.published += event.predictions;
      this.busMetrics.onPublished?.(MeshEvents.predictionsMade.name, ack.duplicate === true);
    }
    this.schedule();
  }

  private release(id: number, event: Pending): void {
    clearTimeout(event.timer);
    this.pending.delete(id);
    this.awaitingEvents--;
    this.awaitingPredictions -= event.predictions;
    if (this.awaitingEvents === 0 && this.queued === 0) this.idle?.();
  }

  /** Gives up on an event's PubAck. */
  private settle(id: number, event: Pending, reason: DropReason): void {
    this.release(id, event);
    if (reason === 'publish_failed') this.failed(event.predictions, `no PubAck within ${this.options.ackTimeoutMs ?? 5_000} ms`);
    else this.drop(reason, event.predictions);
    this.pump();
  }

  private failed(count: number, why: string): void {
    this.drop('publish_failed', count);
    // One line per 10 s at most: during an outage every event fails the same way.
    if (Date.now() - this.lastFailureLog > 10_000) {
      this.lastFailureLog = Date.now();
      this.options.logger.warn({ why, dropped: this.counts.dropped }, 'PredictionsMade not published; dropping predictions');
    }
  }

  private drop(reason: DropReason, count = 1): void {
    if (count === 0) return;
    this.counts.dropped += count;
    this.options.metrics.eventsDropped.inc({ reason }, count);
  }
}
