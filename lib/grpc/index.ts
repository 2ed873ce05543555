/**
 * The gRPC kit: serve and call protobuf-es service descriptors over @grpc/grpc-js, with server
 * reflection, grpc.health.v1, deadline propagation and one mapping of domain errors to statuses.
 */
export { grpc, type GrpcJs } from './grpc-js.js';
export { implement, mapErrors, type ServiceHandlers, type ServiceImplementation } from './handlers.js';
export { createGrpcServer, type GrpcServer, type GrpcServerOptions, type CallObserver, type CallRecord } from './server.js';
export { createGrpcClient, type ServiceClient, type CallOptions, type GrpcClientOptions } from './client.js';
export { currentCall, detached, remainingMs, type CallContext } from './context.js';
export {
  DomainError,
  InvalidArgumentError,
  NotFoundError,
  AlreadyExistsError,
  FailedPreconditionError,
  UnavailableError,
  ResourceExhaustedError,
  AbortedError,
  DataLossError,
  statusDetails,
  detailsOf,
  toStatus,
  asDomainError,
  isServiceError,
  type FieldViolation,
  type PreconditionViolation,
  type StatusDetails,
} from './errors.js';
export { dependencyOutage, socketFailure, type DependencyOutage } from './dependency-outage.js';
export { methodPath, encodeOnce, useMessageEncoder, useRequestDecoder, type Encoded } from './definition.js';
