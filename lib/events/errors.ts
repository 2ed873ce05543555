/**
 * Named error classes of the events kit, so callers can branch on `instanceof`
 * instead of parsing messages (the same idea as nats.js `jserrors.ts`).
 */

/** Base class of every error the events kit throws on purpose. */
export class EventError extends Error {
  override readonly name: string = 'EventError';
}

/** An event name is not a valid dot-separated, lower-case NATS subject fragment. */
export class EventNameError extends EventError {
  override readonly name = 'EventNameError';
}

/**
 * A key (symbol) cannot be a NATS subject token: empty, too long, or holding `.`, `*`, `>`,
 * whitespace or other characters outside `[A-Z0-9_-]` after upper-casing.
 */
export class EventKeyError extends EventError {
  override readonly name = 'EventKeyError';
  constructor(
    message: string,
    /** The key exactly as the caller passed it. */
    readonly key: unknown,
  ) {
    super(message);
  }
}

/** A payload could not be decoded as the event's protobuf message (a poison message). */
export class EventDecodeError extends EventError {
  override readonly name = 'EventDecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A stream, consumer or option is configured in a way the kit or the server cannot honour. */
export class EventConfigError extends EventError {
  override readonly name = 'EventConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A publish was not acknowledged by JetStream (timeout, no stream for the subject, …). */
export class EventPublishError extends EventError {
  override readonly name = 'EventPublishError';
  constructor(
    message: string,
    /** The subject the publish was sent to. */
    readonly subject: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Throw this from a handler when retrying cannot help (the message is valid protobuf but
 * semantically wrong): the message is dead-lettered at once instead of after `maxDeliver`
 * attempts.
 */
export class EventRejectedError extends EventError {
  override readonly name = 'EventRejectedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The bus is closing or closed: no new consumers. */
export class EventBusClosedError extends EventError {
  override readonly name = 'EventBusClosedError';
}
