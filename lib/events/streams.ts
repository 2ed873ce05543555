/**
 * The two streams of the mesh, declared in code and reconciled at start-up: every event lives in
 * NEPSE_EVENTS, every dead letter in NEPSE_DEAD_LETTERS. Running `ensureStreams` again (another
 * replica starting, a redeploy with new limits) converges instead of failing.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, nanos, type JetStreamManager, type StreamConfig, type StreamInfo } from 'nats';
import { EventConfigError } from './errors.js';
import { DEAD_LETTER_SUBJECT_PREFIX, EVENT_SUBJECT_PREFIX } from './event-type.js';
import { isNotFound } from './nats-errors.js';

/** Name of the stream that stores every event (`nepse.v1.>`). */
export const EVENTS_STREAM = 'NEPSE_EVENTS';
/** Name of the stream that stores every dead letter (`nepse.dlq.>`). */
export const DEAD_LETTER_STREAM = 'NEPSE_DEAD_LETTERS';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** Limits of the two streams. Durations are milliseconds. */
export interface StreamOptions {
  /** Replicas per stream: 1 on a single local server, 3 in a cluster. Default 1. */
  replicas?: number;
  /** How long events are kept, in milliseconds. Default 7 days. */
  maxAgeMs?: number;
  /** Window in which a repeated `Nats-Msg-Id` is dropped as duplicate, in milliseconds. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** Largest size of the events stream, in bytes; oldest events go first. Default unlimited (-1). */
  maxBytes?: number;
  /** How long dead letters are kept, in milliseconds. Default 30 days (time to look and replay). */
  deadLetterMaxAgeMs?: number;
}

/** What {@link ensureStreams} did to one stream. */
export interface EnsuredStream {
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  info: StreamInfo;
}

/**
 * Creates or updates NEPSE_EVENTS and NEPSE_DEAD_LETTERS. Idempotent: an existing stream whose
 * limits already match is left alone; one whose limits differ is updated in place (stored
 * messages kept).
 *
 * @throws EventConfigError on nonsensical options, or when an existing stream uses memory
 *   storage (JetStream cannot change storage in place; delete the stream to switch).
 */
export async function ensureStreams(bus: { readonly jsm: JetStreamManager }, options: StreamOptions = {}): Promise<EnsuredStream[]> {
  const replicas = options.replicas ?? 1;
  const maxAgeMs = options.maxAgeMs ?? 7 * DAY_MS;
  const duplicateWindowMs = options.duplicateWindowMs ?? 2 * MINUTE_MS;
  const deadLetterMaxAgeMs = options.deadLetterMaxAgeMs ?? 30 * DAY_MS;
  const maxBytes = options.maxBytes ?? -1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new EventConfigError(`replicas must be an integer from 1 to 5, got ${replicas}`);
  }
  for (const [label, ms] of [
    ['maxAgeMs', maxAgeMs],
    ['duplicateWindowMs', duplicateWindowMs],
    ['deadLetterMaxAgeMs', deadLetterMaxAgeMs],
  ] as const) {
    if (!Number.isFinite(ms) || ms <= 0) throw new EventConfigError(`${label} must be a positive number of ms`);
  }
  // The server rejects a duplicate window longer than the retention; say why up front.
  if (duplicateWindowMs > maxAgeMs || duplicateWindowMs > deadLetterMaxAgeMs) {
    throw new EventConfigError('duplicateWindowMs must not exceed maxAgeMs or deadLetterMaxAgeMs');
  }

  const common = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    duplicate_window: nanos(duplicateWindowMs),
  };
  const events: Partial<StreamConfig> = {
    ...common,
    name: EVENTS_STREAM,
    description: 'NEPSE mesh domain events (protobuf payloads)',
    subjects: [`${EVENT_SUBJECT_PREFIX}.>`],
    max_age: nanos(maxAgeMs),
    max_bytes: maxBytes,
  };
  const deadLetters: Partial<StreamConfig> = {
    ...common,
    name: DEAD_LETTER_STREAM,
    description: 'NEPSE mesh events whose handlers gave up, per consumer',
    subjects: [`${DEAD_LETTER_SUBJECT_PREFIX}.>`],
    max_age: nanos(deadLetterMaxAgeMs),
  };
  return [await reconcile(bus.jsm, events), await reconcile(bus.jsm, deadLetters)];
}

async function reconcile(jsm: JetStreamManager, wanted: Partial<StreamConfig>): Promise<EnsuredStream> {
  const name = wanted.name as string;
  let current: StreamInfo;
  try {
    current = await jsm.streams.info(name);
  } catch (err) {
    if (!isNotFound(err, 'stream')) throw err;
    try {
      return { name, action: 'created', info: await jsm.streams.add(wanted) };
    } catch (addErr) {
      // Another replica may have created it between our info and add: fall through to compare.
      current = await jsm.streams.info(name).catch(() => {
        throw addErr;
      });
    }
  }
  if (current.config.storage !== wanted.storage) {
    throw new EventConfigError(
      `stream ${name} uses ${current.config.storage} storage, wanted ${wanted.storage}; JetStream cannot change storage in place`,
    );
  }
  if (sameLimits(current.config, wanted)) return { name, action: 'unchanged', info: current };
  const { name: _name, storage: _storage, ...changes } = wanted;
  return { name, action: 'updated', info: await jsm.streams.update(name, changes) };
}

function sameLimits(have: StreamConfig, want: Partial<StreamConfig>): boolean {
  const sorted = (a: readonly string[] = []) => [...a].sort().join('\n');
  return (
    sorted(have.subjects) === sorted(want.subjects) &&
    have.num_replicas === want.num_replicas &&
    have.max_age === want.max_age &&
    have.duplicate_window === want.duplicate_window &&
    have.retention === want.retention &&
    have.discard === want.discard &&
    (want.max_bytes === undefined || have.max_bytes === want.max_bytes) &&
    (want.description === undefined || have.description === want.description)
  );
}
