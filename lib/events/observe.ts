/**
 * The two seams through which the events kit reports what happens: a logger (pino fits) and
 * metric hooks. Both are plain interfaces so lib/events depends on neither pino nor prom-client;
 * the telemetry layer plugs its own in.
 */

/** How far a durable consumer is behind. Counts are messages. */
export interface ConsumerLag {
  /** Stored messages matching the filter not yet delivered. */
  pending: number;
  /** Delivered and awaiting a verdict. */
  ackPending: number;
  /** Delivered more than once and still awaiting a verdict. */
  redelivered: number;
  /** `pending + ackPending`: the number to alert on. */
  total: number;
}

/** Why a message went to the dead-letter stream. */
export type DeadLetterReason =
  /** The handler failed on the last allowed delivery. */
  | 'handler-failed'
  /** The handler threw EventRejectedError: retrying cannot help. */
  | 'rejected'
  /** The payload is not the event's protobuf message (poison message). */
  | 'decode'
  /** Deliveries ran out without a handler verdict (ack timeouts, crashed consumer). */
  | 'max-deliveries';

/** Structured logger: pino's `Logger` satisfies it. */
export interface EventsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Metric hooks, all optional. Called synchronously on the hot path: keep them cheap (increment
 * a counter). A hook that throws is ignored, so metrics can never break event flow.
 */
export interface EventMetrics {
  /**
   * A durable consumer started on `stream`; `lag` asks the server how far behind it is (a
   * network round trip: call it when someone looks, e.g. at scrape time, not per message).
   */
  onConsumerStarted?(stream: string, durable: string, lag: () => Promise<ConsumerLag>): void;
  /** The durable consumer stopped (its lag is no longer this process's to report). */
  onConsumerStopped?(stream: string, durable: string): void;
  /** A publish was acknowledged by JetStream; `duplicate` when deduplicated by `Nats-Msg-Id`. */
  onPublished?(event: string, duplicate: boolean): void;
  /** A handler succeeded and the message was acked; `durationMs` is the handler's run time. */
  onConsumed?(event: string, durable: string, durationMs: number): void;
  /** A handler threw (each failed attempt, including the last). */
  onFailed?(event: string, durable: string, durationMs: number): void;
  /** A message arrived with a delivery count above 1 (after a nak or an ack timeout). */
  onRedelivered?(event: string, durable: string): void;
  /** A message was copied to the dead-letter stream (counted once per message, not per copy attempt). */
  onDeadLettered?(event: string, durable: string, reason: DeadLetterReason): void;
}

/** A logger that writes warnings and errors to stderr as JSON and drops the rest. */
export const stderrLogger: EventsLogger = {
  debug() {},
  info() {},
  warn(obj, msg) {
    console.warn(JSON.stringify({ level: 'warn', ...obj, msg }));
  },
  error(obj, msg) {
    console.error(JSON.stringify({ level: 'error', ...obj, msg }));
  },
};

/**
 * Runs a metric hook call, swallowing whatever it throws. Takes a thunk rather than the hook so
 * the hook keeps its `this` (metrics objects are often class instances).
 */
export function emit(call: () => void): void {
  try {
    call();
  } catch {
    // Metrics are best effort by design: a broken exporter must not nak good messages.
  }
}
