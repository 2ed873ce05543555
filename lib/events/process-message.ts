/**
 * The verdict on one delivered message: success → ack; failure → nak with jittered backoff;
 * failure on the last allowed delivery, a rejection, or an undecodable payload → copy to the
 * dead-letter stream, then term. The handler runs inside the publisher's trace context.
 */
import type { Message } from '@bufbuild/protobuf';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { JetStreamClient, JsMsg } from 'nats';
import { retryDelayMs } from './backoff.js';
import { publishDeadLetter } from './dead-letter.js';
import { EventRejectedError } from './errors.js';
import { decodeEvent, keyOfSubject, type EventType } from './event-type.js';
import { EventHeaders, extractTraceContext, headerSafe, headersToRecord } from './headers.js';
import { describeError } from './nats-errors.js';
import { emit, type DeadLetterReason, type EventMetrics, type EventsLogger } from './observe.js';
import { EVENTS_STREAM } from './streams.js';

/** What a handler knows about the message besides its payload. */
export interface Delivery {
  /** Event name, e.g. `bars.ingested`. */
  event: string;
  /** Durable consumer that received it. */
  durable: string;
  /** Full subject, `nepse.v1.<event>.<KEY>`. */
  subject: string;
  /** The key (symbol or `_`). */
  key: string;
  /** Stream sequence: unique per stored message. */
  seq: number;
  /** 1 on first delivery, 2 on the first redelivery, … up to `maxDeliver`. */
  deliveryCount: number;
  /** The publisher's `Nats-Msg-Id`: the natural idempotency key for handlers. */
  msgId: string | undefined;
  /** All message headers (first value of each). */
  headers: Readonly<Record<string, string>>;
  /** When JetStream stored the message. */
  publishedAt: Date;
}

/** Processes one message. Resolve to ack; throw to retry (or {@link EventRejectedError} to dead-letter now). */
export type EventHandler<T extends Message> = (message: T, delivery: Delivery) => Promise<void>;

/** What deciding a verdict needs from the connection. */
export interface VerdictDeps {
  js: JetStreamClient;
  logger: EventsLogger;
  metrics: EventMetrics;
  /** How long a dead-letter publish waits for its PubAck, in ms. */
  publishTimeoutMs: number;
}

/** The rules one consumer applies to each of its messages, whatever handles them. */
export interface VerdictPolicy<T extends Message> {
  deps: VerdictDeps;
  event: EventType<T>;
  durable: string;
  maxDeliver: number;
  /** Redelivery delays in ms; see {@link retryDelayMs}. */
  backoffMs: readonly number[];
  jitter: number;
  /** Subjects to keep when the server could not filter them (older servers); others are acked unseen. */
  clientFilter: Set<string> | undefined;
}

/** The rules one consumer applies to each of its messages, and its per-message handler. */
export interface MessagePolicy<T extends Message> extends VerdictPolicy<T> {
  handler: EventHandler<T>;
}

const tracer = trace.getTracer('nepse-events');

/** Runs the handler on one message and settles it (ack, nak, or dead-letter + term). Never throws. */
export async function processMessage<T extends Message>(policy: MessagePolicy<T>, m: JsMsg): Promise<void> {
  const { event, durable, deps } = policy;
  if (policy.clientFilter && !policy.clientFilter.has(m.subject)) {
    m.ack(); // not ours: the server had to send it only because it could not filter
    return;
  }
  const deliveryCount = m.info.deliveryCount;
  if (deliveryCount > 1) emit(() => deps.metrics.onRedelivered?.(event.name, durable));
  let message: T;
  try {
    message = decodeEvent(event, m.data);
  } catch (err) {
    // Poison: no number of retries will make these bytes decode.
    await deadLetter(policy, m, describeError(err), 'decode');
    return;
  }
  const delivery = deliveryOf(event, durable, m);
  // The pull loop's own context is whatever was active at consume(): start from the root so
  // handlers see only the publisher's trace.
  const parent = extractTraceContext(m.headers, ROOT_CONTEXT);
  const span = tracer.startSpan(
    `process ${event.name}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.name': m.subject,
        'messaging.consumer.group.name': durable,
        'messaging.message.id': delivery.msgId ?? '',
        'nepse.event.delivery_count': deliveryCount,
      },
    },
    parent,
  );
  const started = performance.now();
  try {
    await context.with(trace.setSpan(parent, span), () => policy.handler(message, delivery));
    m.ack();
    emit(() => deps.metrics.onConsumed?.(event.name, durable, performance.now() - started));
  } catch (err) {
    emit(() => deps.metrics.onFailed?.(event.name, durable, performance.now() - started));
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
    await settleFailure(policy, m, err);
  } finally {
    span.end();
  }
}

/** What a handler is told about message `m`. */
export function deliveryOf<T extends Message>(event: EventType<T>, durable: string, m: JsMsg): Delivery {
  return {
    event: event.name,
    durable,
    subject: m.subject,
    key: keyOfSubject(event, m.subject) ?? '',
    seq: m.seq,
    deliveryCount: m.info.deliveryCount,
    msgId: m.headers?.get(EventHeaders.msgId) || undefined,
    headers: headersToRecord(m.headers),
    publishedAt: new Date(Math.floor(m.info.timestampNanos / 1e6)),
  };
}

/**
 * The verdict on a message whose handling failed with `err`: dead-lettered when rejected or on its
 * last allowed delivery, else nak'd for redelivery after a jittered backoff. Never throws.
 */
export async function settleFailure<T extends Message>(policy: VerdictPolicy<T>, m: JsMsg, err: unknown): Promise<void> {
  const { event, durable, deps } = policy;
  const deliveryCount = m.info.deliveryCount;
  const rejected = err instanceof EventRejectedError;
  if (rejected || deliveryCount >= policy.maxDeliver) {
    await deadLetter(policy, m, describeError(err), rejected ? 'rejected' : 'handler-failed');
  } else {
    const delayMs = retryDelayMs(deliveryCount, policy.backoffMs, policy.jitter);
    deps.logger.warn(
      { event: event.name, durable, seq: m.seq, deliveryCount, delayMs, err: describeError(err) },
      'handler failed; redelivering later',
    );
    m.nak(delayMs);
  }
}

/** Copies the message to the dead-letter stream, then terms it so it is never redelivered. */
export async function deadLetter<T extends Message>(
  policy: VerdictPolicy<T>,
  m: JsMsg,
  error: string,
  reason: DeadLetterReason,
): Promise<void> {
  const { event, durable, deps } = policy;
  const deliveryCount = m.info.deliveryCount;
  const where = { event: event.name, durable, seq: m.seq, deliveryCount, reason };
  try {
    const ack = await publishDeadLetter(
      deps.js,
      event,
      {
        stream: EVENTS_STREAM,
        durable,
        seq: m.seq,
        subject: m.subject,
        data: m.data,
        headers: m.headers,
        error,
        deliveries: deliveryCount,
      },
      deps.publishTimeoutMs,
    );
    // No reason text: servers before 2.10 match "+TERM" exactly and ignore "+TERM <reason>".
    m.term();
    if (!ack.duplicate) emit(() => deps.metrics.onDeadLettered?.(event.name, durable, reason));
    deps.logger.warn({ ...where, err: headerSafe(error) }, 'dead-lettered');
  } catch (err) {
    // Nak rather than term: the message is not lost. Either a later delivery retries the copy,
    // or (deliveries exhausted) the server's max-deliveries advisory makes the listener copy it.
    deps.logger.error({ ...where, err: describeError(err) }, 'could not dead-letter; will retry');
    m.nak(retryDelayMs(deliveryCount, policy.backoffMs, policy.jitter));
  }
}
