/**
 * The verdict on a batch of delivered messages handed to one handler call: success → every message
 * acked (only then: what the handler wrote is durable before the server forgets the messages);
 * failure → each message's own verdict, as for a single message (nak with backoff, or dead-letter
 * on its last allowed delivery or a rejection). A payload that does not decode is dead-lettered on
 * its own and left out of the batch.
 *
 * A redelivered message is handled alone: a message that always fails the handler costs its first
 * batch one retry, then fails by itself until it is dead-lettered while the rest go through.
 * Handlers must be idempotent: after a failure, or an ack lost on the way, what a batch already
 * wrote is written again.
 */
import type { Message } from '@bufbuild/protobuf';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Context, type Span } from '@opentelemetry/api';
import type { JsMsg } from 'nats';
import { decodeEvent } from './event-type.js';
import { extractTraceContext } from './headers.js';
import { describeError } from './nats-errors.js';
import { emit } from './observe.js';
import { deadLetter, deliveryOf, settleFailure, type Delivery, type VerdictPolicy } from './process-message.js';

/** One message of a batch: its decoded payload and what is known about its delivery. */
export interface BatchItem<T extends Message> {
  readonly message: T;
  readonly delivery: Delivery;
}

/**
 * Processes a batch, in stream order. Resolve to ack every message; throw to retry them all
 * (each then comes back alone), or {@link EventRejectedError} to dead-letter them all.
 */
export type BatchHandler<T extends Message> = (items: readonly BatchItem<T>[]) => Promise<void>;

/** The rules one consumer applies to its messages, and its batch handler. */
export interface BatchPolicy<T extends Message> extends VerdictPolicy<T> {
  handler: BatchHandler<T>;
}

const tracer = trace.getTracer('nepse-events');

/**
 * Handles messages taken from the pull buffer together: first deliveries as one batch, then each
 * redelivered message alone. Settles every message; never throws.
 */
export async function processGathered<T extends Message>(policy: BatchPolicy<T>, messages: readonly JsMsg[]): Promise<void> {
  const first: JsMsg[] = [];
  const again: JsMsg[] = [];
  for (const m of messages) (m.info.deliveryCount > 1 ? again : first).push(m);
  if (first.length > 0) await processBatch(policy, first);
  for (const m of again) await processBatch(policy, [m]);
}

async function processBatch<T extends Message>(policy: BatchPolicy<T>, messages: readonly JsMsg[]): Promise<void> {
  const { event, durable, deps } = policy;
  const items: BatchItem<T>[] = [];
  const taken: JsMsg[] = [];
  for (const m of messages) {
    if (policy.clientFilter && !policy.clientFilter.has(m.subject)) {
      m.ack(); // not ours: the server had to send it only because it could not filter
      continue;
    }
    if (m.info.deliveryCount > 1) emit(() => deps.metrics.onRedelivered?.(event.name, durable));
    let message: T;
    try {
      message = decodeEvent(event, m.data);
    } catch (err) {
      // Poison: no number of retries will make these bytes decode, and the rest need not wait.
      await deadLetter(policy, m, describeError(err), 'decode');
      continue;
    }
    items.push({ message, delivery: deliveryOf(event, durable, m) });
    taken.push(m);
  }
  if (items.length === 0) return;

  const spans = startSpans(policy, taken);
  const started = performance.now();
  try {
    await context.with(trace.setSpan(spans.parent, spans.first), () => policy.handler(items));
    for (const m of taken) m.ack();
    const elapsed = performance.now() - started;
    for (let i = 0; i < taken.length; i++) emit(() => deps.metrics.onConsumed?.(event.name, durable, elapsed));
  } catch (err) {
    const elapsed = performance.now() - started;
    for (let i = 0; i < taken.length; i++) emit(() => deps.metrics.onFailed?.(event.name, durable, elapsed));
    for (const span of spans.all) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
    }
    await Promise.all(taken.map((m) => settleFailure(policy, m, err)));
  } finally {
    for (const span of spans.all) span.end();
  }
}

/**
 * One consumer span per publisher trace in the batch, each a child of that trace, so a trace still
 * follows every event across the hop. The handler runs under the first of them.
 */
function startSpans<T extends Message>(policy: BatchPolicy<T>, messages: readonly JsMsg[]): { parent: Context; first: Span; all: Span[] } {
  const groups = new Map<string, JsMsg[]>();
  for (const m of messages) {
    // W3C trace context: messages of one trace carry the same header ('' when none is set).
    const key = m.headers?.get('traceparent') ?? '';
    const group = groups.get(key);
    if (group) group.push(m);
    else groups.set(key, [m]);
  }
  const all: Span[] = [];
  let parent: Context = ROOT_CONTEXT;
  for (const group of groups.values()) {
    // Start from the root, not the pull loop's context: handlers see only the publisher's trace.
    const from = extractTraceContext(group[0].headers, ROOT_CONTEXT);
    if (all.length === 0) parent = from;
    all.push(
      tracer.startSpan(
        `process ${policy.event.name}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'nats',
            'messaging.operation.type': 'process',
            'messaging.destination.name': group[0].subject,
            'messaging.consumer.group.name': policy.durable,
            'messaging.batch.message_count': messages.length,
            'nepse.event.batch_messages_in_trace': group.length,
          },
        },
        from,
      ),
    );
  }
  return { parent, first: all[0], all };
}
