import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { isModelName, MODEL_NAME_PATTERN } from '../../lib/market/index.js';

/** The alias GetModel understands as "the latest version", never stored. */
export const LATEST_ALIAS = 'latest';

/** Longest actor (who made a change) accepted, in characters. */
export const MAX_ACTOR_CHARS = 200;
/** Longest reason accepted, in characters (registry.proto). */
export const MAX_REASON_CHARS = 1000;

const quoted = (value: string) => JSON.stringify(value.length > 70 ? `${value.slice(0, 70)}…` : value);

/** A model name; INVALID_ARGUMENT naming `field` when missing or malformed. */
export function requireModelName(value: string, field = 'name'): string {
  if (value === '') throw new InvalidArgumentError({ field, description: 'model name is required' });
  if (!isModelName(value)) {
    throw new InvalidArgumentError({ field, description: `model name ${quoted(value)} must match ${MODEL_NAME_PATTERN.source}` });
  }
  return value;
}

/** An optional model name filter: empty means every name. */
export function optionalModelName(value: string, field = 'name'): string | undefined {
  return value === '' ? undefined : requireModelName(value, field);
}

/** An alias to set or read; `latest` is reserved unless `allowLatest`. */
export function requireAlias(value: string, field = 'alias', allowLatest = false): string {
  if (value === '') throw new InvalidArgumentError({ field, description: 'alias is required' });
  if (!isModelName(value))
    throw new InvalidArgumentError({ field, description: `alias ${quoted(value)} must match ${MODEL_NAME_PATTERN.source}` });
  if (value === LATEST_ALIAS && !allowLatest)
    throw new InvalidArgumentError({ field, description: `"${LATEST_ALIAS}" is reserved: it always means the latest version` });
  return value;
}

/** A version number >= 1 (or >= 0 when `zeroAllowed`). */
export function requireVersion(value: number, field = 'version', zeroAllowed = false): number {
  const min = zeroAllowed ? 0 : 1;
  if (!Number.isInteger(value) || value < min)
    throw new InvalidArgumentError({
      field,
      description: `must be ${min === 0 ? '0 or more' : 'a version number, 1 or more'}, got ${value}`,
    });
  return value;
}

/** Who made a change: required, trimmed, bounded. */
export function requireActor(value: string, field = 'actor'): string {
  const actor = value.trim();
  if (actor === '')
    throw new InvalidArgumentError({
      field,
      description: 'who makes the change is required (a user, an API key principal, or a service such as "training")',
    });
  if (actor.length > MAX_ACTOR_CHARS)
    throw new InvalidArgumentError({ field, description: `at most ${MAX_ACTOR_CHARS} characters, got ${actor.length}` });
  return actor;
}

/** A free-text field bounded to `max` characters. */
export function boundedText(value: string, field: string, max: number): string {
  if (value.length > max) throw new InvalidArgumentError({ field, description: `at most ${max} characters, got ${value.length}` });
  return value;
}

/** A value that must be a finite number (no NaN or Infinity enters the registry). */
export function requireFinite(value: number, field: string): number {
  if (!Number.isFinite(value)) throw new InvalidArgumentError({ field, description: `must be a finite number, got ${value}` });
  return value;
}
