/**
 * The event bus: one NATS connection per process with its JetStream client and manager, typed
 * publish, durable consumers, and a graceful close.
 */
import { toBinary, type Message } from '@bufbuild/protobuf';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { headers as createHeaders, type ConnectionOptions, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import {
  startBatchConsumer,
  startConsumer,
  type BatchHandler,
  type ConsumeBatchOptions,
  type ConsumeOptions,
  type ConsumerDeps,
  type EventHandler,
  type EventSubscription,
} from './consumer.js';
import { connectWithAttempts } from './connect.js';
import { EventBusClosedError, EventPublishError } from './errors.js';
import { eventSubject, validateDurable, type EventType } from './event-type.js';
import { EventHeaders, PROTOBUF_CONTENT_TYPE, injectTraceContext } from './headers.js';
import { describeError } from './nats-errors.js';
import { emit, stderrLogger, type ConsumerLag, type EventMetrics, type EventsLogger } from './observe.js';
import { EVENTS_STREAM } from './streams.js';

/** Options of {@link connectEvents}. Durations are milliseconds. */
export interface ConnectEventsOptions {
  /** NATS URL(s), e.g. `nats://127.0.0.1:4223` or a comma-separated list. */
  servers: string | string[];
  /** Connection name shown by the server (`nats server report connections`): use the service name. */
  name: string;
  /** Structured logger (pino fits). Default: warnings and errors as JSON on stderr. */
  logger?: EventsLogger;
  /** Metric hooks; default none. */
  metrics?: EventMetrics;
  /** How long a publish waits for JetStream's PubAck, in ms. Default 5 000. */
  publishTimeoutMs?: number;
  /** How long the first connect may take, in ms. Default 5 000. */
  connectTimeoutMs?: number;
  /**
   * How long a JetStream management request (stream and consumer create, update, info) waits for
   * its answer, in ms. Default 15 000. These run at start and on reconnects, rarely; nats.js's 5 s
   * failed service starts when nats-server was briefly slow on a loaded host, where waiting longer
   * costs nothing.
   */
  apiTimeoutMs?: number;
  /** Pause between reconnect attempts, in ms. Default 1 000. */
  reconnectWaitMs?: number;
  /** Reconnect attempts before giving up; -1 (default) never gives up. */
  maxReconnectAttempts?: number;
  /**
   * Interval of the client's pings, in ms; three unanswered mark the connection stale and it moves
   * to another server of the cluster. Default 5 000. nats.js's 2 minutes would leave a service whose
   * server became unreachable without a reset (a cut link drops packets) publishing into nothing for
   * minutes while the other nodes of the cluster were there to take over.
   */
  pingIntervalMs?: number;
  /** Attempts of the first connect, `reconnectWaitMs` apart, before EventConnectError. Default 3. */
  connectAttempts?: number;
  /** How long `close()` lets the connection drain before closing it hard, in ms. Default 10 000. */
  drainTimeoutMs?: number;
  /** Further nats.js options (credentials, TLS); they win over the ones above. */
  nats?: Partial<ConnectionOptions>;
}

/** Options of {@link EventBus.publish}. */
export interface PublishOptions {
  /**
   * Deterministic id of this event (e.g. `bars.ingested:NABIL:2024-06-02`), sent as
   * `Nats-Msg-Id`: a re-send within the stream's duplicate window is dropped by JetStream.
   */
  msgId: string;
  /** Extra headers; the kit's own headers win on a name clash. */
  headers?: Readonly<Record<string, string>>;
  /** Overrides the bus's PubAck timeout for this publish, in ms. */
  timeoutMs?: number;
}

/** JetStream's answer to a publish. */
export interface PublishResult {
  /** Subject published on. */
  subject: string;
  /** Stream sequence of the stored message (of the original, when `duplicate`). */
  seq: number;
  /** True when JetStream already had this msgId within the duplicate window and dropped this copy. */
  duplicate: boolean;
}

export type { ConsumerLag };

/** A connection to the mesh's event streams. Create with {@link connectEvents}. */
export interface EventBus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /**
   * Publishes one event as a binary protobuf payload on `nepse.v1.<event>.<KEY>`.
   * @throws EventKeyError for a key that cannot be a subject token.
   * @throws EventPublishError when JetStream does not acknowledge in time.
   */
  publish<T extends Message>(event: EventType<T>, key: string, message: NoInfer<T>, options: PublishOptions): Promise<PublishResult>;
  /**
   * Creates or updates the durable consumer and runs `handler` for every message until `stop()`.
   * @throws EventConfigError on bad options or a consumer the server will not create.
   */
  consume<T extends Message>(event: EventType<T>, options: ConsumeOptions, handler: EventHandler<T>): Promise<EventSubscription>;
  /**
   * Like {@link consume}, but `handler` gets the messages in batches (what has arrived while the
   * previous batch was handled), and every message of a batch is acked once the handler resolves.
   * For consumers whose cost is per call (a store insert) rather than per message.
   * @throws EventConfigError on bad options or a consumer the server will not create.
   */
  consumeBatches<T extends Message>(
    event: EventType<T>,
    options: ConsumeBatchOptions,
    handler: BatchHandler<T>,
  ): Promise<EventSubscription>;
  /** How far behind a durable consumer of NEPSE_EVENTS is. */
  consumerLag(durable: string): Promise<ConsumerLag>;
  /** Stops every consumer (waiting for in-flight handlers), then drains the connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Connects to NATS and opens JetStream. Streams are not touched: call `ensureStreams` for that.
 * @throws EventConnectError when no server answers within `connectAttempts` attempts.
 */
export async function connectEvents(options: ConnectEventsOptions): Promise<EventBus> {
  const nc = await connectWithAttempts(
    {
      servers: options.servers,
      name: options.name,
      timeout: options.connectTimeoutMs ?? 5_000,
      reconnectTimeWait: options.reconnectWaitMs ?? 1_000,
      maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
      pingInterval: options.pingIntervalMs ?? 5_000,
      maxPingOut: 3,
      ...options.nats,
    },
    options.connectAttempts ?? 3,
    options.reconnectWaitMs ?? 1_000,
  );
  const jsm = await nc.jetstreamManager({ timeout: options.apiTimeoutMs ?? 15_000 });
  return new NatsEventBus(nc, nc.jetstream(), jsm, options);
}

class NatsEventBus implements EventBus {
  private readonly logger: EventsLogger;
  private readonly metrics: EventMetrics;
  private readonly publishTimeoutMs: number;
  private readonly drainTimeoutMs: number;
  private readonly subscriptions = new Set<EventSubscription>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    options: ConnectEventsOptions,
  ) {
    this.logger = options.logger ?? stderrLogger;
    this.metrics = options.metrics ?? {};
    this.publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    void this.logStatus(options.name);
  }

  async publish<T extends Message>(event: EventType<T>, key: string, message: T, options: PublishOptions): Promise<PublishResult> {
    const subject = eventSubject(event, key);
    const msgId = options.msgId;
    if (typeof msgId !== 'string' || msgId.length === 0 || msgId.length > 256 || /[\r\n]/.test(msgId)) {
      throw new EventPublishError('msgId must be 1-256 characters on one line', subject);
    }
    const data = toBinary(event.schema, message);
    const span = trace.getTracer('nepse-events').startSpan(`send ${event.name}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.destination.name': subject,
        'messaging.message.id': msgId,
        'messaging.message.body.size': data.byteLength,
      },
    });
    const hdrs = createHeaders();
    for (const [k, v] of Object.entries(options.headers ?? {})) hdrs.set(k, v);
    hdrs.set(EventHeaders.contentType, PROTOBUF_CONTENT_TYPE);
    hdrs.set(EventHeaders.event, event.name);
    // Inject from the send span so consumers become its children (same trace as the caller's).
    injectTraceContext(hdrs, trace.setSpan(context.active(), span));
    try {
      const ack = await this.js.publish(subject, data, {
        msgID: msgId,
        headers: hdrs,
        timeout: options.timeoutMs ?? this.publishTimeoutMs,
      });
      span.setAttribute('nepse.event.duplicate', ack.duplicate);
      emit(() => this.metrics.onPublished?.(event.name, ack.duplicate));
      return { subject, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
      throw new EventPublishError(`publish to ${subject} failed: ${describeError(err)}`, subject, { cause: err });
    } finally {
      span.end();
    }
  }

  consume<T extends Message>(event: EventType<T>, options: ConsumeOptions, handler: EventHandler<T>): Promise<EventSubscription> {
    return this.register((deps) => startConsumer(deps, event, options, handler));
  }

  consumeBatches<T extends Message>(
    event: EventType<T>,
    options: ConsumeBatchOptions,
    handler: BatchHandler<T>,
  ): Promise<EventSubscription> {
    return this.register((deps) => startBatchConsumer(deps, event, options, handler));
  }

  /** Starts a consumer on this connection and keeps it for close() and the lag metrics. */
  private async register(start: (deps: ConsumerDeps) => Promise<EventSubscription>): Promise<EventSubscription> {
    if (this.closing) throw new EventBusClosedError('event bus is closing; cannot start a consumer');
    const sub = await start({
      nc: this.nc,
      js: this.js,
      jsm: this.jsm,
      logger: this.logger,
      metrics: this.metrics,
      publishTimeoutMs: this.publishTimeoutMs,
    });
    this.subscriptions.add(sub);
    emit(() => this.metrics.onConsumerStarted?.(EVENTS_STREAM, sub.durable, () => this.consumerLag(sub.durable)));
    return {
      durable: sub.durable,
      stop: async () => {
        await sub.stop();
        if (this.subscriptions.delete(sub)) emit(() => this.metrics.onConsumerStopped?.(EVENTS_STREAM, sub.durable));
      },
    };
  }

  async consumerLag(durable: string): Promise<ConsumerLag> {
    const info = await this.jsm.consumers.info(EVENTS_STREAM, validateDurable(durable));
    return {
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
      total: info.num_pending + info.num_ack_pending,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.allSettled([...this.subscriptions].map((s) => s.stop()));
    for (const sub of this.subscriptions) emit(() => this.metrics.onConsumerStopped?.(EVENTS_STREAM, sub.durable));
    this.subscriptions.clear();
    if (this.nc.isClosed()) return;
    // drain() flushes acks and publishes; when the server is unreachable it could wait forever.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.drainTimeoutMs);
    });
    try {
      const outcome = await Promise.race([this.nc.drain().then(() => 'drained' as const), timedOut]);
      if (outcome === 'timeout') this.logger.warn({}, 'drain timed out; closing connection');
    } catch (err) {
      this.logger.warn({ err: describeError(err) }, 'drain failed; closing connection');
    } finally {
      clearTimeout(timer);
      if (!this.nc.isClosed()) await this.nc.close();
    }
  }

  private async logStatus(name: string): Promise<void> {
    for await (const s of this.nc.status()) {
      const data = typeof s.data === 'string' || typeof s.data === 'number' ? s.data : undefined;
      if (s.type === 'disconnect' || s.type === 'ldm') this.logger.warn({ connection: name, event: s.type, data }, 'nats connection');
      else if (s.type === 'error') this.logger.error({ connection: name, event: s.type, data }, 'nats connection');
      else if (s.type === 'reconnect') this.logger.info({ connection: name, event: s.type, data }, 'nats connection');
    }
  }
}
