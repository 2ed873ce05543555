import { AbortedError, asDomainError, DataLossError, DomainError, mapErrors, type ServiceImplementation } from '../../lib/grpc/index.js';
import { isSerializationFailure, isUniqueViolation } from '../../lib/postgres/index.js';
import { ArtifactIntegrityError } from './artifacts.js';

/**
 * The registry's own readings of failures: a lost race on a constraint → ABORTED, a damaged
 * artifact → DATA_LOSS. The database or NATS being down is the kit's one mapping
 * (asDomainError → UNAVAILABLE naming the dependency), as in every service; anything else stays
 * INTERNAL.
 */
export function toDomainError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (isSerializationFailure(error) || isUniqueViolation(error))
    return new AbortedError('a concurrent change to the same model got in the way; try again', 'CONCURRENT_CHANGE');
  if (error instanceof ArtifactIntegrityError) return new DataLossError(error.message, 'ARTIFACT_LOST');
  return asDomainError(error);
}

/** The same service with every handler's failures mapped by {@link toDomainError}. */
export function withDomainErrors(implementation: ServiceImplementation): ServiceImplementation {
  return mapErrors(implementation, toDomainError);
}
