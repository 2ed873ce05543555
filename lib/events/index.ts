/**
 * lib/events: JetStream events for the mesh — typed protobuf publish/consume, streams and durable
 * consumers declared in code, bounded redelivery, dead letters, trace context in headers.
 * Test helpers (a private nats-server) live apart in `./testing.js`.
 */
export { DEFAULT_BACKOFF_MS, DEFAULT_JITTER, retryDelayMs } from './backoff.js';
export {
  connectEvents,
  type ConnectEventsOptions,
  type ConsumerLag,
  type EventBus,
  type PublishOptions,
  type PublishResult,
} from './bus.js';
export type {
  BatchHandler,
  BatchItem,
  ConsumeBatchOptions,
  ConsumeOptions,
  Delivery,
  EventHandler,
  EventSubscription,
} from './consumer.js';
export { deadLetterMsgId, maxDeliveriesAdvisorySubject } from './dead-letter.js';
export {
  EventBusClosedError,
  EventConfigError,
  EventDecodeError,
  EventError,
  EventKeyError,
  EventNameError,
  EventPublishError,
  EventRejectedError,
} from './errors.js';
export {
  DEAD_LETTER_SUBJECT_PREFIX,
  EVENT_SUBJECT_PREFIX,
  NO_KEY,
  deadLetterSubject,
  decodeEvent,
  defineEvent,
  eventFilterSubjects,
  eventSubject,
  keyOfSubject,
  normaliseKey,
  type EventType,
} from './event-type.js';
export { EventHeaders, extractTraceContext, injectTraceContext, PROTOBUF_CONTENT_TYPE } from './headers.js';
export type { DeadLetterReason, EventMetrics, EventsLogger } from './observe.js';
export { DEAD_LETTER_STREAM, EVENTS_STREAM, ensureStreams, type EnsuredStream, type StreamOptions } from './streams.js';
export { natsCheck } from './readiness.js';
export { EventConnectError } from './connect.js';
