import { AbortedError, DataLossError, DomainError, mapErrors, UnavailableError, type ServiceImplementation } from '../../lib/grpc/index.js';
import { DatabaseUnavailableError, isSerializationFailure, isUniqueViolation } from '../../lib/postgres/index.js';
import { ArtifactIntegrityError } from './artifacts.js';

/** NATS client failures that mean "not reachable now" rather than a verdict. */
const NATS_UNAVAILABLE = /TIMEOUT|CONNECTION_CLOSED|CONNECTION_DRAINING|DISCONNECT|503|no responders|timeout/i;

/**
 * The one place infrastructure failures become statuses: database or NATS down → UNAVAILABLE
 * (retryable), a lost race on a constraint → ABORTED, a damaged artifact → DATA_LOSS. Domain
 * errors pass through; anything else stays INTERNAL.
 */
export function toDomainError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (error instanceof DatabaseUnavailableError) return new UnavailableError(`the registry database is unavailable: ${error.message}`, 1_000);
  if (isSerializationFailure(error) || isUniqueViolation(error)) return new AbortedError('a concurrent change to the same model got in the way; try again', 'CONCURRENT_CHANGE');
  if (error instanceof ArtifactIntegrityError) return new DataLossError(error.message, 'ARTIFACT_LOST');
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && NATS_UNAVAILABLE.test(code)) return new UnavailableError(`the artifact store is unavailable: ${(error as Error).message}`, 1_000);
  return error;
}

/** The same service with every handler's failures mapped by {@link toDomainError}. */
export function withDomainErrors(implementation: ServiceImplementation): ServiceImplementation {
  return mapErrors(implementation, toDomainError);
}
