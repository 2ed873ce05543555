/**
 * One conversion of every error the gateway meets into what its callers receive: an upstream
 * service's gRPC status keeps its code, message and google.rpc details byte for byte; the kit's
 * domain errors get the same details a mesh service would send; anything else is INTERNAL with
 * nothing leaked.
 */
import { create, fromBinary } from '@bufbuild/protobuf';
import { anyPack, type Any } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { ErrorInfoSchema, RetryInfoSchema } from '../../gen/google/rpc/error_details_pb.js';
import { StatusSchema, type Status } from '../../gen/google/rpc/status_pb.js';
import { DomainError, isServiceError, toStatus } from '../../lib/grpc/index.js';
import { ERROR_DOMAIN } from '../../lib/grpc/errors.js';

const DETAILS_KEY = 'grpc-status-details-bin';

/** A ConnectError carrying a google.rpc.Status as it is: code, message and every detail. */
export function fromStatus(status: Status, cause?: unknown): ConnectError {
  const error = new ConnectError(status.message, status.code as Code, undefined, undefined, cause);
  for (const detail of status.details) error.details.push({ type: typeNameOf(detail), value: detail.value });
  return error;
}

/** `type.googleapis.com/google.rpc.BadRequest` → `google.rpc.BadRequest`. */
function typeNameOf(any: Any): string {
  return any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
}

/** What the gateway's caller receives for `error`; see the file comment. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (isServiceError(error)) {
    const raw = error.metadata.get(DETAILS_KEY)[0];
    if (raw && typeof raw !== 'string') return fromStatus(fromBinary(StatusSchema, raw), error);
    return new ConnectError(error.details, error.code as number as Code, undefined, undefined, error);
  }
  if (error instanceof DomainError) return fromStatus(toStatus(error), error);
  return new ConnectError('internal error', Code.Internal, undefined, undefined, error);
}

/** A refusal of the gateway's own (UNAUTHENTICATED, PERMISSION_DENIED, …) with an ErrorInfo naming the reason. */
export function refusal(code: Code, reason: string, message: string, metadata: Record<string, string> = {}): ConnectError {
  const details = [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason, domain: ERROR_DOMAIN, metadata }))];
  return fromStatus(create(StatusSchema, { code, message, details }));
}

/** RESOURCE_EXHAUSTED with google.rpc.RetryInfo: try again after `retryAfterMs`. */
export function exhausted(reason: string, message: string, retryAfterMs: number): ConnectError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  const retryDelay = { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
  const details = [
    anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason, domain: ERROR_DOMAIN })),
    anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay })),
  ];
  return fromStatus(create(StatusSchema, { code: Code.ResourceExhausted, message, details }));
}
