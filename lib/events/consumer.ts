/**
 * Durable pull consumers: the consumer's lifecycle (create or update the durable, pull with
 * bounded concurrency, resume after the pull loop dies, stop gracefully). What happens to each
 * message is decided in process-message.ts, or in process-batch.ts for a consumer that hands
 * its handler batches.
 */
import type { Message } from '@bufbuild/protobuf';
import type { ConsumerMessages, JetStreamManager, JsMsg, NatsConnection, Subscription } from 'nats';
import { DEFAULT_BACKOFF_MS, DEFAULT_JITTER, isValidBackoff } from './backoff.js';
import { ensureConsumer } from './consumer-config.js';
import { listenForMaxDeliveries } from './dead-letter.js';
import { EventConfigError } from './errors.js';
import { eventFilterSubjects, validateDurable, type EventType } from './event-type.js';
import { describeError } from './nats-errors.js';
import { processGathered, type BatchHandler } from './process-batch.js';
import { processMessage, type EventHandler, type VerdictDeps, type VerdictPolicy } from './process-message.js';
import { EVENTS_STREAM } from './streams.js';

export type { BatchHandler, BatchItem } from './process-batch.js';
export type { Delivery, EventHandler } from './process-message.js';

/** Options of {@link EventBus.consume}. Durations are milliseconds. */
export interface ConsumeOptions {
  /** Durable consumer name, `[A-Za-z0-9_-]{1,64}`: one per consuming service and purpose. */
  durable: string;
  /** Only these keys (symbols); default every key of the event. */
  keys?: readonly string[];
  /** Deliveries per message before it is dead-lettered. Default 5. */
  maxDeliver?: number;
  /**
   * How long the server waits for a verdict before redelivering, in ms. Default 30 000. Must
   * exceed the slowest handler: a message still being handled at ackWait is delivered again.
   */
  ackWaitMs?: number;
  /** Delay before redelivery after the 1st, 2nd, … failure, in ms (last entry repeats). Default 1 s, 5 s, 15 s, 30 s. */
  backoffMs?: readonly number[];
  /** Fraction by which each backoff delay is randomly spread (0–1). Default 0.2. */
  jitter?: number;
  /** Handlers run at once by this process. Default 1: one at a time, in stream order except for redeliveries. */
  concurrency?: number;
  /** Unacknowledged messages the server allows across all processes of this durable. Default: server's. */
  maxAckPending?: number;
  /**
   * Where a durable created now starts: `all` (default) delivers every stored event; `last_per_key`
   * only the latest stored event of each key (symbol), then everything new — a bounded snapshot
   * for consumers that keep only the latest state per key. An existing durable resumes where it was.
   */
  startAt?: 'all' | 'last_per_key';
  /**
   * How long one pull request waits on the server, in ms (≥ 1 000). The server heartbeats at half
   * of it, and two missed heartbeats make the client re-check its durable: shorter notices a
   * deleted durable or a dead server sooner at the cost of more requests. Default 30 000.
   */
  pullExpiresMs?: number;
}

/** Options of {@link EventBus.consumeBatches}: those of consume, plus how big a batch may be. */
export interface ConsumeBatchOptions extends ConsumeOptions {
  /**
   * Messages handed to one handler call at most. Default 256. A batch holds what has arrived
   * by the time the previous one is done, so under a light load batches are small and nothing waits.
   */
  maxBatch?: number;
  /** Payload bytes handed to one handler call at most (a larger single message goes alone). Default 4 MiB. */
  maxBatchBytes?: number;
  /** Batches handled at once by this process. Default 1: one batch at a time, in stream order except for redeliveries. */
  concurrency?: number;
}

/** How a consumer hands messages to its handler: one per call, or in batches. */
export type Handling<T extends Message> =
  { kind: 'message'; handler: EventHandler<T> } | { kind: 'batch'; handler: BatchHandler<T>; maxBatch: number; maxBatchBytes: number };

/** A running consumer. */
export interface EventSubscription {
  /** The durable consumer name. */
  readonly durable: string;
  /**
   * Stops pulling and waits for in-flight handlers (and dead-letter copies) to settle. Messages
   * already delivered but not yet started stay unacknowledged and come back after ackWait.
   * Idempotent.
   */
  stop(): Promise<void>;
}

/** Connection-level dependencies the bus hands to each consumer. */
export interface ConsumerDeps extends VerdictDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
}

/** Longest pause between attempts to resume a consumer whose pull loop ended, in ms. */
const MAX_RESUME_DELAY_MS = 30_000;

/** Creates (or updates) the durable consumer and starts processing; resolves once it runs. */
export async function startConsumer<T extends Message>(
  deps: ConsumerDeps,
  event: EventType<T>,
  options: ConsumeOptions,
  handler: EventHandler<T>,
): Promise<EventSubscription> {
  return startHandling(deps, event, options, { kind: 'message', handler });
}

/** {@link startConsumer} for a handler of batches. */
export async function startBatchConsumer<T extends Message>(
  deps: ConsumerDeps,
  event: EventType<T>,
  options: ConsumeBatchOptions,
  handler: BatchHandler<T>,
): Promise<EventSubscription> {
  const maxBatch = options.maxBatch ?? 256;
  const maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new EventConfigError(`maxBatch must be a positive integer, got ${maxBatch}`);
  if (!Number.isFinite(maxBatchBytes) || maxBatchBytes < 1) throw new EventConfigError('maxBatchBytes must be ≥ 1 byte');
  return startHandling(deps, event, options, { kind: 'batch', handler, maxBatch, maxBatchBytes });
}

async function startHandling<T extends Message>(
  deps: ConsumerDeps,
  event: EventType<T>,
  options: ConsumeOptions,
  handling: Handling<T>,
): Promise<EventSubscription> {
  const consumer = new EventConsumer(deps, event, options, handling);
  await consumer.start();
  return consumer;
}

class EventConsumer<T extends Message> implements EventSubscription {
  readonly durable: string;
  private readonly maxDeliver: number;
  private readonly ackWaitMs: number;
  private readonly backoffMs: readonly number[];
  private readonly jitter: number;
  private readonly concurrency: number;
  private readonly maxAckPending: number | undefined;
  private readonly startAt: 'all' | 'last_per_key';
  private readonly pullExpiresMs: number;
  private readonly filters: string[];
  /** Set when the server cannot filter on several subjects and we filter here instead. */
  private clientFilter: Set<string> | undefined;
  private readonly handlers = new Set<Promise<void>>();
  private readonly background = new Set<Promise<void>>();
  private readonly wake = new AbortController();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private advisory: Subscription | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly event: EventType<T>,
    options: ConsumeOptions,
    private readonly handling: Handling<T>,
  ) {
    this.durable = validateDurable(options.durable);
    this.maxDeliver = options.maxDeliver ?? 5;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.jitter = options.jitter ?? DEFAULT_JITTER;
    this.concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.maxDeliver) || this.maxDeliver < 1) {
      throw new EventConfigError(`maxDeliver must be a positive integer, got ${this.maxDeliver}`);
    }
    if (!Number.isFinite(this.ackWaitMs) || this.ackWaitMs < 1) throw new EventConfigError('ackWaitMs must be ≥ 1 ms');
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new EventConfigError(`concurrency must be a positive integer, got ${this.concurrency}`);
    }
    if (!isValidBackoff(this.backoffMs)) throw new EventConfigError('backoffMs must hold non-negative numbers');
    this.filters = eventFilterSubjects(event, options.keys);
    this.maxAckPending = options.maxAckPending;
    this.startAt = options.startAt ?? 'all';
    this.pullExpiresMs = options.pullExpiresMs ?? 30_000;
    if (!Number.isFinite(this.pullExpiresMs) || this.pullExpiresMs < 1_000) {
      throw new EventConfigError('pullExpiresMs must be at least 1 000 ms');
    }
  }

  async start(): Promise<void> {
    await this.ensure();
    this.advisory = listenForMaxDeliveries(
      { ...this.deps, track: (work) => this.track(this.background, work) },
      this.event,
      EVENTS_STREAM,
      this.durable,
    );
    this.loop = this.run();
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    this.messages?.stop();
    await this.loop;
    this.advisory?.unsubscribe();
    // Handlers may still be settling (ack, dead-letter copy); advisory copies likewise.
    while (this.handlers.size + this.background.size > 0) {
      await Promise.allSettled([...this.handlers, ...this.background]);
    }
  }

  private async ensure(): Promise<void> {
    const { serverFilters, clientFilter } = await ensureConsumer(this.deps.nc, this.deps.jsm, {
      stream: EVENTS_STREAM,
      durable: this.durable,
      description: `${this.event.name} consumer`,
      filters: this.filters,
      maxDeliver: this.maxDeliver,
      ackWaitMs: this.ackWaitMs,
      maxAckPending: this.maxAckPending,
      lastPerSubject: this.startAt === 'last_per_key',
    });
    this.clientFilter = clientFilter;
    if (clientFilter) {
      this.deps.logger.info(
        { durable: this.durable, serverFilters },
        'server predates multi-subject consumer filters (2.10); filtering keys in the client',
      );
    }
  }

  /** Pulls until stopped; if the pull loop dies (consumer deleted, server gone), recreates and resumes. */
  private async run(): Promise<void> {
    let failures = 0;
    let resuming = false;
    while (!this.stopping) {
      try {
        // API requests can take their full timeout when the server is gone: stop() must not wait.
        // On a resume the durable may have been deleted underneath us: recreate it first.
        if (resuming && !(await this.unlessStopped(this.ensure()))) break;
        const consumer = await this.unlessStopped(this.deps.js.consumers.get(EVENTS_STREAM, this.durable));
        if (!consumer) break;
        // abort_on_missing_resource: without it nats.js retries forever against a deleted durable;
        // with it the iterator ends and this loop recreates the durable.
        // Batches: room for the batch being handled and the next one arriving meanwhile.
        const buffered = this.handling.kind === 'batch' ? this.handling.maxBatch * (this.concurrency + 1) : this.concurrency;
        const consuming = consumer.value.consume({
          max_messages: buffered,
          expires: this.pullExpiresMs,
          abort_on_missing_resource: true,
        });
        const started = await this.unlessStopped(consuming);
        if (!started) {
          consuming.then(
            (m) => m.stop(),
            () => {},
          );
          break;
        }
        const messages = started.value;
        this.messages = messages;
        failures = 0;
        if (this.stopping) messages.stop();
        const iterator = messages[Symbol.asyncIterator]();
        if (this.handling.kind === 'batch') await this.handleBatches(iterator, this.handling);
        else await this.handleMessages(iterator, this.handling.handler);
        if (this.stopping) break;
        const err = await messages.closed();
        this.deps.logger.warn({ durable: this.durable, err: err ? describeError(err) : undefined }, 'pull loop ended; resuming');
      } catch (err) {
        if (this.stopping) break;
        this.deps.logger.error({ durable: this.durable, err: describeError(err) }, 'pull loop failed; resuming');
      }
      failures++;
      resuming = true;
      await sleep(Math.min(MAX_RESUME_DELAY_MS, 250 * 2 ** Math.min(failures, 10)), this.wake.signal);
    }
  }

  /** Hands each message to its own handler call, `concurrency` at once. */
  private async handleMessages(iterator: AsyncIterator<JsMsg>, handler: EventHandler<T>): Promise<void> {
    while (true) {
      // Take a message only when a handler slot is free: a message held while waiting would
      // burn its ackWait without being worked on.
      while (this.handlers.size >= this.concurrency) await Promise.race(this.handlers);
      const next = await iterator.next();
      if (next.done) break;
      // Delivered but stopping: leave it unacknowledged; the server redelivers it after ackWait
      // to whichever process pulls next. (A nak would be quicker, but nats-server 2.9 was seen
      // to deliver such a nak'd message twice to the next consumer.)
      if (this.stopping) continue;
      this.track(this.handlers, processMessage({ ...this.policy(), handler }, next.value));
    }
  }

  /**
   * Hands messages over in batches, `concurrency` batches at once: once a slot is free, waits for
   * one message, then takes whatever else has already arrived, up to the batch limits. Nothing
   * waits for a batch to fill: a busy handler makes big batches, an idle one gets every message
   * at once.
   */
  private async handleBatches(iterator: AsyncIterator<JsMsg>, handling: Extract<Handling<T>, { kind: 'batch' }>): Promise<void> {
    // A next() that lost its race against the end of the turn: its message opens the next batch.
    let pending: Promise<IteratorResult<JsMsg>> | undefined;
    let done = false;
    while (!done) {
      while (this.handlers.size >= this.concurrency) await Promise.race(this.handlers);
      const next = await (pending ?? iterator.next());
      pending = undefined;
      if (next.done) break;
      const batch = [next.value];
      let bytes = next.value.data.length;
      while (batch.length < handling.maxBatch && bytes < handling.maxBatchBytes) {
        pending = iterator.next();
        const more = await Promise.race([pending, endOfTurn()]);
        if (more === END_OF_TURN) break;
        pending = undefined;
        if (more.done) {
          done = true;
          break;
        }
        batch.push(more.value);
        bytes += more.value.data.length;
      }
      if (this.stopping) continue; // left unacknowledged, as in handleMessages
      this.track(this.handlers, processGathered({ ...this.policy(), handler: handling.handler }, batch));
    }
  }

  /** The per-message rules, with the client-side filter as currently known. */
  private policy(): VerdictPolicy<T> {
    return {
      deps: this.deps,
      event: this.event,
      durable: this.durable,
      maxDeliver: this.maxDeliver,
      backoffMs: this.backoffMs,
      jitter: this.jitter,
      clientFilter: this.clientFilter,
    };
  }

  /** `work`'s value, or undefined as soon as stop() is called (whichever comes first). */
  private async unlessStopped<R>(work: Promise<R>): Promise<{ value: R } | undefined> {
    work.catch(() => {}); // an abandoned request may still fail later; nobody is waiting for it
    if (this.stopping) return undefined;
    const signal = this.wake.signal;
    let onAbort!: () => void;
    const stopped = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work.then((value) => ({ value })), stopped]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private track(set: Set<Promise<void>>, work: Promise<void>): void {
    const p = work.finally(() => set.delete(p));
    set.add(p);
  }
}

const END_OF_TURN = Symbol('end of turn');

/**
 * Resolves after the current event-loop turn: by then every message already received has been
 * handed out by the pull iterator (that takes only microtasks), and later ones are still unread.
 */
function endOfTurn(): Promise<typeof END_OF_TURN> {
  return new Promise((resolve) => setImmediate(resolve, END_OF_TURN));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
