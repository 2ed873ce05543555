/**
 * Dead letters. JetStream has no dead-letter queue of its own, so the kit copies a message that
 * will never be processed to `nepse.dlq.<durable>.<event>` in NEPSE_DEAD_LETTERS, from two
 * places: the consumer itself (handler failed on the last delivery, rejected, or undecodable
 * payload) and the server's max-deliveries advisory (deliveries ran out with no verdict: ack
 * timeouts, a crashed process). Both copies of one message carry the same `Nats-Msg-Id`, so
 * JetStream keeps exactly one.
 */
import type { Message } from '@bufbuild/protobuf';
import type { JetStreamClient, JetStreamManager, MsgHdrs, NatsConnection, PubAck, Subscription } from 'nats';
import { deadLetterSubject, keyOfSubject, type EventType } from './event-type.js';
import { EventHeaders, copyUserHeaders, headerSafe } from './headers.js';
import { describeError, isNotFound } from './nats-errors.js';
import { emit, type EventMetrics, type EventsLogger } from './observe.js';

/** Everything needed to dead-letter one stored message. */
export interface DeadLetterInput {
  /** Stream the original message is stored in. */
  stream: string;
  /** Durable consumer that gave up on it. */
  durable: string;
  /** Stream sequence of the original message. */
  seq: number;
  /** Subject the original was published on. */
  subject: string;
  /** Original payload, copied unchanged. */
  data: Uint8Array;
  /** Original headers; JetStream's `Nats-*` ones are not carried over. */
  headers: MsgHdrs | undefined;
  /** Why: goes to the `Nepse-Error` header (one line, at most 1 KiB). */
  error: string;
  /** How many deliveries were made. */
  deliveries: number;
}

/**
 * The `Nats-Msg-Id` of a dead letter. The durable is part of it because two consumer groups may
 * both give up on the same stream message, and each must get its own copy.
 */
export function deadLetterMsgId(stream: string, durable: string, seq: number): string {
  return `dlq:${stream}:${durable}:${seq}`;
}

/** Publishes the dead-letter copy and answers JetStream's PubAck (`duplicate` if already there). */
export async function publishDeadLetter(
  js: JetStreamClient,
  event: EventType<Message>,
  input: DeadLetterInput,
  timeoutMs: number,
): Promise<PubAck> {
  const hdrs = copyUserHeaders(input.headers);
  const originalMsgId = input.headers?.get(EventHeaders.msgId);
  if (originalMsgId) hdrs.set(EventHeaders.originalMsgId, originalMsgId);
  hdrs.set(EventHeaders.error, headerSafe(input.error) || 'unknown error');
  hdrs.set(EventHeaders.originalSubject, input.subject);
  hdrs.set(EventHeaders.originalSeq, String(input.seq));
  hdrs.set(EventHeaders.consumer, input.durable);
  hdrs.set(EventHeaders.deliveries, String(input.deliveries));
  if (!hdrs.has(EventHeaders.event)) hdrs.set(EventHeaders.event, event.name);
  return js.publish(deadLetterSubject(input.durable, event), input.data, {
    msgID: deadLetterMsgId(input.stream, input.durable, input.seq),
    headers: hdrs,
    timeout: timeoutMs,
  });
}

/** Subject of the server advisory sent when a consumer's deliveries of a message run out. */
export function maxDeliveriesAdvisorySubject(stream: string, durable: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${durable}`;
}

/** The fields of `io.nats.jetstream.advisory.v1.max_deliver` that the kit reads. */
interface MaxDeliveriesAdvisory {
  stream?: string;
  consumer?: string;
  stream_seq?: number;
  deliveries?: number;
}

/** Dependencies of {@link listenForMaxDeliveries}. */
export interface AdvisoryDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  logger: EventsLogger;
  metrics: EventMetrics;
  publishTimeoutMs: number;
  /** Registers an in-flight copy so that stopping waits for it. */
  track(work: Promise<void>): void;
}

/**
 * Copies every message named by the max-deliveries advisory of `stream`/`durable` to the
 * dead-letter stream. The subscription is in a queue group per durable, so of N replicas of a
 * service one copies; the deterministic msg id covers the rest (say, a copy the consumer made
 * itself).
 */
export function listenForMaxDeliveries(deps: AdvisoryDeps, event: EventType<Message>, stream: string, durable: string): Subscription {
  return deps.nc.subscribe(maxDeliveriesAdvisorySubject(stream, durable), {
    queue: `nepse-dlq-${durable}`,
    callback: (err, msg) => {
      if (err) {
        deps.logger.error({ err: describeError(err), durable }, 'max-deliveries advisory subscription failed');
        return;
      }
      let advisory: MaxDeliveriesAdvisory;
      try {
        advisory = JSON.parse(new TextDecoder().decode(msg.data)) as MaxDeliveriesAdvisory;
      } catch (parseErr) {
        deps.logger.warn({ err: describeError(parseErr), durable }, 'unreadable max-deliveries advisory');
        return;
      }
      const seq = advisory.stream_seq;
      if (typeof seq !== 'number' || seq <= 0) return;
      deps.track(copyFromAdvisory(deps, event, stream, durable, seq, advisory.deliveries ?? 0));
    },
  });
}

async function copyFromAdvisory(
  deps: AdvisoryDeps,
  event: EventType<Message>,
  stream: string,
  durable: string,
  seq: number,
  deliveries: number,
): Promise<void> {
  const where = { event: event.name, durable, seq };
  try {
    let stored;
    try {
      stored = await deps.jsm.streams.getMessage(stream, { seq });
    } catch (err) {
      // Aged out or deleted before we got to it: nothing left to save.
      if (isNotFound(err, 'message')) {
        deps.logger.warn(where, 'message named by max-deliveries advisory is gone; not dead-lettered');
        return;
      }
      throw err;
    }
    if (keyOfSubject(event, stored.subject) === undefined) {
      deps.logger.warn({ ...where, subject: stored.subject }, 'advisory names a message of another event; skipped');
      return;
    }
    const ack = await publishDeadLetter(
      deps.js,
      event,
      {
        stream,
        durable,
        seq,
        subject: stored.subject,
        data: stored.data,
        headers: stored.header,
        error: `max deliveries (${deliveries}) reached without a handler verdict (ack timeout or consumer crash)`,
        deliveries,
      },
      deps.publishTimeoutMs,
    );
    if (!ack.duplicate) {
      emit(() => deps.metrics.onDeadLettered?.(event.name, durable, 'max-deliveries'));
      deps.logger.warn({ ...where, deliveries }, 'dead-lettered after max deliveries without verdict');
    }
  } catch (err) {
    deps.logger.error({ ...where, err: describeError(err) }, 'could not dead-letter message from advisory');
  }
}
