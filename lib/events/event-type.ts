/**
 * Event types and the subject scheme: `nepse.v1.<event name>.<KEY>` for events and
 * `nepse.dlq.<durable>.<event name>` for dead letters. Every string that becomes a subject
 * token is validated here, because NATS silently treats `.`, `*` and `>` as structure.
 */
import { fromBinary, type DescMessage, type Message, type MessageShape } from '@bufbuild/protobuf';
import { EventConfigError, EventDecodeError, EventKeyError, EventNameError } from './errors.js';

/** Prefix of every event subject; the version is the event contract version (proto package v1). */
export const EVENT_SUBJECT_PREFIX = 'nepse.v1';
/** Prefix of every dead-letter subject. */
export const DEAD_LETTER_SUBJECT_PREFIX = 'nepse.dlq';
/** The key of an event that is not about one symbol. */
export const NO_KEY = '_';

/** Longest key accepted, in characters (symbols are short; this only stops garbage). */
const MAX_KEY_LENGTH = 64;
const KEY_PATTERN = /^[A-Z0-9][A-Z0-9_-]*$/;
const NAME_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;
// Durable names end up as file names in the server's store, so path separators are out too.
const DURABLE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A typed event: a name (which fixes its subjects) and the protobuf schema of its payload.
 * Create with {@link defineEvent}; `T` is the protobuf-es message type of the payload.
 */
export interface EventType<T extends Message = Message> {
  /** Dot-separated lower-case name, e.g. `bars.ingested`. */
  readonly name: string;
  /** protobuf-es v2 descriptor of the payload message. */
  readonly schema: DescMessage;
  /** `nepse.v1.<name>`: the subject of a keyed event is this plus `.<KEY>`. */
  readonly subjectPrefix: string;
  /** Type-only brand tying the event to its payload type; never set at run time. */
  readonly __payload?: T;
}

/**
 * Declares an event type.
 *
 * @example
 * export const barsIngested = defineEvent({ name: 'bars.ingested', schema: BarsIngestedSchema });
 * @throws EventNameError when `name` is not lower-case dot-separated tokens of `[a-z0-9_-]`.
 */
export function defineEvent<Desc extends DescMessage>(definition: { name: string; schema: Desc }): EventType<MessageShape<Desc>> {
  const { name, schema } = definition;
  if (typeof name !== 'string' || name.length > 128 || !NAME_PATTERN.test(name)) {
    throw new EventNameError(
      `invalid event name ${JSON.stringify(name)}: use lower-case tokens of [a-z0-9_-] separated by dots, e.g. "bars.ingested"`,
    );
  }
  if (schema?.kind !== 'message') {
    throw new EventNameError(`event ${name}: schema must be a protobuf-es message descriptor`);
  }
  return Object.freeze({ name, schema, subjectPrefix: `${EVENT_SUBJECT_PREFIX}.${name}` });
}

/**
 * Decodes a binary payload as the event's message.
 * @throws EventDecodeError when the bytes are not that message (a poison message).
 */
export function decodeEvent<T extends Message>(event: EventType<T>, data: Uint8Array): T {
  try {
    return fromBinary(event.schema, data) as T;
  } catch (err) {
    throw new EventDecodeError(
      `payload of ${event.name} is not a valid ${event.schema.typeName}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * Normalises a key to its subject form: trimmed and upper-cased. `_` ({@link NO_KEY}) stands for
 * "no symbol". Keys that would change subject structure are rejected rather than rewritten,
 * because rewriting (say `BRK.B` → `BRK_B`) could merge two symbols into one subject.
 *
 * @throws EventKeyError when the key is empty, longer than 64 characters, or holds characters
 *   outside `[A-Z0-9_-]` (this covers `.`, `*`, `>` and whitespace).
 */
export function normaliseKey(key: string): string {
  if (typeof key !== 'string') throw new EventKeyError('event key must be a string', key);
  const k = key.trim().toUpperCase();
  if (k === NO_KEY) return k;
  if (k.length === 0) throw new EventKeyError('event key is empty (use "_" for events without a symbol)', key);
  if (k.length > MAX_KEY_LENGTH) {
    throw new EventKeyError(`event key longer than ${MAX_KEY_LENGTH} characters`, key);
  }
  if (!KEY_PATTERN.test(k)) {
    throw new EventKeyError(`invalid event key ${JSON.stringify(key)}: only A-Z, 0-9, "_" and "-" may appear in a subject token`, key);
  }
  return k;
}

/** The subject an event with this key is published on: `nepse.v1.<name>.<KEY>`. */
export function eventSubject(event: EventType<Message>, key: string): string {
  return `${event.subjectPrefix}.${normaliseKey(key)}`;
}

/**
 * Consumer filter subjects for an event: one per key, or `nepse.v1.<name>.*` (every key) when
 * `keys` is empty or absent. Duplicate keys collapse.
 */
export function eventFilterSubjects(event: EventType<Message>, keys?: readonly string[]): string[] {
  if (!keys || keys.length === 0) return [`${event.subjectPrefix}.*`];
  return [...new Set(keys.map((k) => eventSubject(event, k)))];
}

/**
 * The key of an event subject (its last token), or `undefined` when the subject does not belong
 * to the event.
 */
export function keyOfSubject(event: EventType<Message>, subject: string): string | undefined {
  const prefix = `${event.subjectPrefix}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const key = subject.slice(prefix.length);
  return key.length > 0 && !key.includes('.') ? key : undefined;
}

/** Validates a durable consumer name (it is a subject token and a file name on the server). */
export function validateDurable(durable: string): string {
  if (typeof durable !== 'string' || !DURABLE_PATTERN.test(durable)) {
    throw new EventConfigError(`invalid durable name ${JSON.stringify(durable)}: use 1-64 characters of [A-Za-z0-9_-]`);
  }
  return durable;
}

/** Where a consumer's dead letters for an event go: `nepse.dlq.<durable>.<event name>`. */
export function deadLetterSubject(durable: string, event: EventType<Message>): string {
  return `${DEAD_LETTER_SUBJECT_PREFIX}.${validateDurable(durable)}.${event.name}`;
}
