import { AsyncLocalStorage } from 'node:async_hooks';
import type { GrpcJs } from './grpc-js.js';

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** The full method path, `/<package>.<Service>/<Method>`. */
  readonly method: string;
  /** Request metadata (headers) sent by the client. */
  readonly metadata: GrpcJs.Metadata;
  /** The client's deadline in epoch milliseconds, or undefined when it set none. */
  readonly deadline: number | undefined;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** The client's address. */
  readonly peer: string;
}

const scope = new AsyncLocalStorage<CallContext>();

/** Runs `fn` with `context` as the call in scope, so outgoing calls inherit its deadline. */
export function runInCall<T>(context: CallContext, fn: () => T): T {
  return scope.run(context, fn);
}

/**
 * Runs `fn` outside any served call and returns what it returns. Work that `fn` starts — promise
 * chains, timers, queued jobs, relay passes, lookups shared with later callers — sees no call in
 * scope, so its outgoing calls take their own timeouts instead of the deadline of the request that
 * happened to start it, and are not cut when that request ends. A handler uses it for anything that
 * outlives its call. The trace context is left as it is (OpenTelemetry keeps it apart), so spans of
 * the work still belong to the trace of the request that started it.
 */
export function detached<T>(fn: () => T): T {
  return scope.exit(fn);
}

/** The server call being handled by the current async flow, if any. */
export function currentCall(): CallContext | undefined {
  return scope.getStore();
}

/** Milliseconds left before the current call's deadline, or undefined when there is none. */
export function remainingMs(): number | undefined {
  const deadline = currentCall()?.deadline;
  return deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
}

/** Converts a grpc-js deadline (Date, epoch ms or Infinity) to epoch ms or undefined. */
export function deadlineMs(deadline: GrpcJs.Deadline): number | undefined {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}
