/** Recognising the JetStream API errors the kit reacts to, by code rather than by text. */
import { NatsError } from 'nats';

// JetStream API error codes (server `errors.json`): stable across server versions.
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const NO_MESSAGE_FOUND = 10037;
const CODES = { stream: STREAM_NOT_FOUND, consumer: CONSUMER_NOT_FOUND, message: NO_MESSAGE_FOUND } as const;
const TEXTS = { stream: 'stream not found', consumer: 'consumer not found', message: 'no message found' } as const;

/** True when `err` says the stream, consumer or stored message does not exist. */
export function isNotFound(err: unknown, what: keyof typeof CODES): boolean {
  if (!(err instanceof NatsError)) return false;
  const code = err.api_error?.err_code;
  if (code !== undefined) return code === CODES[what];
  return err.message.toLowerCase() === TEXTS[what];
}

/** A short, single-line description of any thrown value, for logs and headers. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
