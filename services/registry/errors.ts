import { DomainError, grpc, UnavailableError, type ServiceImplementation } from '../../lib/grpc/index.js';
import { DatabaseUnavailableError, isSerializationFailure, isUniqueViolation } from '../../lib/postgres/index.js';
import { ArtifactIntegrityError } from './artifacts.js';

/** A concurrent change got in the way; the same call may simply be made again (ABORTED). */
export class ConcurrentChangeError extends DomainError {
  readonly code = grpc.status.ABORTED;
  readonly reason = 'CONCURRENT_CHANGE';
}

/** A stored artifact is missing or does not match its checksum (DATA_LOSS). */
export class ArtifactLostError extends DomainError {
  readonly code = grpc.status.DATA_LOSS;
  readonly reason = 'ARTIFACT_LOST';
}

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
  if (isSerializationFailure(error) || isUniqueViolation(error)) return new ConcurrentChangeError('a concurrent change to the same model got in the way; try again');
  if (error instanceof ArtifactIntegrityError) return new ArtifactLostError(error.message);
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && NATS_UNAVAILABLE.test(code)) return new UnavailableError(`the artifact store is unavailable: ${(error as Error).message}`, 1_000);
  return error;
}

type Handler = (...args: never[]) => unknown;

/** A unary or client-streaming handler whose failures go through {@link toDomainError}. */
function mapped(fn: Handler): Handler {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      throw toDomainError(error);
    }
  };
}

/** A server-streaming handler whose failures go through {@link toDomainError}. */
function mappedStream(fn: Handler): Handler {
  return async function* (...args) {
    try {
      yield* fn(...args) as AsyncIterable<unknown>;
    } catch (error) {
      throw toDomainError(error);
    }
  };
}

/** The same service with every handler's failures mapped by {@link toDomainError}. */
export function withDomainErrors(implementation: ServiceImplementation): ServiceImplementation {
  const handlers: Record<string, Handler> = {};
  for (const method of implementation.service.methods) {
    const handler = implementation.handlers[method.localName];
    handlers[method.localName] = method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming' ? mappedStream(handler) : mapped(handler);
  }
  return { service: implementation.service, handlers };
}
