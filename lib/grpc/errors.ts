import { create, fromBinary, isMessage, toBinary } from '@bufbuild/protobuf';
import { anyPack, anyUnpack, type Any } from '@bufbuild/protobuf/wkt';
import { createRegistry } from '@bufbuild/protobuf';
import { StatusSchema, type Status } from '../../gen/google/rpc/status_pb.js';
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from '../../gen/google/rpc/error_details_pb.js';
import { dependencyOutage, storeOutOfSpace } from './dependency-outage.js';
import { grpc, type GrpcJs } from './grpc-js.js';

/** One invalid field of a request: the field's path (e.g. `bars[3].close`) and what is wrong. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * Base of every error a handler may throw on purpose. The gRPC layer turns it into a status
 * with `google.rpc.Status` details; a dependency outage becomes UNAVAILABLE ({@link asDomainError});
 * anything else becomes INTERNAL with no detail leaked.
 */
export abstract class DomainError extends Error {
  abstract readonly code: GrpcJs.status;
  /** Machine-readable reason, sent as google.rpc.ErrorInfo.reason (UPPER_SNAKE_CASE). */
  abstract readonly reason: string;
}

/** A request field is missing or malformed (INVALID_ARGUMENT with google.rpc.BadRequest). */
export class InvalidArgumentError extends DomainError {
  readonly code = grpc.status.INVALID_ARGUMENT;
  readonly reason = 'INVALID_ARGUMENT';
  readonly violations: FieldViolation[];
  constructor(violations: FieldViolation | FieldViolation[], message?: string) {
    const list = Array.isArray(violations) ? violations : [violations];
    super(message ?? list.map((v) => `${v.field}: ${v.description}`).join('; '));
    this.violations = list;
  }
}

/** A named resource does not exist (NOT_FOUND with google.rpc.ResourceInfo). */
export class NotFoundError extends DomainError {
  readonly code = grpc.status.NOT_FOUND;
  readonly reason = 'NOT_FOUND';
  constructor(
    readonly resourceType: string,
    readonly resourceName: string,
    message = `${resourceType} ${JSON.stringify(resourceName)} not found`,
  ) {
    super(message);
  }
}

/** The resource exists already and the call would create it again. */
export class AlreadyExistsError extends DomainError {
  readonly code = grpc.status.ALREADY_EXISTS;
  readonly reason = 'ALREADY_EXISTS';
}

/** One precondition a call needed (google.rpc.PreconditionFailure.Violation). */
export interface PreconditionViolation {
  /** Kind of precondition, UPPER_SNAKE_CASE, e.g. `STAGE_TRANSITION`. */
  type: string;
  /** What failed, relative to the type, e.g. `nepse-ridge/3`. */
  subject: string;
  /** How it failed and what would satisfy it. */
  description: string;
}

/**
 * The system is not in a state that allows the call (e.g. promoting an archived model); with
 * `violations`, sent as google.rpc.PreconditionFailure too.
 */
export class FailedPreconditionError extends DomainError {
  readonly code = grpc.status.FAILED_PRECONDITION;
  readonly reason: string;
  readonly violations: PreconditionViolation[];
  constructor(message: string, reason = 'FAILED_PRECONDITION', violations: PreconditionViolation[] = []) {
    super(message);
    this.reason = reason;
    this.violations = violations;
  }
}

/** A dependency is down; the caller may retry after `retryAfterMs`. */
export class UnavailableError extends DomainError {
  readonly code = grpc.status.UNAVAILABLE;
  readonly reason = 'UNAVAILABLE';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** A concurrent change got in the way; the same call may simply be made again (ABORTED, retryable). */
export class AbortedError extends DomainError {
  readonly code = grpc.status.ABORTED;
  readonly reason: string;
  constructor(message: string, reason = 'ABORTED') {
    super(message);
    this.reason = reason;
  }
}

/** Stored data is missing or damaged, e.g. an artifact that no longer matches its checksum (DATA_LOSS). */
export class DataLossError extends DomainError {
  readonly code = grpc.status.DATA_LOSS;
  readonly reason: string;
  constructor(message: string, reason = 'DATA_LOSS') {
    super(message);
    this.reason = reason;
  }
}

/** A limit was hit (payload too large, rate limit, queue full). */
export class ResourceExhaustedError extends DomainError {
  readonly code = grpc.status.RESOURCE_EXHAUSTED;
  readonly reason = 'RESOURCE_EXHAUSTED';
}

/** The domain every ErrorInfo names, so clients can tell our errors from a proxy's. */
export const ERROR_DOMAIN = 'nepse.mesh';

const DETAILS_KEY = 'grpc-status-details-bin';

/** How long a client is told to wait before retrying a call that met a dependency outage, in ms. */
const OUTAGE_RETRY_AFTER_MS = 1_000;

/**
 * The error a handler's failure stands for: a DomainError as it is; a store, database or bus that
 * cannot be reached (ClickHouse, chdb, PostgreSQL, PGlite, NATS, a refused or reset socket) as
 * UNAVAILABLE naming the dependency, so every service answers an outage the same retryable way;
 * a store whose disk is full as RESOURCE_EXHAUSTED naming it; anything else unchanged (it becomes INTERNAL).
 */
export function asDomainError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  // A full disk is not an outage a retry a second later gets past: RESOURCE_EXHAUSTED, as gRPC
  // defines it ("the entire file system is out of space"), so the operator frees room first.
  const full = storeOutOfSpace(error);
  if (full !== undefined) return new ResourceExhaustedError(`${full} is out of disk space; retry once there is room`);
  const outage = dependencyOutage(error);
  return outage ? new UnavailableError(`${outage.dependency} is unavailable: ${outage.reason}`, OUTAGE_RETRY_AFTER_MS) : error;
}

/**
 * Longest text of a status, in UTF-16 units: the message travels as the grpc-message header and
 * the details as grpc-status-details-bin, so a message echoing a megabyte of the request would
 * pass HTTP/2's header limit and break the client's connection instead of answering it.
 */
export const MAX_STATUS_TEXT = 1024;

/** `text` cut to {@link MAX_STATUS_TEXT} characters, marked as cut. */
function clip(text: string, max = MAX_STATUS_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The google.rpc.Status of an error: a DomainError's code, message and details (ErrorInfo plus
 * BadRequest, ResourceInfo or RetryInfo), UNAVAILABLE for a dependency outage, or INTERNAL with no
 * detail leaked for anything else. Batch RPCs put it in per-item results; {@link toServiceError} sends it as a call's status.
 * Texts are cut to {@link MAX_STATUS_TEXT} characters.
 */
export function toStatus(thrown: unknown): Status {
  const error = asDomainError(thrown);
  if (!(error instanceof DomainError)) return create(StatusSchema, { code: grpc.status.INTERNAL, message: 'internal error' });
  const details: Any[] = [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: error.reason, domain: ERROR_DOMAIN }))];
  if (error instanceof InvalidArgumentError) {
    details.push(
      anyPack(
        BadRequestSchema,
        create(BadRequestSchema, {
          fieldViolations: error.violations.map((v) => ({ field: clip(v.field, 256), description: clip(v.description) })),
        }),
      ),
    );
  } else if (error instanceof NotFoundError) {
    details.push(
      anyPack(
        ResourceInfoSchema,
        create(ResourceInfoSchema, { resourceType: error.resourceType, resourceName: clip(error.resourceName, 256) }),
      ),
    );
  } else if (error instanceof FailedPreconditionError && error.violations.length > 0) {
    details.push(
      anyPack(
        PreconditionFailureSchema,
        create(PreconditionFailureSchema, {
          violations: error.violations.map((v) => ({ type: v.type, subject: clip(v.subject, 256), description: clip(v.description) })),
        }),
      ),
    );
  } else if (error instanceof UnavailableError && error.retryAfterMs !== undefined) {
    const seconds = Math.floor(error.retryAfterMs / 1000);
    const nanos = (error.retryAfterMs % 1000) * 1e6;
    details.push(anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: { seconds: BigInt(seconds), nanos } })));
  }
  return create(StatusSchema, { code: error.code, message: clip(error.message), details });
}

/** Turns anything a handler threw into the error object grpc-js sends as the call's status. */
export function toServiceError(thrown: unknown): Partial<GrpcJs.ServiceError> {
  if (isServiceError(thrown)) return thrown;
  const error = asDomainError(thrown);
  if (!(error instanceof DomainError)) return { code: grpc.status.INTERNAL, details: 'internal error' };
  const status = toStatus(error);
  const metadata = new grpc.Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(toBinary(StatusSchema, status)));
  return { code: status.code, details: status.message, metadata };
}

/** Whether a value is already a gRPC status error (e.g. from a downstream call), passed on as is. */
export function isServiceError(error: unknown): error is GrpcJs.ServiceError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number' &&
    'metadata' in error &&
    (error as { metadata?: unknown }).metadata instanceof grpc.Metadata
  );
}

const detailRegistry = createRegistry(BadRequestSchema, ErrorInfoSchema, PreconditionFailureSchema, ResourceInfoSchema, RetryInfoSchema);

/** The rich details of a status error received by a client: field violations, reason, resource. */
export interface StatusDetails {
  code: number;
  message: string;
  reason?: string;
  fieldViolations: FieldViolation[];
  /** google.rpc.PreconditionFailure's violations; empty when there is none. */
  preconditionViolations: PreconditionViolation[];
  resource?: { type: string; name: string };
  retryDelayMs?: number;
}

/** Decodes `grpc-status-details-bin` of a client-side error; undefined when there is none. */
export function statusDetails(error: unknown): StatusDetails | undefined {
  if (!isServiceError(error)) return undefined;
  const raw = error.metadata.get(DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return undefined;
  return detailsOf(fromBinary(StatusSchema, raw));
}

/** The rich details of a google.rpc.Status (a per-item error inside a response, say). */
export function detailsOf(status: Status): StatusDetails {
  const out: StatusDetails = { code: status.code, message: status.message, fieldViolations: [], preconditionViolations: [] };
  for (const any of status.details) {
    const detail = anyUnpack(any, detailRegistry);
    if (isMessage(detail, BadRequestSchema)) {
      out.fieldViolations.push(...detail.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
    } else if (isMessage(detail, PreconditionFailureSchema)) {
      out.preconditionViolations.push(...detail.violations.map((v) => ({ type: v.type, subject: v.subject, description: v.description })));
    } else if (isMessage(detail, ErrorInfoSchema)) {
      out.reason = detail.reason;
    } else if (isMessage(detail, ResourceInfoSchema)) {
      out.resource = { type: detail.resourceType, name: detail.resourceName };
    } else if (isMessage(detail, RetryInfoSchema)) {
      out.retryDelayMs = Number(detail.retryDelay?.seconds ?? 0n) * 1000 + (detail.retryDelay?.nanos ?? 0) / 1e6;
    }
  }
  return out;
}
